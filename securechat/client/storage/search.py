"""Message search in the account database (client.search): the FTS5 index the schema
keeps of every message's text, queried for whole words and word beginnings."""

from __future__ import annotations

import sqlite3

from securechat.client.model import StoredMessage
from securechat.client.storage.messages import _MESSAGE_COLUMNS

MAX_TERMS = 16


def fts_query(text: str) -> str | None:
    """The user's words as an FTS5 query: every word, each as a prefix (so "caf" finds
    "café"), quoted so that nothing the user types is FTS5 syntax. None if no word."""
    words = [w for w in text.replace('"', " ").split() if w][:MAX_TERMS]
    return " ".join(f'"{w}"*' for w in words) or None


def search(c: sqlite3.Connection, text: str, limit: int) -> list[StoredMessage]:
    """The newest `limit` messages, across every conversation, holding all the words."""
    query = fts_query(text)
    if query is None:
        return []
    columns = ", ".join(f"m.{name.strip()}" for name in _MESSAGE_COLUMNS.split(","))
    rows = c.execute(
        f"SELECT {columns} FROM message_search s JOIN messages m ON m.rowid = s.rowid "  # noqa: S608
        "WHERE message_search MATCH ? ORDER BY m.timestamp DESC, m.id DESC LIMIT ?",
        (query, limit)).fetchall()
    return [StoredMessage(*r) for r in rows]
