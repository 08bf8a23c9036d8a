"""`IRelayStorage` on SQLite: every operation runs on the database's own thread,
group-committed with its neighbours (`securechat.sqlite.SerialDatabase`), never on the
reactor (see securechat.relay.storage)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from twisted.internet import defer
from zope.interface import implementer

import securechat.relay.storage.accounts as accounts
import securechat.relay.storage.blobs as blobs
import securechat.relay.storage.mailbox as mailbox
import securechat.relay.storage.prekeys as prekeys
from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey
from securechat.relay.storage.interface import IRelayStorage, MailboxPage, StorageError
from securechat.relay.storage.schema import migrate_schema
from securechat.sqlite import SerialDatabase


@implementer(IRelayStorage)
class SQLiteStorage:
    """`IRelayStorage` on one SQLite file in WAL mode, driven from one thread."""

    def __init__(self, path: str, reactor: Any) -> None:
        self._path = path
        self._db = SerialDatabase(path, reactor, migrate_schema,
                                  expected_errors=(StorageError,), name="relay-sqlite")
        self._run = self._db.run
        # Pairs of users known to be in routed_pairs (which only grows): the hot send path
        # then skips its two queries. Used on the database thread only.
        self._known_pairs = mailbox.PairCache()

    def start(self) -> defer.Deferred[None]:
        _private_files(self._path)
        return self._db.start()

    def stop(self) -> defer.Deferred[None]:
        return self._db.stop()

    # --- accounts --------------------------------------------------------------

    def create_account(self, account: Account) -> defer.Deferred[None]:
        return self._run(accounts.create_account, account)

    def get_account(self, user_id: str) -> defer.Deferred[Account | None]:
        return self._run(accounts.get_account, user_id)

    def set_recovery_blob(self, user_id: str, blob: bytes) -> defer.Deferred[bool]:
        return self._run(accounts.set_recovery_blob, user_id, blob)

    def replace_verifier(self, user_id: str, verifier: ScramVerifier,
                         current_salt: str | None = None) -> defer.Deferred[bool]:
        return self._run(accounts.replace_verifier, user_id, verifier, current_salt)

    # --- devices ---------------------------------------------------------------

    def add_device(self, device: Device, max_devices: int) -> defer.Deferred[None]:
        return self._run(accounts.add_device, device, max_devices)

    def remove_device(self, user_id: str, device_id: str) -> defer.Deferred[bool]:
        return self._run(accounts.remove_device, user_id, device_id)

    def certify_device(self, user_id: str, device_id: str, signature: str) -> defer.Deferred[bool]:
        return self._run(accounts.certify_device, user_id, device_id, signature)

    def remove_pending_devices(self, created_before: int) -> defer.Deferred[list[Device]]:
        return self._run(accounts.remove_pending_devices, created_before)

    def get_device(self, device_id: str) -> defer.Deferred[Device | None]:
        return self._run(accounts.one_device, "device_id", device_id)

    def get_device_by_signing_key(self, signing_key: str) -> defer.Deferred[Device | None]:
        return self._run(accounts.one_device, "signing_key", signing_key)

    def list_devices(self, user_id: str) -> defer.Deferred[list[Device]]:
        return self._run(accounts.list_devices, user_id)

    def device_seen(self, device_id: str, now: int) -> defer.Deferred[None]:
        return self._run(accounts.device_seen, device_id, now)

    def last_seen(self, user_id: str) -> defer.Deferred[dict[str, int]]:
        return self._run(accounts.last_seen, user_id)

    # --- prekeys ---------------------------------------------------------------

    def add_prekeys(
        self, device_id: str, keys: Sequence[OneTimeKey], max_total: int
    ) -> defer.Deferred[int]:
        return self._run(prekeys.add_prekeys, device_id, list(keys), max_total)

    def claim_prekeys(
        self, user_id: str, device_ids: Sequence[str]
    ) -> defer.Deferred[dict[str, OneTimeKey | None]]:
        return self._run(prekeys.claim_prekeys, user_id, list(device_ids))

    def count_prekeys(self, device_id: str) -> defer.Deferred[int]:
        return self._run(prekeys.count_prekeys, device_id)

    # --- mailbox ---------------------------------------------------------------

    def store_envelopes(
        self, envelopes: Sequence[Envelope], expires: int, quota: MailboxQuota,
        owners: Mapping[str, str] | None = None,
    ) -> defer.Deferred[None]:
        return self._run(mailbox.store_envelopes, list(envelopes), expires, quota,
                         self._known_pairs, dict(owners or {}))

    def fetch_mailbox(
        self, device_id: str, now: int, limit: int, max_bytes: int, overhead: int
    ) -> defer.Deferred[MailboxPage]:
        return self._run(mailbox.fetch_mailbox, device_id, now, limit, max_bytes, overhead)

    def ack(self, device_id: str, ids: Sequence[str]) -> defer.Deferred[int]:
        return self._run(mailbox.ack, device_id, list(ids))

    def purge_expired(self, now: int) -> defer.Deferred[int]:
        return self._run(mailbox.purge_expired, now)

    def relay_secret(self, name: str) -> defer.Deferred[bytes]:
        return self._run(_relay_secret, name, os.urandom(32))

    # --- blob metadata -------------------------------------------------------------

    def create_blob(self, blob: blobs.BlobRecord, quota_bytes: int, max_count: int,
                    now: int) -> defer.Deferred[None]:
        return self._run(blobs.create_blob, blob, quota_bytes, max_count, now)

    def get_blob(self, blob_id: str) -> defer.Deferred[blobs.BlobRecord | None]:
        return self._run(blobs.get_blob, blob_id)

    def blob_chunk_stored(self, blob_id: str, index: int, size: int) -> defer.Deferred[None]:
        return self._run(blobs.chunk_stored, blob_id, index, size)

    def blob_missing(self, blob_id: str, count: int) -> defer.Deferred[list[int]]:
        return self._run(blobs.missing_chunks, blob_id, count)

    def finish_blob(self, blob_id: str, count: int) -> defer.Deferred[list[int]]:
        return self._run(blobs.finish_blob, blob_id, count)

    def delete_blob(self, blob_id: str) -> defer.Deferred[bool]:
        return self._run(blobs.delete_blob, blob_id)

    def purge_blobs(self, now: int, unfinished_before: int) -> defer.Deferred[list[str]]:
        return self._run(blobs.purge_blobs, now, unfinished_before)


def _private_files(path: str) -> None:
    """The database holds SCRAM verifiers and recovery blobs: readable by the relay's
    user only (L7). SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:":
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.chmod(name, 0o600)


def _relay_secret(conn: sqlite3.Connection, name: str, fresh: bytes) -> bytes:
    conn.execute("INSERT OR IGNORE INTO relay_secrets VALUES (?,?)", (name, fresh))
    (value,) = conn.execute("SELECT value FROM relay_secrets WHERE name=?", (name,)).fetchone()
    return bytes(value)
