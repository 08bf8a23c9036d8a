"""The signed-in window's content: sessions, friend requests, add contact, the chat,
the connection indicator and desktop notifications."""

from __future__ import annotations

from collections import deque
from typing import Any

from PyQt6.QtCore import QEvent, QModelIndex, QObject, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer

from securechat.client import events as ev
from securechat.client.core import SecureChatClient
from securechat.client.model import ConversationSummary, Request, StoredMessage
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.bridge import ClientBridge, call
from securechat.ui.delegates import SessionDelegate
from securechat.ui.models import Roles, SessionFilterModel, SessionListModel
from securechat.ui.plaintext import make_plain, plain_label, plain_notification, plain_tooltip
from securechat.ui.windows.chat import ChatView
from securechat.ui.windows.devices import DeviceNoticeBar
from securechat.ui.windows.linking import ApprovalDialog
from securechat.ui.windows.profile import ProfileDialog

TYPING_DOTS_MS = 350  # one frame of the typing dots


def app_icon() -> QIcon:
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(theme.LIGHT.accent))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(2, 2, 60, 60)
    font = QFont()
    font.setPixelSize(34)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("#ffffff"))
    p.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "S")
    p.end()
    return QIcon(pixmap)


class Notifier(QObject):
    """Desktop notifications through the tray icon, where the desktop has a tray.

    What they reveal is the user's choice (as in Signal): sender and text, the sender
    only, or nothing but that something arrived: a notification is on screen for
    whoever stands nearby, and desktop notification daemons may keep a history."""

    FULL, NAME_ONLY, NOTHING = "full", "name", "none"
    SHOWN_KEPT = 50
    activated = pyqtSignal()
    quit_requested = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # what was notified, newest last: the last SHOWN_KEPT only, forgotten on lock
        self.shown: deque[tuple[str, str]] = deque(maxlen=self.SHOWN_KEPT)
        self.content = self.FULL
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip(S.APP_NAME)
            self.tray.activated.connect(lambda _reason: self.activated.emit())
            self.tray.messageClicked.connect(self.activated)
            self.menu = QMenu()
            self.menu.addAction(S.TRAY_SHOW, self.activated.emit)
            self.menu.addAction(S.ACTION_QUIT.replace("&", ""), self.quit_requested.emit)
            self.tray.setContextMenu(self.menu)
            self.tray.show()

    def message(self, name: str, text: str) -> None:
        # A name and a text chosen by others: never markup to a notification daemon.
        name, text = plain_notification(name), plain_notification(text)
        if self.content == self.FULL:
            self.notify(S.NOTIFY_MESSAGE.format(name=name), text)
        elif self.content == self.NAME_ONLY:
            self.notify(S.NOTIFY_MESSAGE.format(name=name), S.NOTIFY_HIDDEN_TEXT)
        else:
            self.notify(S.APP_NAME, S.NOTIFY_SOMETHING_NEW)

    def request(self, email: str) -> None:
        if self.content == self.NOTHING:
            self.notify(S.APP_NAME, S.NOTIFY_SOMETHING_NEW)
        else:
            self.notify(S.NOTIFY_REQUEST,
                        S.NOTIFY_REQUEST_BODY.format(email=plain_notification(email)))

    def clear(self) -> None:
        """Forget what was notified (the account is locked)."""
        self.shown.clear()

    def notify(self, title: str, body: str) -> None:
        self.shown.append((title, body))
        if self.tray is not None:
            self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 5000)


class ConnectionIndicator(QWidget):
    """connecting / online / offline with the retry countdown and a "Retry now" button."""

    retry_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = make_plain(QLabel(S.CONN_CONNECTING))  # the reason comes from the relay
        self.retry_button = QPushButton(S.CONN_RETRY_NOW)
        self.retry_button.setFlat(True)
        self.retry_button.clicked.connect(self.retry_requested)
        self.retry_button.hide()
        layout.addWidget(self.label)
        layout.addWidget(self.retry_button)
        self._retry_left = 0
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    def text(self) -> str:
        return self.label.text()

    def show_state(self, event: ev.ConnectionStateChanged) -> None:
        self._timer.stop()
        t = theme.current()
        colour = {"online": t.online, "connecting": t.muted}.get(event.state, "#dc2626")
        self.label.setStyleSheet(f"color: {colour}; padding: 0 8px;")
        waiting = event.state == "offline" and bool(event.retry_in)
        self.retry_button.setVisible(waiting)
        if event.state == "online":
            self.label.setText("● " + S.CONN_ONLINE)
        elif event.state == "connecting":
            self.label.setText("● " + S.CONN_CONNECTING)
        elif event.state == "failed":
            self.label.setText("● " + S.CONN_FAILED.format(reason=event.reason or ""))
        elif waiting:
            self._retry_left = max(1, round(event.retry_in or 0))
            self.label.setText("● " + S.CONN_RETRY.format(seconds=self._retry_left))
            self._timer.start()
        else:
            self.label.setText("● " + S.CONN_OFFLINE)

    def _tick(self) -> None:
        self._retry_left -= 1
        if self._retry_left <= 0:
            self._timer.stop()
            self.label.setText("● " + S.CONN_CONNECTING)
        else:
            self.label.setText("● " + S.CONN_RETRY.format(seconds=self._retry_left))


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
        # A long name is cut at the row's edge; the email below is always whole.
        name_row = QHBoxLayout()
        self.name_label = plain_label(request.name if incoming else "")
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.name_label.setToolTip(plain_tooltip(request.name))
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
        self.warning_label.setStyleSheet("color: #dc2626")
        self.warning_label.setVisible(request.key_changed)
        layout.addWidget(self.warning_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.accept_button = QPushButton(S.ACCEPT)
        self.accept_button.setProperty("primary", True)
        self.deny_button = QPushButton(S.DENY)
        for button in (self.accept_button, self.deny_button):
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
        self.hide()

    def refresh(self) -> Any:
        if self.client is None:
            self.pending = []
            self._render()
            return None

        def got(requests: list[Request]) -> None:
            self.pending = [r for r in requests if r.action == "pending"
                            and (r.direction == "in" or r.key_changed)]
            self._render()
        return call(self.client.requests(), got, self.error.emit)

    def _render(self) -> None:
        self.list.clear()
        for request in self.pending:
            item = QListWidgetItem()
            row = RequestRow(request)
            row.accept_button.clicked.connect(
                lambda _=False, u=request.user_id: self.answer(u, True))
            row.deny_button.clicked.connect(
                lambda _=False, u=request.user_id: self.answer(u, False))
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
        self.setVisible(bool(self.pending))
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

    def answer(self, user_id: str, accept: bool) -> Any:
        assert self.client is not None
        d = self.client.accept_friend(user_id) if accept else self.client.deny_friend(user_id)

        return call(d, lambda _: self.refresh(), self.error.emit)


class MainPage(QWidget):
    error = pyqtSignal(str)
    unread_total_changed = pyqtSignal(int)  # for the window title and the tray

    def __init__(self, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: SecureChatClient | None = None
        self.bridge: ClientBridge | None = None
        self.notifier = notifier
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.device_notices = DeviceNoticeBar()
        self.device_notices.error.connect(self.error)
        layout.addWidget(self.device_notices)
        self.splitter = QSplitter()
        layout.addWidget(self.splitter, 1)
        # left: search, sessions, requests, add contact
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 8, 0, 8)
        self.search = QLineEdit()
        self.search.setPlaceholderText(S.SEARCH)
        self.search.setClearButtonEnabled(True)
        search_row = QHBoxLayout()
        search_row.setContentsMargins(8, 0, 8, 0)
        search_row.addWidget(self.search)
        left_layout.addLayout(search_row)
        self.sessions = SessionListModel(self)
        self.unread_total = 0
        self.sessions.unread_changed.connect(self._unread_changed)
        self.filtered = SessionFilterModel(self)
        self.filtered.setSourceModel(self.sessions)
        self.search.textChanged.connect(self.filtered.setFilterFixedString)
        self.session_view = QListView()
        self.session_view.setModel(self.filtered)
        self.session_view.setItemDelegate(SessionDelegate(self.session_view))
        self.session_view.setMouseTracking(True)
        self.session_view.setUniformItemSizes(True)  # rows are SessionDelegate.HEIGHT high
        self.session_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.session_view.selectionModel().currentChanged.connect(self._selected)
        left_layout.addWidget(self.session_view, 1)
        self._typing_dots = QTimer(self)
        self._typing_dots.setInterval(TYPING_DOTS_MS)
        self._typing_dots.timeout.connect(self._step_typing_dots)
        # a new account has no conversations yet: say how to start one
        self.empty_hint = QLabel(S.NO_CONVERSATIONS, self.session_view.viewport())
        self.empty_hint.setObjectName("muted")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setGeometry(16, 24, 260, 80)
        for signal in (self.sessions.rowsInserted, self.sessions.rowsRemoved,
                       self.sessions.modelReset):
            signal.connect(self._show_empty_hint)
        self.requests = RequestsPanel()
        self.requests.error.connect(self.error)
        left_layout.addWidget(self.requests)
        add_row = QHBoxLayout()
        add_row.setContentsMargins(8, 0, 8, 0)
        self.add_email = QLineEdit()
        self.add_email.setPlaceholderText(S.ADD_CONTACT_PLACEHOLDER)
        self.add_email.returnPressed.connect(self.add_contact)
        self.add_button = QPushButton(S.ADD_CONTACT)
        self.add_button.clicked.connect(self.add_contact)
        add_row.addWidget(self.add_email, 1)
        add_row.addWidget(self.add_button)
        left_layout.addLayout(add_row)
        self.add_status = plain_label()
        self.add_status.setObjectName("muted")
        self.add_status.setWordWrap(True)
        self.add_status.setContentsMargins(8, 0, 8, 0)
        left_layout.addWidget(self.add_status)
        self.splitter.addWidget(left)
        # right: the chat
        self.chat = ChatView()
        self.chat.profile_requested.connect(self.show_profile)
        self.chat.error.connect(self.error)
        self.splitter.addWidget(self.chat)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 600])

    # --- wiring ---------------------------------------------------------------------------

    def set_client(self, client: SecureChatClient | None, bridge: ClientBridge | None) -> Any:
        self.client, self.bridge = client, bridge
        self.chat.set_client(client, bridge)
        self.requests.client = client
        self.device_notices.set_client(client)
        self.sessions.set_contacts([])
        self.search.clear()
        self.add_status.clear()
        if client is None:
            self.notifier.clear()  # locked: what was notified is not for the next user
        if bridge is None:
            self.requests.refresh()
            return None
        bridge.message_received.connect(self._received)
        bridge.message_sent.connect(lambda e: self._last(e.message))
        bridge.message_deleted.connect(lambda e: self._refresh_peer_by_sid(e.sid))
        bridge.messages_read.connect(lambda e: self.refresh_peer(e.peer_user_id))
        bridge.typing_changed.connect(self._typing_changed)
        bridge.presence_changed.connect(lambda p, o: self.sessions.update(p, online=o))
        bridge.request_received.connect(self._request_received)
        bridge.request_answered.connect(self._request_answered)
        bridge.contacts_changed.connect(self.reload_contacts)
        # A request accepted elsewhere (another device, the CLI) leaves the list too.
        bridge.contacts_changed.connect(lambda *_: self.requests.refresh())
        bridge.identity_changed.connect(self._identity_changed)
        bridge.device_added.connect(self._device_changed)
        bridge.device_removed.connect(self._device_changed)
        bridge.approval_requested.connect(self._approval_requested)
        self.requests.refresh()
        return self.reload_contacts()

    def _approval_requested(self, event: Any) -> None:
        """A new device of this account asks to join: the dialog compares codes."""
        if self.client is None:
            return
        dialog = ApprovalDialog(self.client, event.device_id, self)
        self.approval_dialog = dialog  # the newest one (for tests and tooling)
        dialog.show()

    def reload_contacts(self) -> Any:
        """Rows for the client's contacts, with last message and unread count each."""
        if self.client is None or self.bridge is None:
            return None
        client, bridge = self.client, self.bridge
        self.sessions.set_contacts(list(client.contacts.values()), bridge.is_online)

        def summarised(summaries: dict[str, ConversationSummary]) -> None:
            if self.client is not client:
                return  # locked or switched meanwhile
            self.sessions.apply_summaries(summaries)

        def failed(message: str) -> None:
            if self.client is client:
                self.error.emit(message)
        return call(client.summaries(), summarised, failed)

    def refresh_peer(self, peer: str) -> Any:
        if self.client is None:
            return defer.succeed(None)
        client = self.client

        def last(messages: list[StoredMessage]) -> None:
            if self.client is client:  # not locked or switched meanwhile
                self.sessions.set_last(peer, messages[-1] if messages else None)

        def unread(count: int) -> None:
            if self.client is client:
                self.sessions.update(peer, unread=count)

        return defer.gatherResults([call(client.messages(peer, 1), last),
                                    call(client.unread_count(peer), unread)],
                                   consumeErrors=True)

    def _refresh_peer_by_sid(self, sid: str) -> None:
        peer = self.sessions.peer_for_sid(sid)
        if peer is not None:
            self.refresh_peer(peer)

    def _last(self, message: StoredMessage) -> None:
        peer = self.sessions.peer_for_sid(message.sid)
        row = self.sessions.session(peer) if peer is not None else None
        if peer is not None and row is not None and message.timestamp >= row.last_timestamp:
            self.sessions.set_last(peer, message)

    def _received(self, event: ev.MessageReceived) -> None:
        peer = event.peer_user_id
        self._last(event.message)
        window = self.window()
        focused = (self.chat.peer == peer and window is not None and window.isActiveWindow())
        if focused:
            self.sessions.update(peer, unread=0)
            return
        row = self.sessions.session(peer)
        if row is not None:
            self.sessions.update(peer, unread=row.unread + 1)
            self.notifier.message(row.name, event.message.text)

    def _identity_changed(self, event: ev.IdentityKeyChanged) -> None:
        if event.request:
            self.requests.refresh()  # "their key changed since they asked"
        else:
            self.reload_contacts()

    def _device_changed(self, event: ev.DeviceAdded | ev.DeviceRemoved) -> None:
        if event.own:
            self.device_notices.refresh()
        elif event.notice is not None:
            self._last(event.notice)

    def _request_answered(self, _event: ev.FriendRequestAnswered) -> None:
        self.add_status.clear()  # "request sent" is no longer news
        self.requests.refresh()

    def _typing_changed(self, peer: str, typing: bool) -> None:
        self.sessions.update(peer, typing=typing)
        if typing and not self._typing_dots.isActive():
            self._typing_dots.start()

    def _step_typing_dots(self) -> None:
        if not self.sessions.advance_typing():
            self._typing_dots.stop()  # nobody types: no timer wakes the loop

    def _show_empty_hint(self, *_: Any) -> None:
        self.empty_hint.setVisible(self.sessions.rowCount() == 0)

    def _unread_changed(self, total: int) -> None:
        if total != self.unread_total:
            self.unread_total = total
            self.unread_total_changed.emit(total)

    def _request_received(self, event: ev.FriendRequestReceived) -> None:
        self.requests.refresh()
        self.notifier.request(event.email)

    # --- actions --------------------------------------------------------------------------

    def _selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        peer = current.data(Roles.PEER) if current.isValid() else None
        if peer:
            self.open_chat(peer)

    def open_chat(self, peer: str) -> Any:
        self.sessions.update(peer, unread=0)
        source = self.sessions.index(self.sessions.row_for(peer))
        proxy = self.filtered.mapFromSource(source)
        if proxy.isValid() and self.session_view.currentIndex() != proxy:
            self.session_view.setCurrentIndex(proxy)  # comes back through _selected
            return None
        return self.chat.open_peer(peer)

    def select_relative(self, step: int) -> None:
        """The next (1) or previous (-1) conversation in the list, as shown."""
        rows = self.filtered.rowCount()
        if not rows:
            return
        current = self.session_view.currentIndex()
        row = current.row() + step if current.isValid() else (0 if step > 0 else rows - 1)
        if 0 <= row < rows:
            self.session_view.setCurrentIndex(self.filtered.index(row, 0))

    def add_contact(self) -> Any:
        if self.client is None:
            return None
        email = self.add_email.text().strip()
        if not email:
            return None
        self.add_button.setEnabled(False)

        def sent(_: Any) -> None:
            self.add_button.setEnabled(True)
            self.add_email.clear()
            self.add_status.setText(S.REQUEST_SENT.format(email=email))

        def failed(message: str) -> None:
            self.add_button.setEnabled(True)
            self.add_status.setText(message)

        return call(self.client.add_friend(email), sent, failed)

    def show_profile(self, peer: str) -> ProfileDialog | None:
        if self.client is None or peer not in self.client.contacts:
            return None
        client = self.client
        contact = client.contacts[peer]
        dialog = ProfileDialog(contact, client.safety_number(peer), client.safety_qr(peer), self)
        dialog.alias_changed.connect(
            lambda alias: call(client.set_alias(peer, alias), failed=dialog.show_error))
        dialog.verified_changed.connect(
            lambda verified: call(client.set_verified(peer, verified),
                                  lambda _: dialog.verified_settled(),
                                  failed=dialog.verified_refused))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog
