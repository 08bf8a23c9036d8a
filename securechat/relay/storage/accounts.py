"""Accounts and devices in the relay database: the operations, each run on the
database thread inside a savepoint (see securechat.relay.storage)."""

from __future__ import annotations

import sqlite3

from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device
from securechat.relay.storage.interface import AccountExists, DeviceExists, TooManyDevices


def create_account(conn: sqlite3.Connection, a: Account) -> None:
    try:
        conn.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?)",
            (a.user_id, a.identity_key, a.scram_kdf, a.scram_salt, a.scram_iterations,
             a.scram_memory, a.stored_key, a.server_key, a.recovery_blob),
        )
    except sqlite3.IntegrityError:
        raise AccountExists(a.user_id) from None


def get_account(conn: sqlite3.Connection, user_id: str) -> Account | None:
    row = conn.execute("SELECT * FROM accounts WHERE user_id=?", (user_id,)).fetchone()
    return Account(*row) if row else None


def set_recovery_blob(conn: sqlite3.Connection, user_id: str, blob: bytes) -> bool:
    return bool(conn.execute("UPDATE accounts SET recovery_blob=? WHERE user_id=?",
                             (blob, user_id)).rowcount)


def replace_verifier(conn: sqlite3.Connection, user_id: str, v: ScramVerifier,
                     current_salt: str | None) -> bool:
    return bool(conn.execute(*verifier_update(user_id, v, current_salt, "?")).rowcount)


def verifier_update(user_id: str, v: ScramVerifier, current_salt: str | None,
                    mark: str) -> tuple[str, tuple[object, ...]]:
    """The UPDATE that replaces an account's SCRAM verifier, with parameters written
    `mark` (the storage backends' placeholders differ)."""
    query = (f"UPDATE accounts SET scram_kdf={mark}, scram_salt={mark}, "  # noqa: S608
             f"scram_iterations={mark}, scram_memory={mark}, stored_key={mark}, "
             f"server_key={mark} WHERE user_id={mark}")
    values: tuple[object, ...] = (v.kdf, v.salt, v.iterations, v.memory, v.stored_key,
                                  v.server_key, user_id)
    if current_salt is not None:  # compare and set: a replayed reset changes nothing
        query += f" AND scram_salt={mark}"
        values += (current_salt,)
    return query, values


def add_device(conn: sqlite3.Connection, d: Device, max_devices: int) -> None:
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


def remove_device(conn: sqlite3.Connection, user_id: str, device_id: str) -> bool:
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


def certify_device(conn: sqlite3.Connection, user_id: str, device_id: str,
                    signature: str) -> bool:
    return bool(conn.execute(
        "UPDATE devices SET signature=? WHERE device_id=? AND user_id=? AND signature=''",
        (signature, device_id, user_id)).rowcount)


def remove_pending_devices(conn: sqlite3.Connection, created_before: int) -> list[Device]:
    stale = [Device(*row) for row in conn.execute(
        "SELECT * FROM devices WHERE signature='' AND created<?", (created_before,))]
    for device in stale:
        remove_device(conn, device.user_id, device.device_id)
    return stale


def one_device(conn: sqlite3.Connection, column: str, value: str) -> Device | None:
    assert column in ("device_id", "signing_key")
    row = conn.execute(f"SELECT * FROM devices WHERE {column}=?", (value,)).fetchone()  # noqa: S608
    return Device(*row) if row else None


def list_devices(conn: sqlite3.Connection, user_id: str) -> list[Device]:
    rows = conn.execute(
        "SELECT * FROM devices WHERE user_id=? ORDER BY created, device_id", (user_id,)
    )
    return [Device(*row) for row in rows]


def device_seen(conn: sqlite3.Connection, device_id: str, now: int) -> None:
    # Only for an enrolled device: a removal that raced the WELCOME leaves no row behind.
    conn.execute("INSERT INTO device_activity SELECT ?, ? WHERE EXISTS (SELECT 1 FROM devices "
                 "WHERE device_id=?) ON CONFLICT(device_id) DO UPDATE "
                 "SET last_seen=excluded.last_seen", (device_id, now, device_id))


def last_seen(conn: sqlite3.Connection, user_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "SELECT a.device_id, a.last_seen FROM device_activity a JOIN devices d "
        "ON d.device_id = a.device_id WHERE d.user_id=?", (user_id,)))
