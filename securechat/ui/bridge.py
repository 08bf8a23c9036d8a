"""The client core's events as Qt signals. Only forwards: presence, typing and every
other protocol rule live in the core (client.presence, client.typing_indicator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client import SecureChatClient
from securechat.client import events as ev
from securechat.ui import strings as S


class ClientBridge(QObject):
    log = Logger()

    message_received = pyqtSignal(object)  # ev.MessageReceived
    message_sent = pyqtSignal(object)  # ev.MessageSent
    message_updated = pyqtSignal(object)  # ev.MessageUpdated
    message_deleted = pyqtSignal(object)  # ev.MessageDeleted
    reaction_changed = pyqtSignal(object)  # ev.ReactionChanged
    message_edited = pyqtSignal(object)  # ev.MessageEdited
    messages_read = pyqtSignal(object)  # ev.MessagesRead (on another of my devices)
    typing_changed = pyqtSignal(str, bool)  # peer user id, typing
    presence_changed = pyqtSignal(str, bool)  # peer user id, online (any device)
    request_received = pyqtSignal(object)  # ev.FriendRequestReceived
    request_answered = pyqtSignal(object)  # ev.FriendRequestAnswered
    identity_changed = pyqtSignal(object)  # ev.IdentityKeyChanged
    device_added = pyqtSignal(object)  # ev.DeviceAdded
    device_removed = pyqtSignal(object)  # ev.DeviceRemoved
    connection_changed = pyqtSignal(object)  # ev.ConnectionStateChanged
    caught_up = pyqtSignal()
    contacts_changed = pyqtSignal()
    approval_requested = pyqtSignal(object)  # ev.DeviceApprovalRequested

    def __init__(self, client: SecureChatClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.connection_state: str = client.connection.state
        client.events.subscribe(self._event)

    def close(self) -> None:
        self.client.events.unsubscribe(self._event)

    def is_online(self, peer: str) -> bool:
        return self.client.is_online(peer)

    def is_typing(self, peer: str) -> bool:
        return self.client.is_typing(peer)

    def _event(self, event: Any) -> None:
        if isinstance(event, ev.MessageReceived):
            self.message_received.emit(event)
        elif isinstance(event, ev.MessageSent):
            self.message_sent.emit(event)
        elif isinstance(event, ev.MessageUpdated):
            self.message_updated.emit(event)
        elif isinstance(event, ev.MessageDeleted):
            self.message_deleted.emit(event)
        elif isinstance(event, ev.ReactionChanged):
            self.reaction_changed.emit(event)
        elif isinstance(event, ev.MessageEdited):
            self.message_edited.emit(event)
        elif isinstance(event, ev.MessagesRead):
            self.messages_read.emit(event)
        elif isinstance(event, ev.TypingChanged):
            self.typing_changed.emit(event.peer_user_id, event.typing)
        elif isinstance(event, ev.ContactPresenceChanged):
            self.presence_changed.emit(event.peer_user_id, event.online)
        elif isinstance(event, ev.FriendRequestReceived):
            self.request_received.emit(event)
        elif isinstance(event, ev.FriendRequestAnswered):
            self.request_answered.emit(event)
        elif isinstance(event, ev.ContactAdded | ev.ContactUpdated):
            self.contacts_changed.emit()
        elif isinstance(event, ev.IdentityKeyChanged):
            self.identity_changed.emit(event)
        elif isinstance(event, ev.DeviceAdded):
            self.device_added.emit(event)
        elif isinstance(event, ev.DeviceRemoved):
            self.device_removed.emit(event)
        elif isinstance(event, ev.ConnectionStateChanged):
            self.connection_state = event.state
            self.connection_changed.emit(event)
        elif isinstance(event, ev.CaughtUp):
            self.caught_up.emit()
        elif isinstance(event, ev.DeviceApprovalRequested):
            self.approval_requested.emit(event)


def call(d: defer.Deferred[Any], ok: Callable[[Any], Any] | None = None,
         failed: Callable[[str], Any] | None = None) -> defer.Deferred[Any]:
    """Attach UI callbacks to a core Deferred: `ok(result)`, or `failed(message)` with a
    message fit for the user: a ClientError's or WrongPassword's own, or for anything
    else a generic one (that failure is logged in full). Returns the Deferred."""
    def good(result: Any) -> Any:
        if ok is not None:
            ok(result)
        return result

    def bad(f: Failure) -> None:
        from securechat.client import ClientError, JoinRefused, WrongPassword
        from securechat.protocol import uris

        if f.check(ClientError, WrongPassword):
            message = str(f.value) or type(f.value).__name__  # written for the user
        elif f.check(JoinRefused) and f.value.reason == uris.ERR_UNTRUSTED_CERTIFICATE:
            message = S.UNTRUSTED_CERTIFICATE
        else:  # a bug or an internal failure: the details go to the log, not on screen
            ClientBridge.log.failure("a request to the client core failed", f)
            message = S.UNEXPECTED_ERROR
        if failed is not None:
            failed(message)
    return d.addCallbacks(good, bad)
