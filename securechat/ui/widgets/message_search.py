"""Message search in the sidebar: as the user types in the search box, the messages
of every conversation that hold those words (client.search, FTS5), newest first, under
the matching conversations; "No results" when neither a contact nor a message matches.
Clicking a hit opens its conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from securechat.client import SearchHit, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.format import short_time
from securechat.ui.plaintext import plain_label, plain_tooltip
from securechat.ui.widgets.files import shown_text

MIN_CHARS = 2  # a single letter would match half the history
DELAY_MS = 250  # typing pauses this long before a search runs
LIMIT = 50


class MessageSearchPanel(QWidget):
    searched = pyqtSignal()  # results (or "No results") are shown for the current text
    open_requested = pyqtSignal(str)  # the peer whose conversation a hit is in
    error = pyqtSignal(str)

    def __init__(self, contacts_shown: Callable[[], int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: SecureChatClient | None = None
        self.contacts_shown = contacts_shown
        self.text = ""
        self.hits: list[SearchHit] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 8, 0)
        self.title = QLabel(f"<b>{S.SEARCH_MESSAGES}</b>")
        self.list = QListWidget()
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMaximumHeight(240)
        self.list.itemActivated.connect(self._open)
        self.list.itemClicked.connect(self._open)
        self.no_results = plain_label(S.NO_RESULTS)
        self.no_results.setObjectName("muted")
        for widget in (self.title, self.list, self.no_results):
            layout.addWidget(widget)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.timeout.connect(self.run)
        self.hide()

    def set_client(self, client: SecureChatClient | None) -> None:
        self.client = client
        self.text = ""
        self._soon.stop()
        self._show([])

    def text_changed(self, text: str) -> None:
        self.text = text.strip()
        self._soon.start(DELAY_MS)

    def run(self) -> Any:
        """Search now for the current text."""
        self._soon.stop()
        client, text = self.client, self.text
        if client is None or len(text) < MIN_CHARS:
            self._show([])
            return None

        def found(hits: list[SearchHit]) -> None:
            if self.client is client and self.text == text:  # not typed on meanwhile
                self._show(hits)

        return call(client.search.messages(text, LIMIT), found, self.error.emit)

    def _show(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self.list.clear()
        client = self.client
        for hit in hits:
            contact = client.contacts.get(hit.peer_user_id) if client else None
            name = contact.display_name if contact else hit.peer_user_id
            line = " ".join(shown_text(hit.message).split())  # a file: its name
            who = S.ME_AUTHOR if hit.message.from_me else name
            item = QListWidgetItem(f"{who}: {line[:300]}")  # a QListWidget item is plain
            item.setToolTip(plain_tooltip(
                f"{name} · {short_time(hit.message.timestamp)}\n{line[:1000]}"))
            item.setData(Qt.ItemDataRole.UserRole, hit.peer_user_id)
            self.list.addItem(item)
        searching = len(self.text) >= MIN_CHARS and client is not None
        self.title.setVisible(bool(hits))
        self.list.setVisible(bool(hits))
        nothing = searching and not hits and self.contacts_shown() == 0
        self.no_results.setVisible(nothing)
        self.setVisible(bool(hits) or nothing)
        if searching:
            self.searched.emit()

    def _open(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))
