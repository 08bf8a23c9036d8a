"""What the client core tells its users (the GUI, the CLI, bots): typed events.

Subscribe with `client.events.subscribe(callback)` (every event) or
`subscribe(callback, MessageReceived)` (one kind). Callbacks run on the
reactor thread and must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from twisted.logger import Logger

from securechat.client.storage import StoredMessage

E = TypeVar("E")


@attrs.frozen
class MessageReceived:
    message: StoredMessage
    peer_user_id: str


@attrs.frozen
class MessageSent:
    """My own message, optimistically stored (status pending) or synced from my other device."""

    message: StoredMessage


@attrs.frozen
class MessageUpdated:
    message_id: str
    status: int  # storage.STATUS_*


@attrs.frozen
class MessageDeleted:
    message_id: str
    sid: str


@attrs.frozen
class MessagesRead:
    """Received messages marked read on another of my devices."""

    peer_user_id: str
    sid: str
    message_ids: tuple[str, ...]


@attrs.frozen
class TypingChanged:
    sid: str
    peer_user_id: str
    typing: bool


@attrs.frozen
class PresenceChanged:
    peer_user_id: str
    device_id: str
    online: bool


@attrs.frozen
class FriendRequestReceived:
    peer_user_id: str
    email: str
    name: str


@attrs.frozen
class FriendRequestAnswered:
    peer_user_id: str
    email: str
    accepted: bool
    sid: str | None


@attrs.frozen
class ContactAdded:
    """A friendship is now known on this device, however it came about: accepted here
    or on another of my devices, or my request accepted by them."""

    peer_user_id: str
    sid: str


@attrs.frozen
class ContactUpdated:
    """A contact's alias or verified mark changed, or their new key was accepted."""

    peer_user_id: str


@attrs.frozen
class IdentityKeyChanged:
    """A contact's account key changed: sending to them waits until the user accepts it.
    Also emitted (with `request` True) for someone with a pending friend request: the
    request is marked (`Request.key_changed`)."""

    peer_user_id: str
    email: str
    request: bool = False


@attrs.frozen
class DeviceAdded:
    """A device joined an account whose devices this device knew: one of my own (`own`;
    `client.device_notices()` keeps it until dismissed) or someone else's. For a contact,
    `notice` is the line stored in the conversation ("… signed in on a new device").
    The first device list ever learned for a user is not news, and tells nothing."""

    user_id: str
    device_id: str
    identity_key: str
    own: bool
    notice: StoredMessage | None = None


@attrs.frozen
class DeviceRemoved:
    """A device left an account whose devices this device knew (see DeviceAdded). Its
    Olm sessions are gone; nothing is encrypted to it any more."""

    user_id: str
    device_id: str
    own: bool
    notice: StoredMessage | None = None


@attrs.frozen
class ConnectionStateChanged:
    state: str  # "connecting" | "online" | "offline" | "failed"
    reason: str | None = None
    retry_in: float | None = None


@attrs.frozen
class CaughtUp:
    """Online and in sync: the mailbox is drained and the outbox flushed."""


@attrs.frozen
class EnvelopeRejected:
    """An envelope that could not be decrypted or parsed; logged, never shown."""

    envelope_id: str
    from_user: str
    reason: str


@attrs.frozen
class SessionReset:
    """A device of this user (a contact, or me) started a fresh encrypted session with
    this device, because it could not decrypt what we sent (a restored or lost state).
    Messages sent in the old session before that may not have arrived."""

    user_id: str


@attrs.frozen
class DeviceApprovalRequested:
    """A new device of my account (signed in with the password) asks to be approved:
    `client.approve_device(device_id)` starts comparing codes with it."""

    device_id: str
    requested_at: int  # ms since the epoch, as the relay stamped the request


@attrs.frozen
class ApprovalCode:
    """The code to compare with the new device's screen."""

    device_id: str
    code: Any  # linking.LinkCode: 7 emoji with names, and 3 four-digit numbers


@attrs.frozen
class DeviceApprovalFinished:
    """An approval ended: the device is now trusted and has the account key, or it was
    removed (`reason`: one of linking.REASONS)."""

    device_id: str
    approved: bool
    reason: str = ""


class EventBus:
    log = Logger()

    def __init__(self) -> None:
        self._subscribers: list[tuple[Callable[[Any], None], type | None]] = []

    def subscribe(self, callback: Callable[[E], None], kind: type[E] | None = None) -> None:
        self._subscribers.append((callback, kind))

    def unsubscribe(self, callback: Callable[[Any], None]) -> None:
        # `==`, not `is`: each `obj.method` is a new bound-method object, equal to the
        # one that subscribed.
        self._subscribers = [s for s in self._subscribers if s[0] != callback]

    def emit(self, event: object) -> None:
        for callback, kind in list(self._subscribers):
            if kind is None or isinstance(event, kind):
                try:
                    callback(event)
                except Exception:
                    self.log.failure("an event subscriber failed on {event}",
                                     event=type(event).__name__)
