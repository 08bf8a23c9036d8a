"""Accounts, devices and prekeys in the relay's PostgreSQL database: the operations,
each run on a pool thread in its own transaction (see pg_storage). Same semantics as
`accounts` and `prekeys` on SQLite; where several relay nodes may race, rows are
locked (`FOR UPDATE`, `SKIP LOCKED`) instead of relying on one writer thread."""

from __future__ import annotations

from typing import Any

import psycopg

from securechat.protocol.scram import ScramVerifier
from securechat.relay.records import Account, Device, OneTimeKey
from securechat.relay.storage.accounts import verifier_update
from securechat.relay.storage.interface import (
    AccountExists,
    DeviceExists,
    TooManyDevices,
    TooManyPrekeys,
)
from securechat.relay.storage.pg_schema import STORAGE_USAGE_SHARDS

Conn = Any  # psycopg.Connection


def _account(row: Any) -> Account:
    return Account(*row[:6], bytes(row[6]), bytes(row[7]), bytes(row[8]))


def create_account(conn: Conn, a: Account) -> None:
    try:
        with conn.transaction():  # a savepoint: the refusal leaves the transaction usable
            conn.execute("INSERT INTO accounts VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (a.user_id, a.identity_key, a.scram_kdf, a.scram_salt,
                          a.scram_iterations, a.scram_memory, a.stored_key, a.server_key,
                          a.recovery_blob))
    except psycopg.errors.UniqueViolation:
        raise AccountExists(a.user_id) from None


def get_account(conn: Conn, user_id: str) -> Account | None:
    row = conn.execute("SELECT * FROM accounts WHERE user_id=%s", (user_id,)).fetchone()
    return _account(row) if row else None


def set_recovery_blob(conn: Conn, user_id: str, blob: bytes) -> bool:
    return bool(conn.execute("UPDATE accounts SET recovery_blob=%s WHERE user_id=%s",
                             (blob, user_id)).rowcount)


def replace_verifier(conn: Conn, user_id: str, v: ScramVerifier,
                     current_salt: str | None) -> bool:
    return bool(conn.execute(*verifier_update(user_id, v, current_salt, "%s")).rowcount)


def add_device(conn: Conn, d: Device, max_devices: int) -> None:
    # The account row, locked: two nodes enrolling at once count one after the other.
    conn.execute("SELECT 1 FROM accounts WHERE user_id=%s FOR UPDATE", (d.user_id,))
    (count,) = conn.execute("SELECT COUNT(*) FROM devices WHERE user_id=%s",
                            (d.user_id,)).fetchone()
    if count >= max_devices:
        raise TooManyDevices(d.user_id)
    try:
        with conn.transaction():
            conn.execute("INSERT INTO devices VALUES (%s,%s,%s,%s,%s,%s)",
                         (d.device_id, d.user_id, d.signing_key, d.identity_key, d.signature,
                          d.created))
    except psycopg.errors.UniqueViolation:
        raise DeviceExists(d.device_id) from None


def remove_device(conn: Conn, user_id: str, device_id: str) -> bool:
    gone = conn.execute("DELETE FROM devices WHERE device_id=%s AND user_id=%s",
                        (device_id, user_id)).rowcount
    if gone:
        row = conn.execute("DELETE FROM mailbox_usage WHERE device_id=%s RETURNING bytes",
                           (device_id,)).fetchone()
        if row:
            conn.execute("UPDATE storage_usage SET bytes=bytes-%s WHERE id=%s",
                         (row[0], _shard(device_id)))
        for table in ("one_time_keys", "fallback_keys", "mailbox", "mailbox_sender_usage",
                      "device_activity"):
            conn.execute(f"DELETE FROM {table} WHERE device_id=%s", (device_id,))  # noqa: S608
    return bool(gone)


def _shard(device_id: str) -> int:
    """The storage_usage row a device's bytes are counted in (any row would do; the
    same one keeps a device's ups and downs together)."""
    return 1 + sum(device_id.encode()) % STORAGE_USAGE_SHARDS


def certify_device(conn: Conn, user_id: str, device_id: str, signature: str) -> bool:
    return bool(conn.execute(
        "UPDATE devices SET signature=%s WHERE device_id=%s AND user_id=%s AND signature=''",
        (signature, device_id, user_id)).rowcount)


def remove_pending_devices(conn: Conn, created_before: int) -> list[Device]:
    stale = [Device(*row) for row in conn.execute(
        "SELECT * FROM devices WHERE signature='' AND created<%s FOR UPDATE SKIP LOCKED",
        (created_before,))]
    for device in stale:
        remove_device(conn, device.user_id, device.device_id)
    return stale


def one_device(conn: Conn, column: str, value: str) -> Device | None:
    assert column in ("device_id", "signing_key")
    row = conn.execute(f"SELECT * FROM devices WHERE {column}=%s",  # noqa: S608
                       (value,)).fetchone()
    return Device(*row) if row else None


def list_devices(conn: Conn, user_id: str) -> list[Device]:
    rows = conn.execute("SELECT * FROM devices WHERE user_id=%s ORDER BY created, device_id",
                        (user_id,))
    return [Device(*row) for row in rows]


def device_seen(conn: Conn, device_id: str, now: int) -> None:
    conn.execute("INSERT INTO device_activity SELECT %s, %s WHERE EXISTS (SELECT 1 FROM "
                 "devices WHERE device_id=%s) ON CONFLICT(device_id) DO UPDATE "
                 "SET last_seen=excluded.last_seen", (device_id, now, device_id))


def last_seen(conn: Conn, user_id: str) -> dict[str, int]:
    return dict(conn.execute(
        "SELECT a.device_id, a.last_seen FROM device_activity a JOIN devices d "
        "ON d.device_id = a.device_id WHERE d.user_id=%s", (user_id,)).fetchall())


def relay_secret(conn: Conn, name: str, fresh: bytes) -> bytes:
    conn.execute("INSERT INTO relay_secrets VALUES (%s,%s) ON CONFLICT DO NOTHING",
                 (name, fresh))
    (value,) = conn.execute("SELECT value FROM relay_secrets WHERE name=%s",
                            (name,)).fetchone()
    return bytes(value)


# --- prekeys -----------------------------------------------------------------------


def count_prekeys(conn: Conn, device_id: str) -> int:
    (count,) = conn.execute("SELECT COUNT(*) FROM one_time_keys WHERE device_id=%s",
                            (device_id,)).fetchone()
    return int(count)


def add_prekeys(conn: Conn, device_id: str, keys: list[OneTimeKey], max_total: int) -> int:
    one_time = [k for k in keys if not k.fallback]
    # The device row, locked: two uploads at once cannot both pass the count.
    conn.execute("SELECT 1 FROM devices WHERE device_id=%s FOR UPDATE", (device_id,))
    if count_prekeys(conn, device_id) + len(one_time) > max_total:
        raise TooManyPrekeys(device_id)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO one_time_keys (device_id, key_id, key, signature) VALUES "
            "(%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            [(device_id, k.key_id, k.key, k.signature) for k in one_time])
    for k in keys:
        if k.fallback:
            conn.execute(
                "INSERT INTO fallback_keys VALUES (%s,%s,%s,%s) ON CONFLICT(device_id) DO "
                "UPDATE SET key_id=excluded.key_id, key=excluded.key, "
                "signature=excluded.signature", (device_id, k.key_id, k.key, k.signature))
    return count_prekeys(conn, device_id)


def claim_prekeys(conn: Conn, user_id: str,
                  device_ids: list[str]) -> dict[str, OneTimeKey | None]:
    # Each key is deleted by the statement that reads it, and a row another node is
    # claiming is skipped, not waited for: no key is handed out twice.
    claimed: dict[str, OneTimeKey | None] = {}
    for (device_id,) in conn.execute(
            "SELECT device_id FROM devices WHERE user_id=%s ORDER BY created, device_id",
            (user_id,)).fetchall():
        if device_id not in device_ids:
            continue
        row = conn.execute(
            "DELETE FROM one_time_keys WHERE ctid = (SELECT ctid FROM one_time_keys WHERE "
            "device_id=%s ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING key_id, key, signature", (device_id,)).fetchone()
        if row:
            claimed[device_id] = OneTimeKey(row[0], row[1], signature=row[2])
            continue
        row = conn.execute("SELECT key_id, key, signature FROM fallback_keys WHERE "
                           "device_id=%s", (device_id,)).fetchone()
        claimed[device_id] = (OneTimeKey(row[0], row[1], fallback=True, signature=row[2])
                              if row else None)
    return claimed
