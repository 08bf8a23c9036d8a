"""Mailboxes in the relay database, with their usage counters (per device, per sender
and for the whole relay) and the pairs of users it has routed between: the operations,
each run on the database thread inside a savepoint (see securechat.relay.storage)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

from securechat.relay.records import Envelope, MailboxQuota
from securechat.relay.storage.interface import MailboxFull, MailboxPage, StorageFull


def store_envelopes(
    conn: sqlite3.Connection, envelopes: list[Envelope], expires: int, quota: MailboxQuota,
    known_pairs: PairCache, owners: dict[str, str],
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
        owner = checked_owner(conn, e, quota, count, size, owners, "?")
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


def checked_owner(conn: Any, e: Envelope, quota: MailboxQuota, count: int, size: int,
                  owners: dict[str, str], mark: str) -> str:
    """Raise MailboxFull if the device's mailbox now holds more than `quota` (`count`
    envelopes, `size` bytes); else the user owning the device (from `owners`, or read
    with parameters written `mark`, as the storage backends' placeholders differ)."""
    if count > quota.max_count or size > quota.max_bytes:
        raise MailboxFull(e.device_id)
    owner = owners.get(e.device_id)
    if owner is None:
        row = conn.execute(f"SELECT user_id FROM devices WHERE device_id={mark}",  # noqa: S608
                           (e.device_id,)).fetchone()
        owner = owners[e.device_id] = row[0] if row else ""
    return owner


def pair_of(sender: str, recipient: str) -> bytes:
    return hashlib.sha256(f"{sender}:{recipient}".encode()).digest()


class PairCache:
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
                        quota: MailboxQuota, known: PairCache) -> None:
    """One other user may fill only a share of a device's mailbox, and a stranger (its
    owner never wrote to them through this relay) only a little: a flood by one sender
    leaves room for everyone else's messages."""
    sent = pair_of(e.from_user, owner)
    # Only rows that were there before this transaction are cached: one it adds could
    # still be undone (a full mailbox), and would then be added again next time.
    if sent not in known and conn.execute("INSERT OR IGNORE INTO routed_pairs VALUES (?)",
                                          (sent,)).rowcount == 0:
        known.add(sent)
    answered = pair_of(owner, e.from_user)
    stranger = answered not in known
    if stranger and conn.execute("SELECT 1 FROM routed_pairs WHERE pair=?",
                                 (answered,)).fetchone() is not None:
        known.add(answered)
        stranger = False
    count, size = conn.execute(
        "INSERT INTO mailbox_sender_usage VALUES (?,?,1,?) ON CONFLICT(device_id, from_user) "
        "DO UPDATE SET count=count+1, bytes=bytes+excluded.bytes RETURNING count, bytes",
        (e.device_id, e.from_user, e.size)).fetchone()
    check_share(e, quota, stranger, count, size)


def check_share(e: Envelope, quota: MailboxQuota, stranger: bool, count: int,
                size: int) -> None:
    """Raise MailboxFull if the sender now has more in the device's mailbox (`count`
    envelopes, `size` bytes) than a stranger's or a contact's share (storage backends
    share this rule)."""
    if stranger:
        most_count, most_bytes = quota.stranger_count, quota.stranger_bytes
    else:
        most_count = max(1, int(quota.max_count * quota.sender_share))
        most_bytes = max(1, int(quota.max_bytes * quota.sender_share))
    if count > most_count or size > most_bytes:
        raise MailboxFull(e.device_id, sender_share=True)


def cut_page(rows: Iterable[tuple[int, int]], limit: int, max_bytes: int,
             overhead: int) -> tuple[list[int], bool]:
    """From (row key, size) rows, oldest first: the keys of one page (at most `limit`,
    within `max_bytes` counting `overhead` each, but at least one) and whether more
    are left."""
    keys: list[int] = []
    budget = max_bytes
    for key, size in rows:
        budget -= size + overhead
        if len(keys) >= limit or (keys and budget < 0):
            return keys, True
        keys.append(key)
    return keys, False


def tally_removed(removed: Iterable[tuple[str, int, str]]
                  ) -> tuple[dict[str, list[int]], dict[tuple[str, str], list[int]]]:
    """[count, bytes] per device and per (device, sender) of removed (device id, size,
    sender) rows."""
    per_device: dict[str, list[int]] = {}
    per_sender: dict[tuple[str, str], list[int]] = {}
    for device_id, size, from_user in removed:
        for totals in (per_device.setdefault(device_id, [0, 0]),
                       per_sender.setdefault((device_id, from_user), [0, 0])):
            totals[0] += 1
            totals[1] += size
    return per_device, per_sender


_ENVELOPE_COLUMNS = "id, device_id, from_user, from_device, ts, v, alg, type, body"


def fetch_mailbox(
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
    rowids, more = cut_page(cursor, limit, max_bytes, overhead)
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
    per_device, per_sender = tally_removed(removed)
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


def ack(conn: sqlite3.Connection, device_id: str, ids: list[str]) -> int:
    # Owner check in the query itself: a device can only ever delete its own.
    placeholders = ",".join("?" * len(ids))
    removed = conn.execute(
        f"DELETE FROM mailbox WHERE device_id=? AND id IN ({placeholders}) "  # noqa: S608
        "RETURNING device_id, size, from_user",
        (device_id, *ids),
    ).fetchall()
    return _forget_usage(conn, removed)


def purge_expired(conn: sqlite3.Connection, now: int) -> int:
    removed = conn.execute(
        "DELETE FROM mailbox WHERE expires<=? RETURNING device_id, size, from_user", (now,)
    ).fetchall()
    return _forget_usage(conn, removed)
