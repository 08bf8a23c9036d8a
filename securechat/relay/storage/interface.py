"""What the relay's handlers see of its storage: `IRelayStorage`, the refusals it
reports and the page a mailbox fetch returns (see securechat.relay.storage)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from twisted.internet import defer
from zope.interface import Interface

from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey


class StorageError(Exception):
    """Base of the refusals the storage layer reports to handlers."""


class AccountExists(StorageError):
    pass


class DeviceExists(StorageError):
    pass


class TooManyDevices(StorageError):
    pass


class NoSuchDevice(StorageError):
    pass


class TooManyPrekeys(StorageError):
    pass


class MailboxFull(StorageError):
    def __init__(self, device_id: str, sender_share: bool = False) -> None:
        super().__init__(device_id)
        self.device_id = device_id
        self.sender_share = sender_share  # the sender's share of it is full, not all of it


class StorageUnavailable(StorageError):
    """The database cannot be reached now (PostgreSQL restarting, say): nothing of the
    operation was stored; the caller may try again."""


class StorageFull(StorageError):
    """Every mailbox together has reached the relay's disk budget."""


class BlobQuotaExceeded(StorageError):
    """The account's live blobs leave no room for another of this size."""

    def __init__(self, used: int, quota: int, count: int, max_count: int) -> None:
        super().__init__(used, quota)
        self.used, self.quota, self.count, self.max_count = used, quota, count, max_count


@attrs.frozen
class MailboxPage:
    """One page of a device's mailbox, oldest first; `more` if envelopes are left."""

    envelopes: list[Envelope]
    more: bool

    @property
    def size(self) -> int:
        """The bodies' bytes this page loaded."""
        return sum(e.size for e in self.envelopes)


class IRelayStorage(Interface):
    """Accounts, devices, prekeys and mailboxes. Every method returns a Deferred."""

    def start() -> defer.Deferred[None]:
        """Open the store; operations may be queued at once."""

    def stop() -> defer.Deferred[None]:
        """Finish queued work and close."""

    def create_account(account: Account) -> defer.Deferred[None]:
        """Store a new account; fails with AccountExists."""

    def get_account(user_id: str) -> defer.Deferred[Account | None]:
        """The account, or None."""

    def set_recovery_blob(user_id: str, blob: bytes) -> defer.Deferred[bool]:
        """Replace the account's recovery blob; False if there is no such account."""

    def replace_verifier(user_id: str, verifier: ScramVerifier,
                         current_salt: str | None = None) -> defer.Deferred[bool]:
        """Replace the account's SCRAM verifier; only while its salt is still
        `current_salt`, when given. False if nothing was replaced."""

    def add_device(device: Device, max_devices: int) -> defer.Deferred[None]:
        """Enroll a device; fails with DeviceExists or TooManyDevices."""

    def remove_device(user_id: str, device_id: str) -> defer.Deferred[bool]:
        """Forget a device with its prekeys and mailbox; False if it was not the user's."""

    def certify_device(user_id: str, device_id: str, signature: str) -> defer.Deferred[bool]:
        """Give a pending device of the user its certificate; False if there is none."""

    def remove_pending_devices(created_before: int) -> defer.Deferred[list[Device]]:
        """Forget pending devices enrolled before this time (ms); returns them."""

    def get_device(device_id: str) -> defer.Deferred[Device | None]:
        """The device, or None."""

    def get_device_by_signing_key(signing_key: str) -> defer.Deferred[Device | None]:
        """The device whose cryptosign key this is, or None."""

    def device_seen(device_id: str, now: int) -> defer.Deferred[None]:
        """Record that the device connected (was WELCOMEd) at `now` (ms)."""

    def last_seen(user_id: str) -> defer.Deferred[dict[str, int]]:
        """{device id: when it last connected (ms)} for the user's devices that ever did."""

    def list_devices(user_id: str) -> defer.Deferred[list[Device]]:
        """Every device of a user, oldest first."""

    def add_prekeys(
        device_id: str, keys: Sequence[OneTimeKey], max_total: int
    ) -> defer.Deferred[int]:
        """Add one-time keys (and replace the fallback key); returns the one-time count."""

    def claim_prekeys(
        user_id: str, device_ids: Sequence[str]
    ) -> defer.Deferred[dict[str, OneTimeKey | None]]:
        """Atomically take one one-time key per listed device of the user (else its
        fallback key)."""

    def count_prekeys(device_id: str) -> defer.Deferred[int]:
        """How many unclaimed one-time keys the device has left."""

    def store_envelopes(
        envelopes: Sequence[Envelope], expires: int, quota: MailboxQuota,
        owners: Mapping[str, str] | None = None,
    ) -> defer.Deferred[None]:
        """Store all of them or none (MailboxFull names the first full mailbox,
        StorageFull says the relay's disk budget is used up). `owners`: the user of each
        target device, when the caller knows (else they are read)."""

    def fetch_mailbox(
        device_id: str, now: int, limit: int, max_bytes: int, overhead: int
    ) -> defer.Deferred[MailboxPage]:
        """The oldest unexpired envelopes of the device: at most `limit`, and no more than
        fit in `max_bytes` counting each as its size plus `overhead` (but at least one).
        Only the page's bodies are read."""

    def ack(device_id: str, ids: Sequence[str]) -> defer.Deferred[int]:
        """Delete the device's envelopes with these ids; returns how many went."""

    def purge_expired(now: int) -> defer.Deferred[int]:
        """Delete expired envelopes; returns how many."""

    def relay_secret(name: str) -> defer.Deferred[bytes]:
        """A random 32-byte secret of this relay, made on first use and kept."""

    # Blob metadata (relay.blobs; the bytes are in a relay.blobstore.IBlobStore).

    def create_blob(blob: Any, quota_bytes: int, max_count: int, now: int,
                    ) -> defer.Deferred[None]:
        """Store a new blob's record (storage.blobs.BlobRecord); fails with
        BlobQuotaExceeded when the owner's live blobs leave no room."""

    def get_blob(blob_id: str) -> defer.Deferred[Any]:
        """The BlobRecord, or None."""

    def blob_chunk_stored(blob_id: str, index: int, size: int) -> defer.Deferred[None]:
        """Chunk `index` of the blob is on disk."""

    def blob_missing(blob_id: str, count: int) -> defer.Deferred[list[int]]:
        """Indexes of the blob's chunks not stored yet."""

    def finish_blob(blob_id: str, count: int) -> defer.Deferred[list[int]]:
        """Make the blob readable if no chunk is missing; returns the missing ones."""

    def delete_blob(blob_id: str) -> defer.Deferred[bool]:
        """Forget the blob's record and chunks; False if there was none."""

    def purge_blobs(now: int, unfinished_before: int) -> defer.Deferred[list[str]]:
        """Forget expired blobs and stale unfinished uploads (a batch); returns their
        ids."""
