"""What the client core tells its users (the GUI, the CLI, bots): typed events.

Subscribe with `client.events.subscribe(callback)` (every event) or
`subscribe(callback, MessageReceived)` (one kind). Callbacks run on the
reactor thread and must not block.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client.model import Contact, ConversationSummary, MediaItem, StoredMessage

E = TypeVar("E")


@attrs.frozen
class MessageReceived:
    message: StoredMessage
    peer_user_id: str


@attrs.frozen
class MessageSent:
    """My own message, optimistically stored (status pending) or synced from my other
    device. Not "taken by the relay": that is MessageUpdated(SENT)."""

    message: StoredMessage
    peer_user_id: str


@attrs.frozen
class MessageUpdated:
    """One of my messages moved forward (model.MessageStatus; never back)."""

    message_id: str
    status: int  # a model.MessageStatus
    peer_user_id: str


@attrs.frozen
class MessageDeleted:
    message_id: str
    sid: str
    peer_user_id: str
    # Unsent (issue 11): the marker that stays in its place ("This message was
    # deleted"); None when it was deleted for me and nothing stays.
    marker: StoredMessage | None = None


# --- reactions and edits (client.message_actions) ---------------------------------------


@attrs.frozen
class ReactionChanged:
    """Someone's reaction to a message changed: `reactor` is "me" (on any of my devices)
    or "other"; `emoji` is "" when the reaction was taken back."""

    message_id: str
    sid: str
    peer_user_id: str
    reactor: str
    emoji: str


@attrs.frozen
class MessageEdited:
    """A message's text changed (its author edited it): `text` is what it says now."""

    message_id: str
    sid: str
    peer_user_id: str
    text: str


@attrs.frozen
class ConversationChanged:
    """A conversation's summary changed other than by a new message (a deletion, read
    here or on another device of mine): what a conversation list shows for it now."""

    peer_user_id: str
    summary: ConversationSummary


@attrs.frozen
class MessagesRead:
    """Received messages marked read on another of my devices."""

    peer_user_id: str
    sid: str
    message_ids: tuple[str, ...]


@attrs.frozen
class TypingChanged:
    """A contact started or stopped typing to me (a "typing" lapses by itself after
    client.typing_indicator.PEER_TYPING_LAPSE seconds without a refresh)."""

    sid: str
    peer_user_id: str
    typing: bool


@attrs.frozen
class PresenceChanged:
    """One device of a contact (or of mine) came online or went away."""

    peer_user_id: str
    device_id: str
    online: bool


@attrs.frozen
class ContactPresenceChanged:
    """A contact is online on at least one device, or now on none (client.presence)."""

    peer_user_id: str
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
    contact: Contact


@attrs.frozen
class ContactUpdated:
    """A contact's alias or verified mark changed, or their new key was accepted."""

    peer_user_id: str
    contact: Contact


@attrs.frozen
class BlockListUpdated:
    """Who is blocked changed: here, or on another of my devices (a MANIFEST)."""

    blocked: frozenset[str]


@attrs.frozen
class PendingRequestsUpdated:
    """Friend requests changed on another of my devices (a MANIFEST): read them again."""


@attrs.frozen
class HistoryProgress:
    """A new device receives its history from my other devices: `received` messages of
    about `total` (several devices may answer; duplicates are stored once); `done`: the
    last page came."""

    received: int
    total: int
    done: bool = False


@attrs.frozen
class ProfileUpdated:
    """A display name or avatar changed (client.profiles): a contact's (they sent a newer
    one: "profile updated"), or mine (`user_id` is mine: set here or on another device
    of mine)."""

    user_id: str
    name: str
    name_changed: bool
    avatar_changed: bool


@attrs.frozen
class AvatarRefused:
    """A contact (or another device of mine) sent an avatar that is not one
    (client.avatars.check: too large, not a PNG/JPEG, unreadable); the one shown before
    stays. `reason` says why."""

    user_id: str
    reason: str


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


class ConnectionState(enum.StrEnum):
    """The connection as the user sees it (client.connection's machine states map onto
    these one to one, but for `stopped` and `waiting`, which both read "offline")."""

    CONNECTING = "connecting"  # joining the relay
    SYNCING = "syncing"  # joined, catching up: mailbox, device lists, outbox
    ONLINE = "online"  # caught up (also told by CaughtUp)
    OFFLINE = "offline"  # waiting to retry (`retry_in`), or stopped (reason "stopped")
    FAILED = "failed"  # refused for good (this device was removed, say)


@attrs.frozen
class ConnectionStateChanged:
    state: ConnectionState
    reason: str | None = None
    retry_in: float | None = None


# --- encrypted file sharing (client.files) ---------------------------------------------


@attrs.frozen
class FileOffered:
    """A FILE_INFO arrived: the file can be downloaded (it may start by itself)."""

    item: MediaItem
    peer_user_id: str


@attrs.frozen
class FileProgress:
    """Bytes of a transfer done so far (plaintext bytes; `direction` "out" or "in")."""

    message_id: str
    peer_user_id: str
    direction: str
    done: int
    total: int


@attrs.frozen
class FileTransferred:
    """Uploaded (and offered to the peer), or downloaded and verified."""

    item: MediaItem
    peer_user_id: str


@attrs.frozen
class FileFailed:
    """A transfer ended without the file: `reason` is fit to show (rejected, quota...)."""

    message_id: str
    peer_user_id: str
    direction: str
    reason: str
    canceled: bool = False


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

    def next(self, kind: type[E], match: Callable[[E], bool] | None = None,
             ) -> defer.Deferred[E]:
        """The next event of `kind` (that `match`es). Cancel the Deferred (or use
        `addTimeout`) to stop waiting."""
        def stop_waiting(_: object) -> None:
            self.unsubscribe(arrived)

        d: defer.Deferred[E] = defer.Deferred(stop_waiting)

        def arrived(event: E) -> None:
            if not d.called and (match is None or match(event)):
                self.unsubscribe(arrived)
                d.callback(event)

        self.subscribe(arrived, kind)
        return d

    def emit(self, event: object) -> None:
        for callback, kind in list(self._subscribers):
            if kind is None or isinstance(event, kind):
                try:
                    callback(event)
                except Exception:
                    self.log.failure("an event subscriber failed on {event}",
                                     event=type(event).__name__)
