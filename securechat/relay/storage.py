"""The relay's persistent state behind a small interface; SQLite by default.

Every operation runs on the database's own thread, group-committed with its
neighbours (`securechat.sqlite.SerialDatabase`), never on the reactor.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from twisted.internet import defer
from zope.interface import Interface, implementer

from securechat.relay.records import Account, Device, Envelope, OneTimeKey
from securechat.sqlite import SerialDatabase


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
    def __init__(self, device_id: str) -> None:
        super().__init__(device_id)
        self.device_id = device_id


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

    def add_device(device: Device, max_devices: int) -> defer.Deferred[None]:
        """Enroll a device; fails with DeviceExists or TooManyDevices."""

    def remove_device(user_id: str, device_id: str) -> defer.Deferred[bool]:
        """Forget a device with its prekeys and mailbox; False if it was not the user's."""

    def get_device(device_id: str) -> defer.Deferred[Device | None]:
        """The device, or None."""

    def get_device_by_signing_key(signing_key: str) -> defer.Deferred[Device | None]:
        """The device whose cryptosign key this is, or None."""

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
        envelopes: Sequence[Envelope], expires: int, max_count: int, max_bytes: int
    ) -> defer.Deferred[None]:
        """Store all of them or none (MailboxFull names the first full mailbox)."""

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


_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS mailbox_usage (
    device_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
"""

# Columns added after the first release: (table, column, declaration).
_ADDED_COLUMNS = [
    ("one_time_keys", "signature", "TEXT"),  # the device's signature over the key
    ("fallback_keys", "signature", "TEXT"),
]


# Indexes of earlier releases that a newer one replaces.
_DROPPED_INDEXES = ["mailbox_by_device"]  # by mailbox_page


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    for index in _DROPPED_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for table, column, declaration in _ADDED_COLUMNS:
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


@implementer(IRelayStorage)
class SQLiteStorage:
    """`IRelayStorage` on one SQLite file in WAL mode, driven from one thread."""

    def __init__(self, path: str, reactor: Any) -> None:
        self._db = SerialDatabase(path, reactor, _create_schema,
                                  expected_errors=(StorageError,), name="relay-sqlite")
        self._run = self._db.run

    def start(self) -> defer.Deferred[None]:
        return self._db.start()

    def stop(self) -> defer.Deferred[None]:
        return self._db.stop()

    # --- accounts --------------------------------------------------------------

    def create_account(self, account: Account) -> defer.Deferred[None]:
        return self._run(_create_account, account)

    def get_account(self, user_id: str) -> defer.Deferred[Account | None]:
        return self._run(_get_account, user_id)

    # --- devices ---------------------------------------------------------------

    def add_device(self, device: Device, max_devices: int) -> defer.Deferred[None]:
        return self._run(_add_device, device, max_devices)

    def remove_device(self, user_id: str, device_id: str) -> defer.Deferred[bool]:
        return self._run(_remove_device, user_id, device_id)

    def get_device(self, device_id: str) -> defer.Deferred[Device | None]:
        return self._run(_one_device, "device_id", device_id)

    def get_device_by_signing_key(self, signing_key: str) -> defer.Deferred[Device | None]:
        return self._run(_one_device, "signing_key", signing_key)

    def list_devices(self, user_id: str) -> defer.Deferred[list[Device]]:
        return self._run(_list_devices, user_id)

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
        self, envelopes: Sequence[Envelope], expires: int, max_count: int, max_bytes: int
    ) -> defer.Deferred[None]:
        return self._run(_store_envelopes, list(envelopes), expires, max_count, max_bytes)

    def fetch_mailbox(
        self, device_id: str, now: int, limit: int, max_bytes: int, overhead: int
    ) -> defer.Deferred[MailboxPage]:
        return self._run(_fetch_mailbox, device_id, now, limit, max_bytes, overhead)

    def ack(self, device_id: str, ids: Sequence[str]) -> defer.Deferred[int]:
        return self._run(_ack, device_id, list(ids))

    def purge_expired(self, now: int) -> defer.Deferred[int]:
        return self._run(_purge_expired, now)


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


def _get_account(conn: sqlite3.Connection, user_id: str) -> Account | None:
    row = conn.execute("SELECT * FROM accounts WHERE user_id=?", (user_id,)).fetchone()
    return Account(*row) if row else None


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
        for table in ("one_time_keys", "fallback_keys", "mailbox", "mailbox_usage"):
            conn.execute(f"DELETE FROM {table} WHERE device_id=?", (device_id,))  # noqa: S608
    return bool(gone)


def _one_device(conn: sqlite3.Connection, column: str, value: str) -> Device | None:
    assert column in ("device_id", "signing_key")
    row = conn.execute(f"SELECT * FROM devices WHERE {column}=?", (value,)).fetchone()  # noqa: S608
    return Device(*row) if row else None


def _list_devices(conn: sqlite3.Connection, user_id: str) -> list[Device]:
    rows = conn.execute(
        "SELECT * FROM devices WHERE user_id=? ORDER BY created, device_id", (user_id,)
    )
    return [Device(*row) for row in rows]


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
    conn: sqlite3.Connection, envelopes: list[Envelope], expires: int, max_count: int,
    max_bytes: int,
) -> None:
    # Insert first, check the quota from the updated counters: a full mailbox
    # raises and the operation's savepoint undoes both writes.
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
        if count > max_count or size > max_bytes:
            raise MailboxFull(e.device_id)


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


def _forget_usage(conn: sqlite3.Connection, removed: Iterable[tuple[str, int]]) -> int:
    """Update the mailbox counters for removed (device id, size) rows; returns how many."""
    per_device: dict[str, list[int]] = {}
    for device_id, size in removed:
        totals = per_device.setdefault(device_id, [0, 0])
        totals[0] += 1
        totals[1] += size
    conn.executemany(
        "UPDATE mailbox_usage SET count=count-?, bytes=bytes-? WHERE device_id=?",
        [(count, size, device_id) for device_id, (count, size) in per_device.items()],
    )
    return sum(count for count, _ in per_device.values())


def _ack(conn: sqlite3.Connection, device_id: str, ids: list[str]) -> int:
    # Owner check in the query itself: a device can only ever delete its own.
    placeholders = ",".join("?" * len(ids))
    removed = conn.execute(
        f"DELETE FROM mailbox WHERE device_id=? AND id IN ({placeholders}) "  # noqa: S608
        "RETURNING device_id, size",
        (device_id, *ids),
    ).fetchall()
    return _forget_usage(conn, removed)


def _purge_expired(conn: sqlite3.Connection, now: int) -> int:
    removed = conn.execute(
        "DELETE FROM mailbox WHERE expires<=? RETURNING device_id, size", (now,)
    ).fetchall()
    return _forget_usage(conn, removed)
