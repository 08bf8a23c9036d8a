"""How much a stranger can make this device keep, and for how long.

Frames from users who are not contacts here (yet) are held for when the friendship
becomes known on this device (`held_frames`), and every envelope id handled is
remembered so that a replay is skipped (`seen_envelopes`). Anyone can send envelopes
to anyone, so both are bounded: held frames per sender and in total, by count and
bytes; none are held from a user whose request was denied here; they go when their
sender is blocked or denied; and rows of both tables older than the relay's mailbox
lifetime (plus a margin) are dropped. The relay deletes an envelope at the end of
that lifetime, so nothing older can still come legitimately, and an old envelope a
relay replays after that is refused by Olm (its message key is used up).

These functions run on the database thread, inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

HELD_PER_SENDER = 50
HELD_BYTES_PER_SENDER = 256 * 1024  # the relay's largest envelope fits
HELD_TOTAL = 1000
HELD_BYTES_TOTAL = 4 * 1024 * 1024
MAILBOX_TTL_MS = 7 * 24 * 3600 * 1000  # the relay's default mailbox lifetime
KEEP_MS = MAILBOX_TTL_MS + 24 * 3600 * 1000  # plus a day: clocks differ
PRUNE_BATCH = 2000  # rows deleted per transaction: other work goes on in between


def hold(c: sqlite3.Connection, sender: str, frame: bytes, now_ms: int) -> bool:
    """Keep `frame` from `sender` unless that breaks a limit; False if it was dropped."""
    if c.execute("SELECT 1 FROM pending_requests WHERE user_id=? AND direction='in' "
                 "AND action='denied'", (sender,)).fetchone():
        return False
    count, size = c.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(frame)), 0) FROM held_frames "
                            "WHERE sender=?", (sender,)).fetchone()
    if count + 1 > HELD_PER_SENDER or size + len(frame) > HELD_BYTES_PER_SENDER:
        return False
    count, size = c.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(frame)), 0) "
                            "FROM held_frames").fetchone()
    if count + 1 > HELD_TOTAL or size + len(frame) > HELD_BYTES_TOTAL:
        return False
    c.execute("INSERT INTO held_frames (sender, frame, at) VALUES (?,?,?)",
              (sender, frame, now_ms))
    return True


def forget(c: sqlite3.Connection, sender: str) -> int:
    """Drop everything held from `sender` (blocked, or their request denied)."""
    return c.execute("DELETE FROM held_frames WHERE sender=?", (sender,)).rowcount


def prune_batch(c: sqlite3.Connection, now_ms: int) -> bool:
    """Delete expired held frames and up to PRUNE_BATCH expired seen ids; True if more
    seen ids may have expired."""
    cutoff = now_ms - KEEP_MS
    c.execute("DELETE FROM held_frames WHERE at < ?", (cutoff,))  # a few: they are capped
    c.execute("DELETE FROM deleted_messages WHERE at < ?", (cutoff,))
    # Seen ids are added in time order, so the oldest come first by rowid: walking them
    # needs no index on `at` (one page less to write for every envelope received).
    oldest = c.execute("SELECT rowid, at FROM seen_envelopes ORDER BY rowid LIMIT ?",
                       (PRUNE_BATCH,)).fetchall()
    expired = [(rowid,) for rowid, at in oldest if at < cutoff]
    c.executemany("DELETE FROM seen_envelopes WHERE rowid=?", expired)
    return len(expired) == PRUNE_BATCH
