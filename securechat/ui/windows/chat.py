"""One conversation: bubbles painted by a delegate over ChatModel, the composer, the
typing indicator, the key-change banner and infinite scroll back through history."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer

from securechat.client import MAX_MESSAGE_LENGTH, SecureChatClient, StoredMessage
from securechat.ui import strings as S
from securechat.ui.bridge import ClientBridge, call
from securechat.ui.delegates import BubbleDelegate
from securechat.ui.models.chat import ChatModel
from securechat.ui.plaintext import make_plain
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.composer import Composer
from securechat.ui.widgets.confirm import Question
from securechat.ui.widgets.draft import Drafts, LengthCounter, clear_undoably, restore
from securechat.ui.widgets.elided import ElidedLabel
from securechat.ui.widgets.emoji import EmojiPicker
from securechat.ui.widgets.files import FileBar, shown_text
from securechat.ui.windows.call import CallButtons
from securechat.ui.windows.chat_extras import ChatExtras
from securechat.ui.windows.chat_history import ChatHistory

READ_DELAY_MS = 300  # read receipts for a burst of messages go as one


class ChatView(ChatHistory, ChatExtras, QWidget):
    profile_requested = pyqtSignal(str)
    page_loaded = pyqtSignal()  # a page of the conversation is in, and the view settled
    error = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: SecureChatClient | None = None
        self.bridge: ClientBridge | None = None
        self.peer: str | None = None
        self.loading_page = False
        self.reply_to: StoredMessage | None = None
        self.editing: StoredMessage | None = None  # the composer holds a new text for it
        self.question: Question | None = None  # the last confirmation asked
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # header
        header = QFrame()
        header_layout = self.header_layout = QHBoxLayout(header)  # + ui.widgets.avatars
        self.title = ElidedLabel(S.NO_CHAT_SELECTED)  # names are the peer's choice, any length
        self.title.setStyleSheet("font-size: 16px; font-weight: 600;")
        self.subtitle = make_plain(QLabel())
        self.subtitle.setObjectName("muted")
        self.profile_button = QPushButton(S.PROFILE_BUTTON)
        self.profile_button.setToolTip(S.ACTION_PROFILE)
        self.profile_button.clicked.connect(
            lambda: self.peer and self.profile_requested.emit(self.peer))
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header_layout.addLayout(titles, 1)
        self.call_buttons = CallButtons()  # calls (issue 15): CallController drives them
        header_layout.addWidget(self.call_buttons)
        header_layout.addWidget(self.profile_button)
        layout.addWidget(header)
        # key-change banner
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        banner_layout = QHBoxLayout(self.banner)
        self.banner_text = make_plain(QLabel())
        self.banner_text.setWordWrap(True)
        self.banner_button = QPushButton(S.KEY_ACCEPT)
        self.banner_button.clicked.connect(self.accept_key)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.banner_button)
        self.banner.hide()
        layout.addWidget(self.banner)
        # messages
        self.model = ChatModel(self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.delegate = BubbleDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setUniformItemSizes(False)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setWordWrap(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.verticalScrollBar().valueChanged.connect(self._scrolled)
        layout.addWidget(self.view, 1)
        # "↓": back to the newest messages, over the view's bottom-right corner
        self.latest_button = QPushButton("↓", self.view)
        self.latest_button.setToolTip(S.JUMP_TO_LATEST)
        self.latest_button.setFixedSize(40, 40)
        self.latest_button.setStyleSheet("border-radius: 20px; font-size: 18px;")
        self.latest_button.clicked.connect(self.to_latest)
        self.latest_button.hide()
        self.view.installEventFilter(self)
        self.view.viewport().installEventFilter(self)  # clicks on links
        # reply bar and composer
        self.reply_bar = QFrame()
        reply_layout = QHBoxLayout(self.reply_bar)
        self.reply_label = ElidedLabel()  # quotes a message of any length: never widens
        self.reply_label.setObjectName("muted")
        cancel = QPushButton(S.CANCEL)
        cancel.clicked.connect(self.cancel_reply)
        reply_layout.addWidget(self.reply_label, 1)
        reply_layout.addWidget(cancel)
        self.reply_bar.hide()
        layout.addWidget(self.reply_bar)
        self.bottom = QWidget()
        bottom = QHBoxLayout(self.bottom)
        bottom.setContentsMargins(8, 8, 8, 8)
        self.composer = Composer()
        self.composer.submitted.connect(self.send)
        self.composer.escaped.connect(self.cancel_reply)
        self.composer.textChanged.connect(self._typed)
        self.drafts = Drafts(self.composer)  # each conversation's own
        self.send_button = primary_button(S.SEND, self.send)
        self.counter = LengthCounter(self.composer)
        self.emoji = EmojiPicker(self.composer.insertPlainText)
        bottom.addWidget(self.emoji)
        bottom.addWidget(self.composer, 1)
        bottom.addWidget(self.counter)
        bottom.addWidget(self.send_button)
        # Files: attach (button, drop, paste), preview, progress, download (widgets/files).
        self.files = FileBar(self, self.composer)
        self.files.error.connect(self.error.emit)
        bottom.insertWidget(0, self.files.attach_button)
        layout.addWidget(self.files)
        layout.addWidget(self.bottom)
        self._read_soon = QTimer(self)
        self._read_soon.setSingleShot(True)
        self._read_soon.timeout.connect(self._mark_read_now)
        self._set_enabled(False)

    # --- wiring ---------------------------------------------------------------------------

    def finish(self) -> defer.Deferred[Any]:
        """Before the conversation goes away (another chat, a lock): what was on screen
        was read, and the other side stops seeing "typing…". Fires when both are done."""
        pending = []
        if self._read_soon.isActive():
            self._read_soon.stop()
            pending.append(self._mark_read_now())
        if self.client is not None and self.peer:
            pending.append(call(self.client.stopped_typing(self.peer)))
        return defer.gatherResults([d for d in pending if d is not None], consumeErrors=True)

    def set_client(self, client: SecureChatClient | None, bridge: ClientBridge | None) -> None:
        self.finish()
        if self.bridge is not None:
            for signal, slot in self._connections():
                signal.disconnect(slot)
        self.client, self.bridge = client, bridge
        self.peer = None
        self.drafts.forget()  # one account's drafts are not the next one's
        self.model.reset(None, [])
        self.title.setText(S.NO_CHAT_SELECTED)
        self.call_buttons.set_peer(None)
        self.subtitle.clear()
        self.banner.hide()
        self.cancel_reply()
        self._set_enabled(False)
        self.files.show_conversation(client, None)
        if bridge is not None:
            for signal, slot in self._connections():
                signal.connect(slot)

    def _connections(self) -> list[tuple[Any, Any]]:
        b = self.bridge
        assert b is not None
        return [(b.message_received, self._received), (b.message_sent, self._sent),
                (b.message_updated, self._updated), (b.message_deleted, self._deleted),
                (b.typing_changed, self._typing_changed),
                (b.reaction_changed, self._reaction_changed),
                (b.message_edited, self._edited),
                (b.presence_changed, self._presence_changed),
                (b.identity_changed, self._identity_changed),
                (b.contacts_changed, self._contact_changed),
                (b.device_added, self._device_changed), (b.device_removed, self._device_changed)]

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.composer, self.send_button, self.profile_button):
            widget.setEnabled(enabled)
        self.bottom.setVisible(enabled)
        self.profile_button.setVisible(enabled)

    def open_peer(self, peer: str) -> Any:
        """Show the conversation with `peer`: its newest page, scrolled to the bottom."""
        assert self.client is not None
        if self.editing is None:
            self.drafts.leave(self.peer)
        self.finish()
        self.peer = peer
        self.loading_page = False
        self.cancel_reply()
        self.drafts.enter(peer)
        contact = self.client.contacts[peer]
        self.title.setText(contact.display_name)
        self.call_buttons.set_peer(peer)
        self.model.peer_name = contact.display_name
        self._update_subtitle()
        self._refresh_banner()
        self._set_enabled(True)
        self.model.reset(peer, [])
        self.delegate.clear_cache()
        self.files.show_conversation(self.client, peer)

        generation = self.model.generation

        def loaded(messages: list[StoredMessage]) -> None:
            if self.model.generation != generation:
                return  # another conversation (or this one again) was opened since
            self.model.reset(peer, messages)
            self._fetch_extras(messages)
            self.scroll_to_newest()
            self.mark_read()
            self.page_loaded.emit()

        d = call(self.client.messages(peer, ChatModel.PAGE), loaded, self.error.emit)
        self.composer.setFocus()
        return d

    def mark_read(self) -> None:
        """Soon, once for a burst: a catch-up of many messages is one read receipt."""
        if not self._read_soon.isActive():
            self._read_soon.start(READ_DELAY_MS)

    def _mark_read_now(self) -> defer.Deferred[Any] | None:
        if self.client is None or self.peer is None or not self.isVisible():
            return None
        return call(self.client.mark_read(self.peer), failed=self.error.emit)

    # --- events of the view -------------------------------------------------------------

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if watched is self.view and event is not None and event.type() == QEvent.Type.Resize:
            self._place_latest_button()
            self.keep_place_while_resizing()
        if (watched is self.view.viewport() and isinstance(event, QMouseEvent)
                and event.type() == QEvent.Type.MouseButtonRelease
                and event.button() == Qt.MouseButton.LeftButton):
            url = self.link_at(event.position().toPoint())
            if url is not None:
                self.ask_to_open(url)
                return True
        return super().eventFilter(watched, event)

    # --- core events ----------------------------------------------------------------------

    def _sid(self) -> str | None:
        if self.client is None or self.peer is None:
            return None
        contact = self.client.contacts.get(self.peer)
        return contact.sid if contact else None

    def _append(self, message: StoredMessage) -> None:
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 40
        mine = message.sender == "me"
        if self.model.add(message, keep_newest=at_bottom or mine):
            if at_bottom or mine:
                QTimer.singleShot(0, self.view.scrollToBottom)
        elif mine and not self.model.at_end:
            self.jump_to_latest()  # I wrote it: show it, even from far up the history
        self._update_latest_button()

    def _received(self, event: Any) -> None:
        if event.message.sid == self._sid():
            self._append(event.message)
            window = self.window()
            if window is not None and window.isActiveWindow():
                self.mark_read()

    def _sent(self, event: Any) -> None:
        if event.message.sid == self._sid():
            self._append(event.message)

    def show_call_log(self, event: Any) -> None:
        """A call log row (CallLogged): in this conversation, if it is open."""
        self._sent(event)

    def _updated(self, event: Any) -> None:
        self.model.set_status(event.message_id, event.status)

    def _deleted(self, event: Any) -> None:
        if event.sid != self._sid():
            return
        for pending in (self.reply_to, self.editing):  # replying to it, or editing it
            if pending is not None and pending.id == event.message_id:
                self.cancel_reply()
        with self._reading_position():
            if event.marker is not None:  # unsent: its marker stays in its place
                self.model.mark_unsent(event.marker)
            else:
                self.model.remove(event.message_id)

    def _device_changed(self, event: Any) -> None:
        """"Bob signed in on a new device": the line stored in the conversation."""
        if event.notice is not None and event.notice.sid == self._sid():
            self._append(event.notice)

    def _typing_changed(self, peer: str, _typing: bool) -> None:
        if peer == self.peer:
            self._update_subtitle()

    def _presence_changed(self, peer: str, _online: bool) -> None:
        if peer == self.peer:
            self._update_subtitle()

    def _identity_changed(self, _event: Any) -> None:
        self._refresh_banner()

    def _contact_changed(self) -> None:
        """A nickname, the verified mark or an accepted key: the header shows it."""
        if self.client is None or self.peer not in self.client.contacts:
            return
        name = self.client.contacts[self.peer].display_name
        self.title.setText(name)
        if name != self.model.peer_name:
            self.model.peer_name = name
            self.model.layoutChanged.emit()  # system lines name them
        self._update_subtitle()
        self._refresh_banner()

    def _update_subtitle(self) -> None:
        if self.bridge is None or self.peer is None:
            self.subtitle.clear()
            return
        if self.bridge.is_typing(self.peer):
            text = S.TYPING
        else:
            text = S.ONLINE if self.bridge.is_online(self.peer) else S.OFFLINE
        contact = self.bridge.client.contacts.get(self.peer)
        if contact is not None and contact.verified:
            text = S.VERIFIED_SUBTITLE.format(state=text)
        self.subtitle.setText(text)

    def _refresh_banner(self) -> None:
        if self.client is None or self.peer is None:
            self.banner.hide()
            return
        contact = self.client.contacts.get(self.peer)
        if contact is not None and contact.changed_identity_key:
            self.banner_text.setText(S.KEY_CHANGED.format(name=contact.display_name))
            self.banner.show()
        else:
            self.banner.hide()

    def accept_key(self) -> None:
        if self.client is None or self.peer is None:
            return
        call(self.client.accept_identity_key(self.peer), failed=self.error.emit)

    # --- composing ------------------------------------------------------------------------

    def send(self) -> None:
        """Send the draft (or the edit). Whatever cannot be sent stays in the composer:
        an over-long text is refused before anything is cleared, and a draft the core
        refuses comes back."""
        text = self.composer.toPlainText()
        if self.client is None or self.peer is None or not text.strip():
            return
        if len(text) > MAX_MESSAGE_LENGTH:
            self.error.emit(S.MESSAGE_TOO_LONG.format(count=f"{len(text):,}",
                                                      limit=f"{MAX_MESSAGE_LENGTH:,}"))
            return
        if self.editing is not None:
            sent = self.client.actions.edit(self.editing.id, text)
        else:
            reply = self.reply_to.id if self.reply_to else None
            sent = self.client.send_text(self.peer, text, reply)  # it ends "typing…" too
        clear_undoably(self.composer)
        self.cancel_reply()

        def failed(message: str) -> None:
            restore(self.composer, text)
            self.error.emit(message)
        call(sent, failed=failed)

    def _typed(self) -> None:
        # The core decides when "typing" is sent, refreshed and stopped.
        if self.client is not None and self.peer is not None and not self.drafts.restoring:
            self.client.composing(self.peer, self.composer.toPlainText())

    def start_reply(self, message: StoredMessage) -> None:
        if self.editing is not None:
            self.cancel_reply()
        self.reply_to = message
        author = S.ME_AUTHOR if message.from_me else self.model.peer_name
        self.reply_label.setText(S.REPLYING_TO_NAME.format(name=author,
                                                           text=shown_text(message)))
        self.reply_bar.show()
        self.composer.setFocus()

    def cancel_reply(self) -> None:
        """No more reply (or edit): the bar goes, and so does the replied-to highlight."""
        if self.editing is not None:
            self.editing = None
            clear_undoably(self.composer)
        self.reply_to = None
        self.reply_bar.hide()
        self.view.clearSelection()
