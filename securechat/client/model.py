"""The client core's records and enums: what the UI, the CLI and bots read.

Plain frozen records, stored by `client.storage` and carried by `client.events`.
Nothing here touches the network or the database.
"""

from __future__ import annotations

import enum
import itertools
import os

import attrs

from securechat.protocol import scram


class MessageStatus(enum.IntEnum):
    """Where one of my messages is; it only ever moves forward (see `advanced`)."""

    PENDING = 0  # stored here, not yet taken by the relay
    SENT = 1  # the relay stored it for every device of the peer
    DELIVERED = 2  # a device of the peer decrypted and stored it
    READ = 3  # the peer opened the conversation

    def advanced(self, to: int) -> bool:
        """Whether moving to `to` is a step forward (ticks never go back)."""
        return to > self


class Sender(enum.StrEnum):
    """Who wrote a stored message (the `messages.sender` column)."""

    ME = "me"
    OTHER = "other"
    SYSTEM = "system"  # a line the client wrote ("… signed in on a new device")


class MessageType(enum.StrEnum):
    """What a stored message is (the `messages.type` column)."""

    TEXT = "text"
    IMAGE = "image"  # a shared image (client.files); its text is {"filename", "size"}
    FILE = "file"  # any other shared file, the same way
    DEVICE_ADDED = "device_added"  # a system line; its text is the device id
    DEVICE_REMOVED = "device_removed"
    DELETED = "deleted"  # an unsent message's marker: its text is gone (issue 11)


SYSTEM_TYPES = (MessageType.DEVICE_ADDED, MessageType.DEVICE_REMOVED)

_id_counter = itertools.count()


def new_message_id(timestamp_ms: int) -> str:
    """Time-ordered ids (like UUIDv7): messages with equal timestamps still sort in the
    order this device created them, and ids never collide across devices."""
    return f"{timestamp_ms:012x}{next(_id_counter) % 65536:04x}{os.urandom(8).hex()}"


class RequestState(enum.StrEnum):
    """Where a friendship with one peer stands, as `client.friends` moves it."""

    NONE = "none"
    ASKED = "asked"  # I asked, no answer yet
    ASKED_ME = "asked_me"  # they asked, I have not answered
    FRIENDS = "friends"
    I_DENIED = "i_denied"
    THEY_DENIED = "they_denied"


# RequestState <-> the (direction, action) columns of `pending_requests`, which the
# schema and the cross-device sync of requests keep.
_STATE_OF_ROW = {
    ("out", "pending"): RequestState.ASKED,
    ("in", "pending"): RequestState.ASKED_ME,
    ("out", "accepted"): RequestState.FRIENDS,
    ("in", "accepted"): RequestState.FRIENDS,
    ("in", "denied"): RequestState.I_DENIED,
    ("out", "denied"): RequestState.THEY_DENIED,
}


@attrs.frozen
class Me:
    email: str
    user_id: str
    device_id: str
    public_name: str
    name_version: int
    avatar_version: int


@attrs.frozen
class Contact:
    sid: str
    peer_user_id: str
    peer_email: str
    peer_name: str
    alias_name: str | None
    peer_identity_key: str
    changed_identity_key: str | None
    verified: bool = False
    # Their devices changed since I verified them: `verified` was reset, compare again.
    devices_changed: bool = False

    @property
    def display_name(self) -> str:
        return self.alias_name or self.peer_name or self.peer_email


@attrs.frozen
class StoredMessage:
    id: str
    sid: str
    sender: str  # a Sender
    text: str
    type: str
    timestamp: int
    status: int  # a MessageStatus
    is_read: bool
    reply_to: str | None

    @property
    def from_me(self) -> bool:
        return self.sender == Sender.ME


@attrs.frozen
class Request:
    user_id: str
    email: str
    name: str
    direction: str  # "in" or "out"
    action: str  # pending | accepted | denied
    timestamp: int
    key_changed: bool = False  # their account key changed while the request was pending

    @property
    def state(self) -> RequestState:
        return _STATE_OF_ROW.get((self.direction, self.action), RequestState.NONE)

    @property
    def incoming_pending(self) -> bool:
        """Waiting for my answer."""
        return self.state is RequestState.ASKED_ME

    @property
    def needs_attention(self) -> bool:
        """What a requests list shows: asked to me, or mine whose peer's key changed."""
        return self.incoming_pending or (self.state is RequestState.ASKED and self.key_changed)


@attrs.frozen
class DeviceNotice:
    """A device added to my own account that I have not acknowledged yet."""

    device_id: str
    identity_key: str
    noticed_at: int


@attrs.frozen
class ConversationSummary:
    """What a conversation list shows for one contact."""

    last_message: StoredMessage | None
    unread: int


@attrs.frozen
class KdfCost:
    """Argon2id costs for the password-derived keys (tests lower the memory)."""

    memory_kib: int = scram.DEFAULT_MEMORY_KIB
    iterations: int = scram.DEFAULT_ITERATIONS


PIN_COST = KdfCost(memory_kib=131072, iterations=3)  # about half a second per PIN guess


class VaultItemType(enum.StrEnum):
    """What a vault item holds (the spec's `VaultItem.type`)."""

    PASSWORD = "password"  # noqa: S105 - data: username, password, url, notes
    NOTE = "note"  # data: text
    FILE = "file"  # data: name, mime, size; the content in its own sealed file


@attrs.frozen
class VaultItem:
    """A vault item as listed (its secret `data` is read with `Vault.get`)."""

    id: str
    type: VaultItemType
    title: str
    created_at: int  # ms
    updated_at: int  # ms
    size: int = 0  # of a file item's content, in bytes


@attrs.frozen
class MfaSetup:
    """What provisioning shows once: the secret (also as an otpauth:// URI for a QR
    code) and the recovery codes. Nothing is enabled until a first code confirms it."""

    secret: str = attrs.field(repr=False)  # base32
    uri: str = attrs.field(repr=False)
    recovery_codes: tuple[str, ...] = attrs.field(repr=False)


class MediaStatus(enum.StrEnum):
    """Where a shared file is (the `media.status` column)."""

    UPLOADING = "uploading"  # mine: encrypted here, going to the relay's blob store
    SENT = "sent"  # mine: uploaded, FILE_INFO handed to the outbox
    PENDING = "pending"  # theirs (or from my other device): offered, not downloaded here
    DOWNLOADING = "downloading"
    DONE = "done"  # downloaded and verified: kept encrypted here, opened on request
    FAILED = "failed"  # `error` says why
    CANCELED = "canceled"


@attrs.frozen
class MediaItem:
    """One shared file (the spec's `media` row, plus what its transfer needs)."""

    message_id: str
    sid: str
    direction: str  # "out" (I sent it) or "in"
    original_name: str
    file_size: int
    mime_type: str
    status: str  # a MediaStatus
    filename: str  # the encrypted copy here: vault_<message id>
    thumbnail: str = ""  # a data: URL, or ""
    caption: str | None = None
    error: str | None = None
    created: int = 0

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")

    @property
    def available(self) -> bool:
        """Its plaintext can be saved or opened here."""
        return self.status in (MediaStatus.DONE, MediaStatus.SENT, MediaStatus.UPLOADING)
