"""Paging through a conversation's history and keeping the reader's place (issue 11's
chat view): the window of messages grows at the top as the user scrolls up and at the
bottom after scrolling back down, with what is on screen kept in place; so do resizes
and bubbles that change size; the "↓" button brings back the newest.
A mixin of `chat.ChatView`, whose widgets and state it uses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
from PyQt6.QtCore import QPoint, QTimer
from PyQt6.QtWidgets import QAbstractItemView, QListView, QPushButton

from securechat.client import SecureChatClient, StoredMessage
from securechat.ui.bridge import call
from securechat.ui.models.chat import ChatModel
from securechat.ui.models.roles import Roles


@attrs.frozen
class Place:
    """Where the reader is: at the bottom, or which message is at the top, how far up."""

    at_bottom: bool
    anchor_id: str | None
    offset: int


class ChatHistory:
    # ChatView's, used here
    client: SecureChatClient | None
    peer: str | None
    loading_page: bool
    view: QListView
    model: ChatModel
    latest_button: QPushButton
    error: Any  # pyqtSignal(str)
    page_loaded: Any  # pyqtSignal()

    if TYPE_CHECKING:  # ChatExtras' (declared here only: a stub would hide them)
        def _fetch_extras(self, messages: list[StoredMessage]) -> None: ...
        def scroll_to_newest(self) -> None: ...

    # --- the reading position -------------------------------------------------------------

    _resize_place: Place | None = None  # taken when a resize began, until it is restored

    def _place(self) -> Place:
        bar = self.view.verticalScrollBar()
        anchor = self.view.indexAt(QPoint(8, 8))
        if not anchor.isValid():
            return Place(bar.value() >= bar.maximum() - 4, None, 0)
        return Place(bar.value() >= bar.maximum() - 4, anchor.data(Roles.MESSAGE_ID),
                     self.view.visualRect(anchor).top())

    def _restore(self, place: Place) -> None:
        """Lay the rows out again, then back to `place`: the bottom if the reader was
        there, else the same message at the top, as far up as it was."""
        self.view.doItemsLayout()
        if place.at_bottom:
            self.view.scrollToBottom()
        elif place.anchor_id is not None:
            row = self.model.row_of(place.anchor_id)
            if row >= 0:
                self.view.scrollTo(self.model.index(row),
                                   QAbstractItemView.ScrollHint.PositionAtTop)
                bar = self.view.verticalScrollBar()
                bar.setValue(bar.value() - place.offset)
        self._update_latest_button()

    @contextlib.contextmanager
    def _reading_position(self) -> Iterator[None]:
        """Whatever changes size inside: the view stays at the bottom if it was there,
        else the message at the top of the view stays where it was."""
        place = self._place()
        yield
        self._restore(place)

    def keep_place_while_resizing(self) -> None:
        """The view is about to be resized (the window, the splitter): bubbles change
        height as they wrap anew, and the message being read stays where it was (the
        rows are laid out again after the resize; the place is taken before it)."""
        if self.model.rowCount() == 0 or self._resize_place is not None:
            return
        self._resize_place = self._place()
        QTimer.singleShot(0, self._resized)

    def _resized(self) -> None:
        place, self._resize_place = self._resize_place, None
        if place is not None:
            self._restore(place)

    # --- the "↓" button ---------------------------------------------------------------------

    def _place_latest_button(self) -> None:
        rect = self.view.rect()
        self.latest_button.move(rect.right() - 60, rect.bottom() - 56)

    def _update_latest_button(self) -> None:
        bar = self.view.verticalScrollBar()
        away = not self.model.at_end or bar.maximum() - bar.value() > self.view.height()
        self.latest_button.setVisible(away and self.model.rowCount() > 0)

    def to_latest(self) -> Any:
        """The "↓" button: the newest messages, at the bottom."""
        if self.model.at_end:
            self.view.scrollToBottom()
            return None
        return self.jump_to_latest()

    def _scrolled(self, value: int) -> None:
        bar = self.view.verticalScrollBar()
        self._update_latest_button()
        if not self.model.rowCount():
            return
        if value == bar.minimum():
            self.load_older()
        elif value == bar.maximum() and not self.model.at_end:
            self.load_newer()

    def load_older(self) -> Any:
        """Prepend the previous page, keeping what is on screen where it is."""
        if self.model.at_start:
            return None
        return self._load_page(before=self.model.oldest_key())

    def load_newer(self) -> Any:
        """Append the next page (after scrolling back, the window lost the newest)."""
        if self.model.at_end:
            return None
        return self._load_page(after=self.model.newest_key())

    def _load_page(self, before: tuple[int, str] | None = None,
                   after: tuple[int, str] | None = None) -> Any:
        if self.client is None or self.peer is None or self.loading_page:
            return None
        self.loading_page = True
        peer, generation = self.peer, self.model.generation

        def loaded(page: list[StoredMessage]) -> None:
            if self.model.generation != generation:
                return  # the window was reset meanwhile: this page is no longer next to it
            self.loading_page = False
            place = self._place()
            added = self.model.prepend(page) if after is None else self.model.append(page)
            self._fetch_extras(page)
            if added:  # the row that was at the top stays at the top, wherever rows went
                self._restore(Place(False, place.anchor_id, place.offset))
            self._update_latest_button()
            self.page_loaded.emit()

        def failed(message: str) -> None:
            if self.model.generation == generation:
                self.loading_page = False
            self.error.emit(message)

        return call(self.client.messages(peer, ChatModel.PAGE, before=before, after=after),
                    loaded, failed)

    def jump_to_latest(self) -> Any:
        """Back to the newest page (sending from far up in the history, say)."""
        if self.client is None or self.peer is None:
            return None
        peer, generation = self.peer, self.model.generation

        def loaded(messages: list[StoredMessage]) -> None:
            if self.model.generation == generation:
                self.model.reset(peer, messages)
                self._fetch_extras(messages)
                self.loading_page = False
                self.scroll_to_newest()
                self.page_loaded.emit()
        return call(self.client.messages(peer, ChatModel.PAGE), loaded, self.error.emit)
