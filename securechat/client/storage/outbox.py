"""The send path in the account database: the outbox, and the frames held from users
not known here as contacts yet (see securechat.client.storage)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from securechat.client.model import MessageStatus, StoredMessage
from securechat.client.olm import SessionRow
from securechat.client.storage.messages import insert_message


def queue(c: sqlite3.Connection, recipient: str, frame: bytes, copy_to_own: bool,
          message: StoredMessage | None) -> int:
    """Store a message (optimistically) and its encoded frame in the outbox,
    atomically; returns the entry's seq."""
    if message is not None:
        insert_message(c, message)
    return int(c.execute(
        "INSERT INTO outbox (recipient, frame, message_id, own) VALUES (?,?,?,?)",
        (recipient, frame, message.id if message else None, copy_to_own)).lastrowid
        or 0)


def outbox(c: sqlite3.Connection) -> list[tuple[int, str, bytes, str | None, bool]]:
    """(seq, recipient, frame, message id, copy to my devices), oldest first."""
    return [
        (seq, recipient, bytes(frame), message_id, bool(own))
        for seq, recipient, frame, message_id, own in c.execute(
            "SELECT seq, recipient, frame, message_id, own FROM outbox ORDER BY seq")]


def sent(c: sqlite3.Connection, entries: Sequence[tuple[int, str | None]],
         sessions: Sequence[SessionRow]) -> list[str]:
    """The relay accepted these outbox entries (seq, message id): drop them, keep the
    ratchets they advanced, all at once. Returns the ids of the messages whose tick
    moved to "sent" (not one a receipt moved further meanwhile)."""
    c.executemany("DELETE FROM outbox WHERE seq=?", [(seq,) for seq, _ in entries])
    c.executemany("INSERT OR REPLACE INTO olm_peer_sessions VALUES (?,?,?,?,?)", sessions)
    return [mid for _, mid in entries if mid is not None and c.execute(
        "UPDATE messages SET status=? WHERE id=? AND status<?",
        (MessageStatus.SENT, mid, MessageStatus.SENT)).rowcount]


def drop_outbox(c: sqlite3.Connection, seq: int) -> None:
    c.execute("DELETE FROM outbox WHERE seq=?", (seq,))


# --- frames held from non-contacts (kept within the limits of client.retention) ----------


def held_frames(c: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(sender, count, bytes) of what is held, per sender."""
    return c.execute(
        "SELECT sender, COUNT(*), SUM(LENGTH(frame)) FROM held_frames GROUP BY sender "
        "ORDER BY sender").fetchall()


def take_held(c: sqlite3.Connection, sender: str) -> list[bytes]:
    frames = [r[0] for r in c.execute(
        "SELECT frame FROM held_frames WHERE sender=? ORDER BY seq", (sender,))]
    c.execute("DELETE FROM held_frames WHERE sender=?", (sender,))
    return frames
