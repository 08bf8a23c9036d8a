"""The relay's persistent state behind a small interface; SQLite by default.

Every operation runs on the database's own thread, group-committed with its
neighbours (`securechat.sqlite.SerialDatabase`), never on the reactor. The schema is
`MIGRATIONS`, run in order by `securechat.sqlite.migrate` (PRAGMA user_version): to
change it, append a step.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from twisted.internet import defer
from zope.interface import Interface, implementer

from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey
from securechat.sqlite import SerialDatabase, Step, execute_script, migrate


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


class StorageFull(StorageError):
    """Every mailbox together has reached the relay's disk budget."""


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


# Migration 1 (see _schema_before_migrations).
_SCHEMA_BEFORE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    scram_kdf TEXT NOT NULL,
    scram_salt TEXT NOT NULL,
    scram_iterations INTEGER NOT NULL,
    scram_memory INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    recovery_blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    signing_key TEXT NOT NULL UNIQUE,
    identity_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_by_user ON devices(user_id);
-- When each device last connected: shown to its own user only (linked devices).
CREATE TABLE IF NOT EXISTS device_activity (
    device_id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS one_time_keys (
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT,
    PRIMARY KEY (device_id, key_id)
);
CREATE TABLE IF NOT EXISTS fallback_keys (
    device_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS mailbox (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    from_device TEXT NOT NULL,
    ts INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    v INTEGER NOT NULL,
    alg TEXT NOT NULL,
    type INTEGER NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL
);
-- Covers the page query: ids (rowid), expiry and sizes without reading a body.
CREATE INDEX IF NOT EXISTS mailbox_page ON mailbox(device_id, ts, expires, size);
CREATE INDEX IF NOT EXISTS mailbox_by_expiry ON mailbox(expires);
-- Pairs of users the relay has carried an envelope between (sender -> recipient), as
-- SHA-256 of "sender:recipient": who counts as a stranger for mailbox shares.
CREATE TABLE IF NOT EXISTS routed_pairs (pair BLOB PRIMARY KEY) WITHOUT ROWID;
-- What each sender has in each device's mailbox (mailbox shares, without counting rows).
CREATE TABLE IF NOT EXISTS mailbox_sender_usage (
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (device_id, from_user)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage_usage (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox_usage (
    device_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
"""

# Migration 1: columns added after the first release, (table, column, declaration).
_ADDED_COLUMNS = [
    ("one_time_keys", "signature", "TEXT"),  # the device's signature over the key
    ("fallback_keys", "signature", "TEXT"),
]


# Migration 1: indexes of earlier releases that a newer one replaced.
_DROPPED_INDEXES = [
    "mailbox_by_device",  # by mailbox_page
    "mailbox_by_sender",  # by the counters in mailbox_sender_usage
]


def _schema_before_migrations(conn: sqlite3.Connection) -> None:
    """Migration 1: what relays ran at every start before numbered migrations (tables
    created IF NOT EXISTS, columns added and indexes dropped by hand, usage counters
    filled in). Their databases have user_version 0; on one that is up to date this
    changes nothing, on an older one it brings it up to date, on an empty file it makes
    everything."""
    execute_script(conn, _SCHEMA_BEFORE_MIGRATIONS)
    for index in _DROPPED_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for table, column, declaration in _ADDED_COLUMNS:
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    conn.execute("INSERT OR IGNORE INTO storage_usage SELECT 1, COALESCE(SUM(bytes), 0) "
                 "FROM mailbox_usage")
    if conn.execute("SELECT 1 FROM mailbox_sender_usage LIMIT 1").fetchone() is None:
        # A database from before sender shares: count what its mailboxes hold.
        conn.execute("INSERT INTO mailbox_sender_usage SELECT device_id, from_user, COUNT(*), "
                     "SUM(size) FROM mailbox GROUP BY device_id, from_user")


# Step N takes the schema to version N. Never edit a step that has shipped: append one.
MIGRATIONS: list[Step] = [_schema_before_migrations]


def _migrate(conn: sqlite3.Connection) -> None:
    migrate(conn, MIGRATIONS)


@implementer(IRelayStorage)
class SQLiteStorage:
    """`IRelayStorage` on one SQLite file in WAL mode, driven from one thread."""

    def __init__(self, path: str, reactor: Any) -> None:
        self._path = path
        self._db = SerialDatabase(path, reactor, _migrate,
                                  expected_errors=(StorageError,), name="relay-sqlite")
        self._run = self._db.run
        # Pairs of users known to be in routed_pairs (which only grows): the hot send path
        # then skips its two queries. Used on the database thread only.
        self._known_pairs = _PairCache()

    def start(self) -> defer.Deferred[None]:
        _private_files(self._path)
        return self._db.start()

    def stop(self) -> defer.Deferred[None]:
        return self._db.stop()

    # --- accounts --------------------------------------------------------------

    def create_account(self, account: Account) -> defer.Deferred[None]:
        return self._run(_create_account, account)

    def get_account(self, user_id: str) -> defer.Deferred[Account | None]:
        return self._run(_get_account, user_id)

    def set_recovery_blob(self, user_id: str, blob: bytes) -> defer.Deferred[bool]:
        return self._run(_set_recovery_blob, user_id, blob)

    def replace_verifier(self, user_id: str, verifier: ScramVerifier,
                         current_salt: str | None = None) -> defer.Deferred[bool]:
        return self._run(_replace_verifier, user_id, verifier, current_salt)

    # --- devices ---------------------------------------------------------------

    def add_device(self, device: Device, max_devices: int) -> defer.Deferred[None]:
        return self._run(_add_device, device, max_devices)

    def remove_device(self, user_id: str, device_id: str) -> defer.Deferred[bool]:
        return self._run(_remove_device, user_id, device_id)

    def certify_device(self, user_id: str, device_id: str, signature: str) -> defer.Deferred[bool]:
        return self._run(_certify_device, user_id, device_id, signature)

    def remove_pending_devices(self, created_before: int) -> defer.Deferred[list[Device]]:
        return self._run(_remove_pending_devices, created_before)

    def get_device(self, device_id: str) -> defer.Deferred[Device | None]:
        return self._run(_one_device, "device_id", device_id)

    def get_device_by_signing_key(self, signing_key: str) -> defer.Deferred[Device | None]:
        return self._run(_one_device, "signing_key", signing_key)

    def list_devices(self, user_id: str) -> defer.Deferred[list[Device]]:
        return self._run(_list_devices, user_id)

    def device_seen(self, device_id: str, now: int) -> defer.Deferred[None]:
        return self._run(_device_seen, device_id, now)

    def last_seen(self, user_id: str) -> defer.Deferred[dict[str, int]]:
        return self._run(_last_seen, user_id)

    # --- prekeys ---------------------------------------------------------------

    def add_prekeys(
        self, device_id: str, keys: Sequence[OneTimeKey], max_total: int
    ) -> defer.Deferred[int]:
        return self._run(_add_prekeys, device_id, list(keys), max_total)

    def claim_prekeys(
        self, user_id: str, device_ids: Sequence[str]
    ) -> defer.Deferred[dict[str, OneTimeKey | None]]:
        return self._run(_claim_prekeys, user_id, list(device_ids))

    def count_prekeys(self, device_id: str) -> defer.Deferred[int]:
        return self._run(_count_prekeys, device_id)

    # --- mailbox ---------------------------------------------------------------

    def store_envelopes(
        self, envelopes: Sequence[Envelope], expires: int, quota: MailboxQuota,
        owners: Mapping[str, str] | None = None,
    ) -> defer.Deferred[None]:
        return self._run(_store_envelopes, list(envelopes), expires, quota, self._known_pairs,
                         dict(owners or {}))

    def fetch_mailbox(
        self, device_id: str, now: int, limit: int, max_bytes: int, overhead: int
    ) -> defer.Deferred[MailboxPage]:
        return self._run(_fetch_mailbox, device_id, now, limit, max_bytes, overhead)

    def ack(self, device_id: str, ids: Sequence[str]) -> defer.Deferred[int]:
        return self._run(_ack, device_id, list(ids))

    def purge_expired(self, now: int) -> defer.Deferred[int]:
        return self._run(_purge_expired, now)

    def relay_secret(self, name: str) -> defer.Deferred[bytes]:
        return self._run(_relay_secret, name, os.urandom(32))


def _private_files(path: str) -> None:
    """The database holds SCRAM verifiers and recovery blobs: readable by the relay's
    user only (L7). SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:":
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.chmod(name, 0o600)


# --- the operations, each run on the database thread inside a savepoint -------


def _create_account(conn: sqlite3.Connection, a: Account) -> None:
    try:
        conn.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?)",
            (a.user_id, a.identity_key, a.scram_kdf, a.scram_salt, a.scram_iterations,
             a.scram_memory, a.stored_key, a.server_key, a.recovery_blob),
        )
    except sqlite3.IntegrityError:
        raise AccountExists(a.user_id) from None


def _relay_secret(conn: sqlite3.Connection, name: str, fresh: bytes) -> bytes:
    conn.execute("INSERT OR IGNORE INTO relay_secrets VALUES (?,?)", (name, fresh))
    (value,) = conn.execute("SELECT value FROM relay_secrets WHERE name=?", (name,)).fetchone()
    return bytes(value)


def _get_account(conn: sqlite3.Connection, user_id: str) -> Account | None:
    row = conn.execute("SELECT * FROM accounts WHERE user_id=?", (user_id,)).fetchone()
    return Account(*row) if row else None


def _set_recovery_blob(conn: sqlite3.Connection, user_id: str, blob: bytes) -> bool:
    return bool(conn.execute("UPDATE accounts SET recovery_blob=? WHERE user_id=?",
                             (blob, user_id)).rowcount)


def _replace_verifier(conn: sqlite3.Connection, user_id: str, v: ScramVerifier,
                      current_salt: str | None) -> bool:
    query = ("UPDATE accounts SET scram_kdf=?, scram_salt=?, scram_iterations=?, "
             "scram_memory=?, stored_key=?, server_key=? WHERE user_id=?")
    values: tuple[object, ...] = (v.kdf, v.salt, v.iterations, v.memory, v.stored_key,
                                  v.server_key, user_id)
    if current_salt is not None:  # compare and set: a replayed reset changes nothing
        query += " AND scram_salt=?"
        values += (current_salt,)
    return bool(conn.execute(query, values).rowcount)


def _add_device(conn: sqlite3.Connection, d: Device, max_devices: int) -> None:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM devices WHERE user_id=?", (d.user_id,)
    ).fetchone()
    if count >= max_devices:
        raise TooManyDevices(d.user_id)
    try:
        conn.execute(
            "INSERT INTO devices VALUES (?,?,?,?,?,?)",
            (d.device_id, d.user_id, d.signing_key, d.identity_key, d.signature, d.created),
        )
    except sqlite3.IntegrityError:
        raise DeviceExists(d.device_id) from None


def _remove_device(conn: sqlite3.Connection, user_id: str, device_id: str) -> bool:
    gone = conn.execute(
        "DELETE FROM devices WHERE device_id=? AND user_id=?", (device_id, user_id)
    ).rowcount
    if gone:
        conn.execute("UPDATE storage_usage SET bytes=bytes-COALESCE((SELECT bytes FROM "
                     "mailbox_usage WHERE device_id=?), 0)", (device_id,))
        for table in ("one_time_keys", "fallback_keys", "mailbox", "mailbox_usage",
                      "mailbox_sender_usage", "device_activity"):
            conn.execute(f"DELETE FROM {table} WHERE device_id=?", (device_id,))  # noqa: S608
    return bool(gone)


def _certify_device(conn: sqlite3.Connection, user_id: str, device_id: str,
                    signature: str) -> bool:
    return bool(conn.execute(
        "UPDATE devices SET signature=? WHERE device_id=? AND user_id=? AND signature=''",
        (signature, device_id, user_id)).rowcount)


def _remove_pending_devices(conn: sqlite3.Connection, created_before: int) -> list[Device]:
    stale = [Device(*row) for row in conn.execute(
        "SELECT * FROM devices WHERE signature='' AND created<?", (created_before,))]
    for device in stale:
        _remove_device(conn, device.user_id, device.device_id)
    return stale


def _one_device(conn: sqlite3.Connection, column: str, value: str) -> Device | None:
    assert column in ("device_id", "signing_key")
    row = conn.execute(f"SELECT * FROM devices WHERE {column}=?", (value,)).fetchone()  # noqa: S608
    return Device(*row) if row else None


def _list_devices(conn: sqlite3.Connection, user_id: str) -> list[Device]:
    rows = conn.execute(
        "SELECT * FROM devices WHERE user_id=? ORDER BY created, device_id", (user_id,)
    )
    return [Device(*row) for row in rows]


def _device_seen(conn: sqlite3.Connection, device_id: str, now: int) -> None:
    # Only for an enrolled device: a removal that raced the WELCOME leaves no row behind.
    conn.execute("INSERT INTO device_activity SELECT ?, ? WHERE EXISTS (SELECT 1 FROM devices "
                 "WHERE device_id=?) ON CONFLICT(device_id) DO UPDATE "
                 "SET last_seen=excluded.last_seen", (device_id, now, device_id))


def _last_seen(conn: sqlite3.Connection, user_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "SELECT a.device_id, a.last_seen FROM device_activity a JOIN devices d "
        "ON d.device_id = a.device_id WHERE d.user_id=?", (user_id,)))


def _count_prekeys(conn: sqlite3.Connection, device_id: str) -> int:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM one_time_keys WHERE device_id=?", (device_id,)
    ).fetchone()
    return int(count)


def _add_prekeys(
    conn: sqlite3.Connection, device_id: str, keys: list[OneTimeKey], max_total: int
) -> int:
    one_time = [k for k in keys if not k.fallback]
    if _count_prekeys(conn, device_id) + len(one_time) > max_total:
        raise TooManyPrekeys(device_id)
    conn.executemany(
        "INSERT OR IGNORE INTO one_time_keys VALUES (?,?,?,?)",
        [(device_id, k.key_id, k.key, k.signature) for k in one_time],
    )
    for k in keys:
        if k.fallback:
            conn.execute(
                "INSERT OR REPLACE INTO fallback_keys VALUES (?,?,?,?)",
                (device_id, k.key_id, k.key, k.signature),
            )
    return _count_prekeys(conn, device_id)


def _claim_prekeys(
    conn: sqlite3.Connection, user_id: str, device_ids: list[str]
) -> dict[str, OneTimeKey | None]:
    # One transaction on one thread: no key can be handed out twice, however
    # many claims race, because claims are serialised and the row is deleted
    # in the same savepoint that reads it.
    claimed: dict[str, OneTimeKey | None] = {}
    for (device_id,) in conn.execute(
        "SELECT device_id FROM devices WHERE user_id=? ORDER BY created, device_id", (user_id,)
    ).fetchall():
        if device_id not in device_ids:
            continue
        row = conn.execute(
            "SELECT key_id, key, signature FROM one_time_keys WHERE device_id=? "
            "ORDER BY rowid LIMIT 1",
            (device_id,),
        ).fetchone()
        if row:
            conn.execute(
                "DELETE FROM one_time_keys WHERE device_id=? AND key_id=?", (device_id, row[0])
            )
            claimed[device_id] = OneTimeKey(row[0], row[1], signature=row[2])
            continue
        row = conn.execute(
            "SELECT key_id, key, signature FROM fallback_keys WHERE device_id=?", (device_id,)
        ).fetchone()
        claimed[device_id] = (OneTimeKey(row[0], row[1], fallback=True, signature=row[2])
                              if row else None)
    return claimed


def _store_envelopes(
    conn: sqlite3.Connection, envelopes: list[Envelope], expires: int, quota: MailboxQuota,
    known_pairs: _PairCache, owners: dict[str, str],
) -> None:
    # Insert first, check the quota from the updated counters: a full mailbox
    # raises and the operation's savepoint undoes every write.
    for e in envelopes:
        conn.execute(
            "INSERT INTO mailbox VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (e.id, e.device_id, e.from_user, e.from_device, e.ts, expires, e.v, e.alg, e.type,
             e.body, e.size),
        )
        count, size = conn.execute(
            "INSERT INTO mailbox_usage VALUES (?,1,?) ON CONFLICT(device_id) DO UPDATE SET "
            "count=count+1, bytes=bytes+excluded.bytes RETURNING count, bytes",
            (e.device_id, e.size),
        ).fetchone()
        if count > quota.max_count or size > quota.max_bytes:
            raise MailboxFull(e.device_id)
        owner = owners.get(e.device_id)
        if owner is None:
            row = conn.execute("SELECT user_id FROM devices WHERE device_id=?",
                               (e.device_id,)).fetchone()
            owner = owners[e.device_id] = row[0] if row else ""
        if owner != e.from_user:
            _check_sender_share(conn, e, owner, quota, known_pairs)
        else:  # my own devices' copies count against no share, but are counted
            conn.execute(
                "INSERT INTO mailbox_sender_usage VALUES (?,?,1,?) ON CONFLICT(device_id, "
                "from_user) DO UPDATE SET count=count+1, bytes=bytes+excluded.bytes",
                (e.device_id, e.from_user, e.size))
    total = sum(e.size for e in envelopes)
    (used,) = conn.execute(
        "INSERT INTO storage_usage VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET "
        "bytes=bytes+excluded.bytes RETURNING bytes", (total,)).fetchone()
    if used > quota.total_bytes:
        raise StorageFull()


def _pair(sender: str, recipient: str) -> bytes:
    return hashlib.sha256(f"{sender}:{recipient}".encode()).digest()


class _PairCache:
    """A bounded set of routed pairs known to be stored (emptied when full)."""

    MAX = 100_000

    def __init__(self) -> None:
        self._pairs: set[bytes] = set()

    def __contains__(self, pair: bytes) -> bool:
        return pair in self._pairs

    def add(self, pair: bytes) -> None:
        if len(self._pairs) >= self.MAX:
            self._pairs.clear()
        self._pairs.add(pair)


def _check_sender_share(conn: sqlite3.Connection, e: Envelope, owner: str,
                        quota: MailboxQuota, known: _PairCache) -> None:
    """One other user may fill only a share of a device's mailbox, and a stranger (its
    owner never wrote to them through this relay) only a little: a flood by one sender
    leaves room for everyone else's messages."""
    sent = _pair(e.from_user, owner)
    # Only rows that were there before this transaction are cached: one it adds could
    # still be undone (a full mailbox), and would then be added again next time.
    if sent not in known and conn.execute("INSERT OR IGNORE INTO routed_pairs VALUES (?)",
                                          (sent,)).rowcount == 0:
        known.add(sent)
    answered = _pair(owner, e.from_user)
    stranger = answered not in known
    if stranger and conn.execute("SELECT 1 FROM routed_pairs WHERE pair=?",
                                 (answered,)).fetchone() is not None:
        known.add(answered)
        stranger = False
    count, size = conn.execute(
        "INSERT INTO mailbox_sender_usage VALUES (?,?,1,?) ON CONFLICT(device_id, from_user) "
        "DO UPDATE SET count=count+1, bytes=bytes+excluded.bytes RETURNING count, bytes",
        (e.device_id, e.from_user, e.size)).fetchone()
    if stranger:
        most_count, most_bytes = quota.stranger_count, quota.stranger_bytes
    else:
        most_count = max(1, int(quota.max_count * quota.sender_share))
        most_bytes = max(1, int(quota.max_bytes * quota.sender_share))
    if count > most_count or size > most_bytes:
        raise MailboxFull(e.device_id, sender_share=True)


_ENVELOPE_COLUMNS = "id, device_id, from_user, from_device, ts, v, alg, type, body"


def _fetch_mailbox(
    conn: sqlite3.Connection, device_id: str, now: int, limit: int, max_bytes: int,
    overhead: int,
) -> MailboxPage:
    # The page is cut from ids and sizes alone (a covering index, no body read);
    # only then are the page's bodies loaded. So a fetch holds one page of bodies
    # however full the mailbox, and draining n envelopes reads each body once.
    cursor = conn.execute(
        "SELECT rowid, size FROM mailbox WHERE device_id=? AND expires>? ORDER BY ts, rowid",
        (device_id, now),
    )
    rowids: list[int] = []
    more = False
    budget = max_bytes
    for rowid, size in cursor:
        budget -= size + overhead
        if len(rowids) >= limit or (rowids and budget < 0):
            more = True
            break
        rowids.append(rowid)
    cursor.close()
    if not rowids:
        return MailboxPage([], more=False)
    placeholders = ",".join("?" * len(rowids))
    rows = conn.execute(
        f"SELECT {_ENVELOPE_COLUMNS} FROM mailbox WHERE rowid IN ({placeholders}) "  # noqa: S608
        "ORDER BY ts, rowid",
        rowids,
    )
    return MailboxPage([Envelope(*row) for row in rows], more)


def _forget_usage(conn: sqlite3.Connection,
                  removed: Iterable[tuple[str, int, str]]) -> int:
    """Update the mailbox counters for removed (device id, size, sender) rows; returns
    how many."""
    per_device: dict[str, list[int]] = {}
    per_sender: dict[tuple[str, str], list[int]] = {}
    for device_id, size, from_user in removed:
        for totals in (per_device.setdefault(device_id, [0, 0]),
                       per_sender.setdefault((device_id, from_user), [0, 0])):
            totals[0] += 1
            totals[1] += size
    conn.executemany(
        "UPDATE mailbox_usage SET count=count-?, bytes=bytes-? WHERE device_id=?",
        [(count, size, device_id) for device_id, (count, size) in per_device.items()],
    )
    conn.executemany(
        "UPDATE mailbox_sender_usage SET count=count-?, bytes=bytes-? WHERE device_id=? AND "
        "from_user=?", [(count, size, device_id, from_user)
                        for (device_id, from_user), (count, size) in per_sender.items()])
    conn.executemany("DELETE FROM mailbox_sender_usage WHERE device_id=? AND from_user=? AND "
                     "count<=0", list(per_sender))
    conn.execute("UPDATE storage_usage SET bytes=bytes-?",
                 (sum(size for _, size in per_device.values()),))
    return sum(count for count, _ in per_device.values())


def _ack(conn: sqlite3.Connection, device_id: str, ids: list[str]) -> int:
    # Owner check in the query itself: a device can only ever delete its own.
    placeholders = ",".join("?" * len(ids))
    removed = conn.execute(
        f"DELETE FROM mailbox WHERE device_id=? AND id IN ({placeholders}) "  # noqa: S608
        "RETURNING device_id, size, from_user",
        (device_id, *ids),
    ).fetchall()
    return _forget_usage(conn, removed)


def _purge_expired(conn: sqlite3.Connection, now: int) -> int:
    removed = conn.execute(
        "DELETE FROM mailbox WHERE expires<=? RETURNING device_id, size, from_user", (now,)
    ).fetchall()
    return _forget_usage(conn, removed)
