"""What a conversation view does beyond showing and sending messages (issue 11):
reactions and edits as they come, links that show their address before opening,
unsend that asks first, and keeping the reading position while bubbles change size.
A mixin of `chat.ChatView`, whose widgets and state it uses."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QPoint, Qt, QTimer
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import (
    QListView,
    QMenu,
    QMessageBox,
    QStyleOptionViewItem,
    QWidget,
)

from securechat.client import MessageType, SecureChatClient, StoredMessage
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.delegates import BubbleDelegate
from securechat.ui.format import short_time
from securechat.ui.models.chat import ChatModel
from securechat.ui.models.roles import Roles
from securechat.ui.widgets.confirm import Question, ask
from securechat.ui.widgets.emoji import reaction_menu
from securechat.ui.widgets.files import shown_text
from securechat.ui.widgets.links import find_urls, open_link


class ChatExtras:
    # ChatView's, used here
    client: SecureChatClient | None
    peer: str | None
    view: QListView
    model: ChatModel
    delegate: BubbleDelegate
    question: Question | None
    versions_box: QMessageBox | None = None  # the last edit history shown
    error: Any  # pyqtSignal(str)

    def _sid(self) -> str | None: ...
    def _update_latest_button(self) -> None: ...
    if TYPE_CHECKING:  # ChatHistory's (declared here only: a stub would hide it)
        def _reading_position(self) -> AbstractContextManager[None]: ...
    def cancel_reply(self) -> None: ...
    def start_reply(self, message: StoredMessage) -> None: ...

    def scroll_to_newest(self) -> None:
        """The newest message whole at the bottom: the rows are laid out first (their
        sizes are only known then), and again once the view has settled."""
        self.view.doItemsLayout()
        self.view.scrollToBottom()
        QTimer.singleShot(0, self.view.scrollToBottom)
        self._update_latest_button()

    def ask_to_open(self, url: str) -> Question:
        """A link: its whole address is shown before the browser opens it."""
        assert isinstance(self, QWidget)
        self.question = open_link(self, url)
        return self.question

    def link_at(self, pos: QPoint) -> str | None:
        """The link under `pos` (viewport coordinates), if any."""
        index = self.view.indexAt(pos)
        if not index.isValid():
            return None
        option = QStyleOptionViewItem()
        option.initFrom(self.view)
        option.rect = self.view.visualRect(index)
        option.font = self.view.font()
        return self.delegate.link_at(option, index, pos)

    # --- reactions and edits ----------------------------------------------------------------

    def _fetch_extras(self, messages: list[StoredMessage]) -> None:
        """Reactions and edited marks of a page that just came in."""
        if self.client is None or self.peer is None or not messages:
            return
        generation = self.model.generation

        def got(found: dict[str, Any]) -> None:
            if self.model.generation == generation:
                with self._reading_position():
                    self.model.set_extras(found)
        call(self.client.actions.extras(self.peer, [m.id for m in messages]), got,
             self.error.emit)

    def _reaction_changed(self, event: Any) -> None:
        if event.sid == self._sid():
            with self._reading_position():
                self.model.set_reaction(event.message_id, event.reactor, event.emoji)

    def _edited(self, event: Any) -> None:
        if event.sid == self._sid():
            with self._reading_position():
                self.model.set_text(event.message_id, event.text)

    def react(self, message_id: str, emoji: str) -> Any:
        assert self.client is not None
        return call(self.client.actions.react(message_id, emoji), failed=self.error.emit)

    def start_edit(self, message: StoredMessage) -> None:
        """The composer takes the message's text; sending replaces it (Escape cancels)."""
        self.cancel_reply()
        self.editing = message
        self.composer.setPlainText(message.text)
        self.composer.moveCursor(self.composer.textCursor().MoveOperation.End)
        self.reply_label.setText(S.EDITING.format(text=message.text))
        self.reply_bar.show()
        self.composer.setFocus()

    def confirm_unsend(self, message_id: str) -> Question:
        """Unsend asks first: it cannot be taken back."""
        assert isinstance(self, QWidget)
        self.question = ask(self, S.UNSEND_CONFIRM_TITLE, S.UNSEND_CONFIRM_BODY, S.UNSEND,
                            lambda: self.unsend(message_id))
        return self.question

    # --- a message's menu ------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        menu = self.context_menu(index.row())
        viewport = self.view.viewport()
        assert viewport is not None
        menu.exec(viewport.mapToGlobal(pos))

    def context_menu(self, row: int) -> QMenu:
        message = self.model.message(row)
        assert isinstance(self, QWidget)
        menu = QMenu(self)
        if self.model.index(row).data(Roles.SYSTEM) or self.model.index(row).data(
                Roles.DELETED):  # nothing to quote, edit or react to: only delete for me
            menu.addAction(S.DELETE_FOR_ME, lambda: self.delete(message.id))
            return menu
        menu.addAction(S.REPLY, lambda: self.start_reply(message))
        mine = self.model.index(row).data(Roles.MY_REACTION) or ""
        menu.addMenu(reaction_menu(menu, mine, lambda e: self.react(message.id, e)))
        if message.from_me and message.type == MessageType.TEXT:  # a file's is its JSON
            menu.addAction(S.EDIT, lambda: self.start_edit(message))
        if self.model.index(row).data(Roles.EDITED):
            menu.addAction(S.EDIT_HISTORY_ACTION, lambda: self.show_versions(message.id))
        text = shown_text(message)  # what the bubble shows (a file: its name, caption)
        menu.addAction(S.COPY, lambda: QGuiApplication.clipboard().setText(text))
        for _, _, url in find_urls(text)[:3]:  # the full address, then asked again
            shown = url if len(url) <= 60 else url[:59] + "…"
            shown = shown.replace("&", "&&")  # a menu reads "&b" as a shortcut: shown as typed
            menu.addAction(f"{S.OPEN_LINK}: {shown}", lambda u=url: self.ask_to_open(u))
        menu.addSeparator()
        menu.addAction(S.DELETE_FOR_ME, lambda: self.delete(message.id))
        if message.from_me:
            menu.addAction(S.UNSEND, lambda: self.confirm_unsend(message.id))
        return menu

    def show_versions(self, message_id: str) -> Any:
        """An edited message's earlier versions, the original first (plain text)."""
        assert self.client is not None and isinstance(self, QWidget)
        parent = self

        def got(versions: list[tuple[int, str]]) -> None:
            lines = [f"{short_time(at)}  {text[:500]}" for at, text in versions[:-1]]
            box = QMessageBox(QMessageBox.Icon.Information, S.EDIT_HISTORY_ACTION,
                              S.EDIT_HISTORY.format(versions="\n".join(lines)),
                              QMessageBox.StandardButton.Close, parent)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.versions_box = box
            box.open()
        return call(self.client.actions.versions(message_id), got, self.error.emit)

    def delete(self, message_id: str) -> Any:
        """Delete for me: this device only."""
        assert self.client is not None
        return call(self.client.delete_message(message_id), failed=self.error.emit)

    def unsend(self, message_id: str) -> Any:
        """Delete for everyone: one of my messages, on every device."""
        assert self.client is not None
        return call(self.client.unsend_message(message_id), failed=self.error.emit)
