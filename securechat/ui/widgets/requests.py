"""The friend requests panel: pending incoming requests, each with Accept and Deny, and
my own requests that wait because the other side's key changed."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QSize, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import Request, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.confirm import Question, ask
from securechat.ui.widgets.elided import ElidedLabel


class RequestRow(QWidget):
    """One friend request: the sender's self-chosen name (marked as such) above their
    email, shown literally, and a warning if their key changed since they asked."""

    def __init__(self, request: Request, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        incoming = request.direction == "in"
        named = bool(request.name) and incoming
        # A long name ends in "…" at the row's edge (whole in its tooltip); the email
        # below is always whole.
        name_row = QHBoxLayout()
        self.name_label = ElidedLabel(request.name if incoming else "")
        self.name_label.setVisible(named)
        self.chosen_label = plain_label(f"({S.REQUEST_NAME_CHOSEN})")
        self.chosen_label.setObjectName("muted")
        self.chosen_label.setVisible(named)
        name_row.addWidget(self.name_label, 1)
        name_row.addWidget(self.chosen_label)
        layout.addLayout(name_row)
        self.email_label = plain_label(request.email)
        self.email_label.setWordWrap(True)
        layout.addWidget(self.email_label)
        self.warning_label = plain_label(
            S.REQUEST_KEY_CHANGED if incoming
            else S.REQUEST_OUT_KEY_CHANGED.format(email=request.email))
        self.warning_label.setWordWrap(True)
        self.warning_label.setObjectName("error")
        self.warning_label.setVisible(request.key_changed)
        layout.addWidget(self.warning_label)
        # my own request, still unanswered: I see that it waits
        self.waiting_label = plain_label(S.REQUEST_WAITING)
        self.waiting_label.setObjectName("muted")
        self.waiting_label.setVisible(not incoming and not request.key_changed)
        layout.addWidget(self.waiting_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.accept_button = primary_button(S.ACCEPT)
        self.deny_button = QPushButton(S.DENY)
        self.block_button = QPushButton(S.BLOCK)
        self.block_button.setToolTip(S.BLOCK_HELP)
        for button in (self.accept_button, self.deny_button, self.block_button):
            button.setVisible(incoming)
            buttons.addWidget(button)
        layout.addLayout(buttons)


class RequestsPanel(QFrame):
    """Pending incoming friend requests, each with Accept and Deny; and my own requests
    that wait because the other side's key changed."""

    rendered = pyqtSignal()  # the list shows the pending requests
    error = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: SecureChatClient | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.title = QLabel(f"<b>{S.REQUESTS_TITLE}</b>")
        layout.addWidget(self.title)
        self.list = QListWidget()
        self.list.setMaximumHeight(220)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Rows are as wide as the list shows them (their buttons at its right edge), so
        # they are fitted again whenever the list's width changes.
        self.list.viewport().installEventFilter(self)
        layout.addWidget(self.list)
        self.pending: list[Request] = []
        self.waiting: list[Request] = []  # mine, not answered yet
        self.question: Question | None = None  # the last confirmation asked
        self.hide()

    def refresh(self) -> Any:
        if self.client is None:
            self.pending = []
            self._render()
            return None

        def got(requests: list[Request]) -> None:
            self.pending = [r for r in requests if r.action == "pending"
                            and (r.direction == "in" or r.key_changed)]
            self.waiting = [r for r in requests if r.action == "pending"
                            and r.direction == "out" and not r.key_changed]
            self._render()
        return call(self.client.requests(), got, self.error.emit)

    def _render(self) -> None:
        self.list.clear()
        for request in self.pending + self.waiting:
            item = QListWidgetItem()
            row = RequestRow(request)
            row.accept_button.clicked.connect(
                lambda _=False, u=request.user_id: self.answer(u, True))
            row.deny_button.clicked.connect(
                lambda _=False, r=request: self.confirm_deny(r))
            row.block_button.clicked.connect(
                lambda _=False, r=request: self.confirm_block(r))
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
        self.setVisible(bool(self.pending or self.waiting))
        self._fit_rows()
        self.rendered.emit()

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if watched is self.list.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_rows()
        return False

    def _fit_rows(self) -> None:
        width = max(self.list.viewport().width() - 4, 120)
        for index in range(self.list.count()):
            item = self.list.item(index)
            row = self.list.itemWidget(item)
            height = max(row.sizeHint().height(),
                         row.heightForWidth(width) if row.hasHeightForWidth() else 0)
            item.setSizeHint(QSize(width, height))

    def confirm_deny(self, request: Request) -> Question:
        self.question = ask(self, S.DENY_CONFIRM_TITLE,
                            S.DENY_CONFIRM_BODY.format(email=request.email), S.DENY,
                            lambda: self.answer(request.user_id, False))
        return self.question

    def confirm_block(self, request: Request) -> Question:
        """Deny, and drop whatever they send from now on (a new request too)."""
        self.question = ask(self, S.BLOCK_CONFIRM_TITLE,
                            S.BLOCK_CONFIRM_BODY.format(email=request.email), S.BLOCK,
                            lambda: self.block(request.user_id))
        return self.question

    def block(self, user_id: str) -> Any:
        assert self.client is not None
        client = self.client
        d = client.block(user_id).addCallback(lambda _: client.deny_friend(user_id))
        return call(d, lambda _: self.refresh(), self.error.emit)

    def answer(self, user_id: str, accept: bool) -> Any:
        assert self.client is not None
        d = self.client.accept_friend(user_id) if accept else self.client.deny_friend(user_id)

        return call(d, lambda _: self.refresh(), self.error.emit)
