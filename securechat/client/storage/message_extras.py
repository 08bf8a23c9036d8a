"""Reactions and edits in the account database (client.message_actions), each run on
the database thread; `apply_reaction` and `apply_edit` are also the changes a received
frame makes, inside its envelope's transaction. Both apply only to a message of the
conversation `sid` (and an edit only to one its `author` wrote): the rule that keeps a
stranger, another contact or the other side from touching what they did not write."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs


@attrs.frozen
class MessageExtras:
    """What a conversation shows beside a message's text."""

    reactions: tuple[tuple[str, str], ...] = ()  # (reactor: "me" | "other", emoji)
    edited: bool = False

    @property
    def mine(self) -> str:
        """My reaction ("" for none)."""
        return next((emoji for who, emoji in self.reactions if who == "me"), "")


def apply_reaction(c: sqlite3.Connection, sid: str, message_id: str, reactor: str,
                   emoji: str, at: int) -> bool:
    """`reactor`'s reaction to a message of `sid`, unless a newer one is stored; whether
    it changed anything."""
    row = c.execute("SELECT sender, type FROM messages WHERE id=? AND sid=?",
                    (message_id, sid)).fetchone()
    if row is None or row[0] not in ("me", "other") or row[1] == "deleted":
        return False  # nothing to react to (a system line, an unsent message's marker)
    old = c.execute("SELECT emoji, at FROM reactions WHERE message_id=? AND sid=? AND "
                    "reactor=?", (message_id, sid, reactor)).fetchone()
    if old is not None and (old[1] > at or old[0] == emoji):
        return False
    c.execute("INSERT OR REPLACE INTO reactions VALUES (?,?,?,?,?)",
              (message_id, sid, reactor, emoji, at))
    return True


def apply_edit(c: sqlite3.Connection, sid: str, message_id: str, author: str, text: str,
               at: int) -> str | None:
    """A new version of a text message `author` wrote in `sid`; returns the text the
    message shows now (the newest version), or None if there is no such message."""
    row = c.execute("SELECT text, timestamp FROM messages WHERE id=? AND sid=? AND "
                    "sender=? AND type='text'", (message_id, sid, author)).fetchone()
    if row is None:
        return None
    original, sent_at = row
    if not c.execute("SELECT 1 FROM message_edits WHERE message_id=? AND sid=? LIMIT 1",
                     (message_id, sid)).fetchone():
        c.execute("INSERT INTO message_edits VALUES (?,?,?,?)",
                  (message_id, sid, original, sent_at))
    # An edit is after the original, whatever the editor's clock says.
    c.execute("INSERT OR IGNORE INTO message_edits VALUES (?,?,?,?)",
              (message_id, sid, text, max(at, sent_at + 1)))
    (newest,) = c.execute("SELECT text FROM message_edits WHERE message_id=? AND sid=? "
                          "ORDER BY at DESC LIMIT 1", (message_id, sid)).fetchone()
    c.execute("UPDATE messages SET text=? WHERE id=? AND sid=?", (newest, message_id, sid))
    return str(newest)


def extras(c: sqlite3.Connection, sid: str,
           message_ids: Sequence[str]) -> dict[str, MessageExtras]:
    """Reactions and the edited mark of those of `message_ids` that have any."""
    found: dict[str, MessageExtras] = {}
    for start in range(0, len(message_ids), 500):
        ids = list(message_ids[start:start + 500])
        marks = ",".join("?" * len(ids))
        reactions: dict[str, list[tuple[str, str]]] = {}
        for mid, who, emoji in c.execute(
                f"SELECT message_id, reactor, emoji FROM reactions WHERE sid=? "  # noqa: S608
                f"AND emoji != '' AND message_id IN ({marks}) ORDER BY at", (sid, *ids)):
            reactions.setdefault(mid, []).append((who, emoji))
        edited = {mid for (mid,) in c.execute(
            f"SELECT DISTINCT message_id FROM message_edits WHERE sid=? "  # noqa: S608
            f"AND message_id IN ({marks})", (sid, *ids))}
        for mid in set(reactions) | edited:
            found[mid] = MessageExtras(tuple(reactions.get(mid, ())), mid in edited)
    return found


def versions(c: sqlite3.Connection, message_id: str) -> list[tuple[int, str]]:
    """Every version of an edited message, oldest (the original) first: (time, text)."""
    return [(int(at), str(text)) for at, text in c.execute(
        "SELECT at, text FROM message_edits WHERE message_id=? ORDER BY at", (message_id,))]
