"""Messages in the account database: the operations, each run on the database thread
(see securechat.client.storage). `mark_ids_read`, `raise_status` and `delete_message`
are also the changes a received frame makes, run inside its envelope's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs

from securechat.client.model import MessageType, StoredMessage

_MESSAGE_COLUMNS = "id, sid, sender, text, type, timestamp, status, is_read, reply_to"


def messages(c: sqlite3.Connection, sid: str, limit: int, before: tuple[int, str] | None,
             after: tuple[int, str] | None) -> list[StoredMessage]:
    """Oldest first: the newest `limit` messages before `before` (timestamp, id), or
    with `after`, the oldest `limit` after it."""
    if after is not None:
        ts, mid = after
        rows = c.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? AND "  # noqa: S608
            "(timestamp > ? OR (timestamp = ? AND id > ?)) "
            "ORDER BY timestamp, id LIMIT ?", (sid, ts, ts, mid, limit)).fetchall()
        return [StoredMessage(*r) for r in rows]
    ts, mid = before or (2**63 - 1, "")
    rows = c.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? AND "  # noqa: S608
        "(timestamp < ? OR (timestamp = ? AND id < ?)) "
        "ORDER BY timestamp DESC, id DESC LIMIT ?", (sid, ts, ts, mid, limit)).fetchall()
    return [StoredMessage(*r) for r in reversed(rows)]


def message(c: sqlite3.Connection, message_id: str) -> StoredMessage | None:
    row = c.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id=?",  # noqa: S608
                    (message_id,)).fetchone()
    return StoredMessage(*row) if row else None


def summaries(c: sqlite3.Connection) -> dict[str, tuple[StoredMessage | None, int]]:
    """Every session's newest message and unread count, in one trip to the database
    (the session list needs them all at once)."""
    return {sid: summary(c, sid)
            for (sid,) in c.execute("SELECT sid FROM sessions").fetchall()}


def summary(c: sqlite3.Connection, sid: str) -> tuple[StoredMessage | None, int]:
    """One session's newest message and unread count."""
    row = c.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? "  # noqa: S608
                    "ORDER BY timestamp DESC, id DESC LIMIT 1", (sid,)).fetchone()
    return StoredMessage(*row) if row else None, unread_count(c, sid)


def unread_count(c: sqlite3.Connection, sid: str) -> int:
    return int(c.execute("SELECT COUNT(*) FROM messages WHERE sid=? AND sender='other' "
                         "AND is_read=0", (sid,)).fetchone()[0])


def mark_read(c: sqlite3.Connection, sid: str) -> list[str]:
    """Mark the session's received messages read; returns the ids newly read."""
    ids = [r[0] for r in c.execute(
        "SELECT id FROM messages WHERE sid=? AND sender='other' AND is_read=0", (sid,))]
    c.execute("UPDATE messages SET is_read=1 WHERE sid=? AND sender='other' "
              "AND is_read=0", (sid,))
    return ids


def insert_message(c: sqlite3.Connection, message: StoredMessage) -> bool:
    """Insert-or-ignore by id: receiving the same message twice stores it once, and a
    deleted one never again. Returns whether it was new."""
    tombstone = c.execute("SELECT unsent FROM deleted_messages WHERE id=? AND sid=? AND "
                          "sender=?", (message.id, message.sid, message.sender)).fetchone()
    if tombstone is not None:
        if tombstone[0]:  # unsent before it came: only its marker is kept
            c.execute(f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS}) "  # noqa: S608
                      "VALUES (?,?,?,?,?,?,?,?,?)",
                      attrs.astuple(as_marker(message)))
        return False
    return bool(c.execute(f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS}) "  # noqa: S608
                          "VALUES (?,?,?,?,?,?,?,?,?)", attrs.astuple(message)).rowcount)


# --- changes a received frame makes, also run inside its envelope's transaction ---------


def mark_ids_read(c: sqlite3.Connection, sid: str, ids: Sequence[str]) -> list[str]:
    """Received messages read on another of my devices; returns those newly read here."""
    return [mid for mid in ids if c.execute(
        "UPDATE messages SET is_read=1 WHERE id=? AND sid=? AND sender='other' "
        "AND is_read=0", (mid, sid)).rowcount]


def raise_status(c: sqlite3.Connection, sid: str, ids: Sequence[str], status: int) -> list[str]:
    """Move my messages' ticks forward (never back); returns the ids that changed."""
    return [mid for mid in ids if c.execute(
        "UPDATE messages SET status=? WHERE id=? AND sid=? AND sender='me' AND status<?",
        (status, mid, sid, status)).rowcount]


def delete_message(c: sqlite3.Connection, message_id: str, sid: str, sender: str,
                   now: int) -> bool:
    """Delete for me: hard delete (no placeholder) of a message of this session and
    sender, leaving a tombstone (even if it has not arrived yet: it stays away); whether
    it was here."""
    c.execute("INSERT OR REPLACE INTO deleted_messages (id, sid, sender, at) VALUES "
              "(?,?,?,?)",
              (message_id, sid, sender, now))
    return bool(c.execute("DELETE FROM messages WHERE id=? AND sid=? AND sender=?",
                          (message_id, sid, sender)).rowcount)


def as_marker(message: StoredMessage) -> StoredMessage:
    """What stays of an unsent message: its place in the conversation, no text."""
    return attrs.evolve(message, text="", type=MessageType.DELETED, is_read=True)


def unsend_message(c: sqlite3.Connection, message_id: str, sid: str, sender: str,
                   now: int) -> StoredMessage | None:
    """Unsend (issue 11): the message of this session and sender stays as a marker,
    its text wiped (its reactions, edit history and search entry go by trigger), and
    a tombstone says it was unsent (even if it has not arrived yet: it comes as a
    marker). Returns the marker if the message was here and not one already; nothing
    changes if it was deleted for me here (nothing of it stays)."""
    tombstone = c.execute("SELECT unsent FROM deleted_messages WHERE id=? AND sid=? AND "
                          "sender=?", (message_id, sid, sender)).fetchone()
    if tombstone is not None and not tombstone[0]:
        return None
    c.execute("INSERT OR REPLACE INTO deleted_messages (id, sid, sender, at, unsent) "
              "VALUES (?,?,?,?,1)", (message_id, sid, sender, now))
    if not c.execute("UPDATE messages SET text='', type=?, is_read=1 WHERE id=? AND sid=? "
                     "AND sender=? AND type=?", (MessageType.DELETED, message_id, sid, sender,
                                                 MessageType.TEXT)).rowcount:
        return None
    return message(c, message_id)
