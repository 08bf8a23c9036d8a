"""The signed-in window's content: sessions, friend requests, add contact and the chat."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer

from securechat.client import ConversationSummary, SecureChatClient, StoredMessage
from securechat.client import events as ev
from securechat.ui import strings as S
from securechat.ui.bridge import ClientBridge, call
from securechat.ui.delegates import SessionDelegate
from securechat.ui.models.roles import Roles
from securechat.ui.models.sessions import SessionFilterModel, SessionListModel
from securechat.ui.widgets.avatars import AvatarDecorations
from securechat.ui.widgets.contact_menu import Mutes, contact_menu
from securechat.ui.widgets.fields import flag_invalid, unflag
from securechat.ui.widgets.files import shown_text
from securechat.ui.widgets.history_progress import HistoryProgressBar
from securechat.ui.widgets.message_search import MessageSearchPanel
from securechat.ui.widgets.notifier import Notifier
from securechat.ui.widgets.requests import RequestsPanel
from securechat.ui.widgets.status import StatusLabel
from securechat.ui.windows.call import CallController
from securechat.ui.windows.chat import ChatView
from securechat.ui.windows.devices import DeviceNoticeBar
from securechat.ui.windows.linking import ApprovalDialog
from securechat.ui.windows.onboarding import EMAIL_RE
from securechat.ui.windows.profile import ProfileDialog

TYPING_DOTS_MS = 350  # one frame of the typing dots


class MainPage(QWidget):
    error = pyqtSignal(str)
    unread_total_changed = pyqtSignal(int)  # for the window title and the tray

    def __init__(self, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.last_chat: dict[str, str] = {}  # account's user id -> the chat it had open
        self.client: SecureChatClient | None = None
        self.bridge: ClientBridge | None = None
        self.notifier = notifier
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.device_notices = DeviceNoticeBar()
        self.device_notices.error.connect(self.error)
        layout.addWidget(self.device_notices)
        self.history_progress = HistoryProgressBar()  # issue 13
        layout.addWidget(self.history_progress)
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
        self.mutes = Mutes()  # the shell gives it its settings
        self.session_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.session_view.customContextMenuRequested.connect(
            lambda pos: (menu := self.session_menu(self.session_view.indexAt(pos)))
            and menu.exec(self.session_view.viewport().mapToGlobal(pos)))
        self.message_search = MessageSearchPanel(self.filtered.rowCount)  # issue 11
        self.search.textChanged.connect(self.message_search.text_changed)
        self.search.textChanged.connect(self._keep_selection)
        self.message_search.open_requested.connect(self.open_chat)
        self.message_search.error.connect(self.error)
        left_layout.addWidget(self.message_search)
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
        self.add_status = StatusLabel()  # errors in the error colour, "sent" muted
        self.add_status.setContentsMargins(8, 0, 8, 0)
        left_layout.addWidget(self.add_status)
        self.splitter.addWidget(left)
        # right: the chat
        self.chat = ChatView()
        self.chat.profile_requested.connect(self.show_profile)
        self.chat.error.connect(self.error)
        self.splitter.addWidget(self.chat)
        self.calls = CallController(self.chat.call_buttons, notifier, self)  # issue 15
        self.calls.error.connect(self.error)
        self.calls.logged.connect(self.chat.show_call_log)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 600])

    # --- wiring ---------------------------------------------------------------------------

    def set_client(self, client: SecureChatClient | None, bridge: ClientBridge | None) -> Any:
        if self.client is not None and self.chat.peer:  # reopened after the next unlock
            self.last_chat[self.client.me.user_id] = self.chat.peer
        self.client, self.bridge = client, bridge
        self.chat.set_client(client, bridge)
        self.calls.set_client(client)
        self.history_progress.set_client(client)
        AvatarDecorations.mount(self, client)
        self.message_search.set_client(client)
        self.add_email.clear()  # what one account typed is not the next one's
        unflag(self.add_email)
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
        bridge.message_edited.connect(lambda e: self.refresh_peer(e.peer_user_id))  # preview
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
        loaded = self.reload_contacts()
        peer = self.last_chat.get(client.me.user_id)
        if peer in client.contacts:
            self.open_chat(peer)
        return loaded

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
        focused = (self.chat.peer == peer and window is not None and window.isActiveWindow()
                   and self.chat.isVisible())  # not behind a screen lock
        if focused:
            self.sessions.update(peer, unread=0)
            return
        row = self.sessions.session(peer)
        if row is not None:
            self.sessions.update(peer, unread=row.unread + 1)
            if not (self.client and self.mutes.muted(self.client.me.user_id, peer)):
                self.notifier.message(row.name, shown_text(event.message),  # a file: its name
                                      self.avatars.pixmap(peer, 64) if self.avatars else None)

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

    def _keep_selection(self, _text: str) -> None:
        """Filtering the list keeps the open conversation highlighted where it shows (as
        a selection only: the chat is not opened again)."""
        if not self.chat.peer:
            return
        source = self.sessions.index(self.sessions.row_for(self.chat.peer))
        proxy = self.filtered.mapFromSource(source)
        if proxy.isValid():
            self.session_view.selectionModel().select(
                proxy, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def session_menu(self, index: QModelIndex) -> QMenu | None:
        """Mute, block: the menu of a conversation in the list."""
        peer = index.data(Roles.PEER) if index.isValid() else None
        if self.client is None or not peer:
            return None
        return contact_menu(self, self.client, peer, self.mutes, self.error.emit)

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
        if not EMAIL_RE.match(email):  # named as invalid, not "no such account"
            self.add_status.setText(S.EMAIL_INVALID)
            flag_invalid(self.add_email)
            return None
        self.add_button.setEnabled(False)

        def sent(request: Any) -> None:
            self.add_button.setEnabled(True)
            self.add_email.clear()
            # the address as the account has it, not as typed ("Bob@Example.org")
            self.add_status.show_news(S.REQUEST_SENT.format(email=request.email))
            self.requests.refresh()  # mine shows as waiting

        def failed(message: str) -> None:
            self.add_button.setEnabled(True)
            self.add_status.setText(message)

        return call(self.client.add_friend(email), sent, failed)

    def show_profile(self, peer: str) -> ProfileDialog | None:
        if self.client is None or peer not in self.client.contacts:
            return None
        client = self.client
        contact = client.contacts[peer]
        dialog = ProfileDialog(contact, client.safety_number(peer), client.safety_qr(peer), self,
                               self.avatars.pixmap(peer, 96) if self.avatars else None)
        dialog.alias_changed.connect(
            lambda alias: call(client.set_alias(peer, alias), failed=dialog.show_error))
        call(client.notes(peer), lambda notes: dialog.show_notes(notes))
        dialog.notes_changed.connect(
            lambda notes: call(client.set_notes(peer, notes), failed=dialog.show_error))
        dialog.verified_changed.connect(
            lambda verified: call(client.set_verified(peer, verified),
                                  lambda _: dialog.verified_settled(),
                                  failed=dialog.verified_refused))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog
