"""Mailboxes in the relay's PostgreSQL database, with their usage counters: the
operations, each run on a pool thread in its own transaction (see pg_storage). Same
semantics as `mailbox` on SQLite (the quota is checked from the counters the insert
updated; a full mailbox raises and the transaction undoes every write).

Several relay nodes write at once, so: counter rows are touched in device order (no
two stores deadlock), the relay-wide byte count is spread over a few rows (no single
row every store waits on), and the expiry purge runs on one node at a time (an
advisory lock the others skip)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from securechat.relay.records import Envelope, MailboxQuota
from securechat.relay.storage.interface import MailboxPage, StorageFull
from securechat.relay.storage.mailbox import (
    PairCache,
    check_share,
    checked_owner,
    cut_page,
    pair_of,
    tally_removed,
)
from securechat.relay.storage.pg_accounts import _shard
from securechat.relay.storage.pg_schema import PURGE_LOCK

Conn = Any  # psycopg.Connection


# One statement per envelope (a round trip, not three): the row and both counters,
# which answer with their new values.
_STORE_ONE = """
WITH m AS (INSERT INTO mailbox (id, device_id, from_user, from_device, ts, expires, v, alg,
                                type, body, body_text, size)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)),
u AS (INSERT INTO mailbox_usage VALUES (%s, 1, %s) ON CONFLICT(device_id) DO UPDATE SET
      count=mailbox_usage.count+1, bytes=mailbox_usage.bytes+excluded.bytes
      RETURNING count, bytes),
s AS (INSERT INTO mailbox_sender_usage VALUES (%s, %s, 1, %s) ON CONFLICT(device_id,
      from_user) DO UPDATE SET count=mailbox_sender_usage.count+1,
      bytes=mailbox_sender_usage.bytes+excluded.bytes RETURNING count, bytes)
SELECT u.count, u.bytes, s.count, s.bytes FROM u, s
"""


def store_envelopes(conn: Conn, envelopes: list[Envelope], expires: int, quota: MailboxQuota,
                    known_pairs: PairCache, owners: dict[str, str]) -> None:
    for e in sorted(envelopes, key=lambda e: e.device_id):  # counters locked in one order
        body = e.body.encode() if isinstance(e.body, str) else e.body
        count, size, sender_count, sender_size = conn.execute(_STORE_ONE, (
            e.id, e.device_id, e.from_user, e.from_device, e.ts, expires, e.v, e.alg, e.type,
            body, isinstance(e.body, str), e.size, e.device_id, e.size, e.device_id,
            e.from_user, e.size)).fetchone()
        owner = checked_owner(conn, e, quota, count, size, owners, "%s")
        if owner != e.from_user:  # my own devices' copies count against no share
            _check_sender_share(conn, e, owner, quota, known_pairs, sender_count,
                                sender_size)
    if _count_storage(conn, ((e.device_id, e.size) for e in envelopes)) > quota.total_bytes:
        raise StorageFull()


def _count_storage(conn: Conn, changes: Iterable[tuple[str, int]]) -> int:
    """Add (device id, bytes) changes to the relay-wide count: one update per row, in
    row order, after the per-device counters (the order every writer locks in).
    Returns the new total."""
    per_shard: dict[int, int] = {}
    for device_id, size in changes:
        shard = _shard(device_id)
        per_shard[shard] = per_shard.get(shard, 0) + size
    if not per_shard:
        return 0
    *first, (last, last_size) = sorted(per_shard.items())
    if first:
        with conn.cursor() as cur:
            cur.executemany("UPDATE storage_usage SET bytes=bytes+%s WHERE id=%s",
                            [(size, shard) for shard, size in first])
    # The last row's update and the total in one statement; the total is read from
    # before that update (a statement does not see its own WITH's changes).
    (total,) = conn.execute(
        "WITH up AS (UPDATE storage_usage SET bytes=bytes+%s WHERE id=%s) "
        "SELECT SUM(bytes)+%s FROM storage_usage", (last_size, last, last_size)).fetchone()
    return int(total)


def _check_sender_share(conn: Conn, e: Envelope, owner: str, quota: MailboxQuota,
                        known: PairCache, count: int, size: int) -> None:
    """As mailbox._check_sender_share: one other user fills only a share of a device's
    mailbox, a stranger only a little."""
    sent = pair_of(e.from_user, owner)
    if sent not in known and conn.execute(
            "INSERT INTO routed_pairs VALUES (%s) ON CONFLICT DO NOTHING",
            (sent,)).rowcount == 0:
        known.add(sent)  # there before this transaction: it cannot be undone
    answered = pair_of(owner, e.from_user)
    stranger = answered not in known
    if stranger and conn.execute("SELECT 1 FROM routed_pairs WHERE pair=%s",
                                 (answered,)).fetchone() is not None:
        known.add(answered)
        stranger = False
    check_share(e, quota, stranger, count, size)


_ENVELOPE_COLUMNS = "id, device_id, from_user, from_device, ts, v, alg, type, body, body_text"


def _envelope(row: Any) -> Envelope:
    *fields, body, body_text = row
    body = bytes(body)
    return Envelope(*fields, body=body.decode() if body_text else body)


def fetch_mailbox(conn: Conn, device_id: str, now: int, limit: int, max_bytes: int,
                  overhead: int) -> MailboxPage:
    # The page is cut from sequence numbers and sizes alone (the index holds them);
    # only then are the page's bodies loaded.
    rows = conn.execute(
        "SELECT seq, size FROM mailbox WHERE device_id=%s AND expires>%s ORDER BY ts, seq "
        "LIMIT %s", (device_id, now, limit + 1)).fetchall()
    seqs, more = cut_page(rows, limit, max_bytes, overhead)
    if not seqs:
        return MailboxPage([], more=False)
    page = conn.execute(f"SELECT {_ENVELOPE_COLUMNS} FROM mailbox WHERE seq = ANY(%s) "  # noqa: S608
                        "ORDER BY ts, seq", (seqs,))
    return MailboxPage([_envelope(row) for row in page], more)


def _forget_usage(conn: Conn, removed: Iterable[tuple[str, int, str]]) -> int:
    per_device, per_sender = tally_removed(removed)
    with conn.cursor() as cur:  # in device order, as stores lock them: no deadlock
        cur.executemany(
            "UPDATE mailbox_usage SET count=count-%s, bytes=bytes-%s WHERE device_id=%s",
            [(c, s, d) for d, (c, s) in sorted(per_device.items())])
        cur.executemany(
            "UPDATE mailbox_sender_usage SET count=count-%s, bytes=bytes-%s WHERE "
            "device_id=%s AND from_user=%s",
            [(c, s, d, u) for (d, u), (c, s) in sorted(per_sender.items())])
        cur.executemany("DELETE FROM mailbox_sender_usage WHERE device_id=%s AND "
                        "from_user=%s AND count<=0", sorted(per_sender))
    _count_storage(conn, ((d, -s) for d, (_, s) in per_device.items()))
    return sum(count for count, _ in per_device.values())


def ack(conn: Conn, device_id: str, ids: list[str]) -> int:
    # Owner check in the query itself: a device can only ever delete its own.
    removed = conn.execute(
        "DELETE FROM mailbox WHERE device_id=%s AND id = ANY(%s) "
        "RETURNING device_id, size, from_user", (device_id, list(ids))).fetchall()
    return _forget_usage(conn, removed)


def purge_expired(conn: Conn, now: int) -> int:
    # One node purges at a time: the others find the lock taken and skip this round.
    (mine,) = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PURGE_LOCK,)).fetchone()
    if not mine:
        return 0
    removed = conn.execute(
        "DELETE FROM mailbox WHERE expires<=%s RETURNING device_id, size, from_user",
        (now,)).fetchall()
    return _forget_usage(conn, removed)
