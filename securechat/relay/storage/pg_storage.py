"""`IRelayStorage` on PostgreSQL, for relay clusters (many nodes, one database).

psycopg 3 (blocking, the C-accelerated `binary` build) on a few lanes of one thread
and one connection each (`pg_lanes`), group-committed the way SQLiteStorage runs on
its database thread: the reactor never waits on the database. A database restart
costs the operations in flight (StorageUnavailable, which senders see as
`sc.error.unavailable`), not the relay.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

import securechat.relay.storage.pg_accounts as pg_accounts
import securechat.relay.storage.pg_blobs as pg_blobs
import securechat.relay.storage.pg_mailbox as pg_mailbox
from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey
from securechat.relay.storage.blobs import BlobRecord
from securechat.relay.storage.interface import IRelayStorage, MailboxPage
from securechat.relay.storage.mailbox import PairCache
from securechat.relay.storage.pg_lanes import CONNECT_TIMEOUT, Lanes
from securechat.relay.storage.pg_schema import migrate

T = TypeVar("T")
POOL_SIZE = 8  # connections per node (PostgreSQL's max_connections / nodes bounds it)


def redact(dsn: str) -> str:
    """The DSN without its password, for logs and errors."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    return f"postgresql://{info.get('user', '')}@{info.get('host', '')}:" \
           f"{info.get('port', 5432)}/{info.get('dbname', '')}"


@implementer(IRelayStorage)
class PostgresStorage:
    log = Logger()

    def __init__(self, dsn: str, reactor: Any, pool_size: int = POOL_SIZE) -> None:
        self._dsn = dsn
        self._lanes = Lanes(dsn, reactor, pool_size)
        self._known_pairs = PairCache()  # shared by the lanes: set operations are atomic

    @property
    def name(self) -> str:
        return redact(self._dsn)

    def start(self) -> defer.Deferred[None]:
        self._lanes.start()

        def failed(failure: Any) -> Any:
            return self._lanes.stop().addCallback(lambda _: failure)
        return self._lanes.in_thread(self._migrate).addErrback(failed)

    def _migrate(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True,
                             connect_timeout=CONNECT_TIMEOUT) as conn:
            migrate(conn)

    def stop(self) -> defer.Deferred[None]:
        if not self._lanes.started:
            return defer.succeed(None)
        return self._lanes.stop()

    def _run(self, fn: Callable[..., T], *args: Any, device: str | None = None
             ) -> defer.Deferred[T]:
        return self._lanes.run(fn, *args, device=device)

    # --- accounts and devices ------------------------------------------------------

    def create_account(self, account: Account) -> defer.Deferred[None]:
        return self._run(pg_accounts.create_account, account)

    def get_account(self, user_id: str) -> defer.Deferred[Account | None]:
        return self._run(pg_accounts.get_account, user_id)

    def set_recovery_blob(self, user_id: str, blob: bytes) -> defer.Deferred[bool]:
        return self._run(pg_accounts.set_recovery_blob, user_id, blob)

    def replace_verifier(self, user_id: str, verifier: ScramVerifier,
                         current_salt: str | None = None) -> defer.Deferred[bool]:
        return self._run(pg_accounts.replace_verifier, user_id, verifier, current_salt)

    def add_device(self, device: Device, max_devices: int) -> defer.Deferred[None]:
        return self._run(pg_accounts.add_device, device, max_devices)

    def remove_device(self, user_id: str, device_id: str) -> defer.Deferred[bool]:
        return self._run(pg_accounts.remove_device, user_id, device_id)

    def certify_device(self, user_id: str, device_id: str, signature: str) -> defer.Deferred[bool]:
        return self._run(pg_accounts.certify_device, user_id, device_id, signature)

    def remove_pending_devices(self, created_before: int) -> defer.Deferred[list[Device]]:
        return self._run(pg_accounts.remove_pending_devices, created_before)

    def get_device(self, device_id: str) -> defer.Deferred[Device | None]:
        return self._run(pg_accounts.one_device, "device_id", device_id)

    def get_device_by_signing_key(self, signing_key: str) -> defer.Deferred[Device | None]:
        return self._run(pg_accounts.one_device, "signing_key", signing_key)

    def list_devices(self, user_id: str) -> defer.Deferred[list[Device]]:
        # One lane per user: reads of a user's devices answer in the order asked, so
        # sends waiting on them reach the store in order (as on SQLite's one thread).
        return self._run(pg_accounts.list_devices, user_id, device=user_id)

    def device_seen(self, device_id: str, now: int) -> defer.Deferred[None]:
        return self._run(pg_accounts.device_seen, device_id, now)

    def last_seen(self, user_id: str) -> defer.Deferred[dict[str, int]]:
        return self._run(pg_accounts.last_seen, user_id)

    # --- prekeys -------------------------------------------------------------------

    def add_prekeys(self, device_id: str, keys: Sequence[OneTimeKey],
                    max_total: int) -> defer.Deferred[int]:
        return self._run(pg_accounts.add_prekeys, device_id, list(keys), max_total)

    def claim_prekeys(self, user_id: str, device_ids: Sequence[str]
                      ) -> defer.Deferred[dict[str, OneTimeKey | None]]:
        return self._run(pg_accounts.claim_prekeys, user_id, list(device_ids))

    def count_prekeys(self, device_id: str) -> defer.Deferred[int]:
        return self._run(pg_accounts.count_prekeys, device_id)

    # --- mailbox -------------------------------------------------------------------

    def store_envelopes(self, envelopes: Sequence[Envelope], expires: int,
                        quota: MailboxQuota, owners: Mapping[str, str] | None = None,
                        ) -> defer.Deferred[None]:
        return self._run(pg_mailbox.store_envelopes, list(envelopes), expires, quota,
                         self._known_pairs, dict(owners or {}),
                         device=envelopes[0].from_device if envelopes else None)

    def fetch_mailbox(self, device_id: str, now: int, limit: int, max_bytes: int,
                      overhead: int) -> defer.Deferred[MailboxPage]:
        return self._run(pg_mailbox.fetch_mailbox, device_id, now, limit, max_bytes, overhead,
                         device=device_id)

    def ack(self, device_id: str, ids: Sequence[str]) -> defer.Deferred[int]:
        return self._run(pg_mailbox.ack, device_id, list(ids), device=device_id)

    def purge_expired(self, now: int) -> defer.Deferred[int]:
        return self._run(pg_mailbox.purge_expired, now)

    def relay_secret(self, name: str) -> defer.Deferred[bytes]:
        return self._run(pg_accounts.relay_secret, name, os.urandom(32))

    # --- blob metadata (the bytes: relay.blobstore, a directory the nodes share) ------

    def create_blob(self, blob: BlobRecord, quota_bytes: int, max_count: int,
                    now: int) -> defer.Deferred[None]:
        return self._run(pg_blobs.create_blob, blob, quota_bytes, max_count, now)

    def get_blob(self, blob_id: str) -> defer.Deferred[BlobRecord | None]:
        return self._run(pg_blobs.get_blob, blob_id)

    def blob_chunk_stored(self, blob_id: str, index: int, size: int) -> defer.Deferred[None]:
        return self._run(pg_blobs.chunk_stored, blob_id, index, size)

    def blob_missing(self, blob_id: str, count: int) -> defer.Deferred[list[int]]:
        return self._run(pg_blobs.missing_chunks, blob_id, count)

    def finish_blob(self, blob_id: str, count: int) -> defer.Deferred[list[int]]:
        return self._run(pg_blobs.finish_blob, blob_id, count)

    def delete_blob(self, blob_id: str) -> defer.Deferred[bool]:
        return self._run(pg_blobs.delete_blob, blob_id)

    def purge_blobs(self, now: int, unfinished_before: int) -> defer.Deferred[list[str]]:
        return self._run(pg_blobs.purge_blobs, now, unfinished_before)

    def check(self) -> defer.Deferred[int]:
        """The schema version, read over a fresh connection (`--check`)."""
        return self._run(lambda conn: conn.execute(
            "SELECT version FROM schema_version").fetchone()[0])

