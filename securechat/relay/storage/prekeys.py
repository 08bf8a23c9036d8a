"""Devices' one-time and fallback keys in the relay database: the operations, each
run on the database thread inside a savepoint (see securechat.relay.storage)."""

from __future__ import annotations

import sqlite3

from securechat.relay.records import OneTimeKey
from securechat.relay.storage.interface import TooManyPrekeys


def count_prekeys(conn: sqlite3.Connection, device_id: str) -> int:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM one_time_keys WHERE device_id=?", (device_id,)
    ).fetchone()
    return int(count)


def add_prekeys(
    conn: sqlite3.Connection, device_id: str, keys: list[OneTimeKey], max_total: int
) -> int:
    one_time = [k for k in keys if not k.fallback]
    if count_prekeys(conn, device_id) + len(one_time) > max_total:
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
    return count_prekeys(conn, device_id)


def claim_prekeys(
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
