"""What a test reads in an account database to say that a text is gone from it."""

from __future__ import annotations

import sqlite3
from typing import Any


def traces(c: sqlite3.Connection, word: str) -> list[Any]:
    """Every place of the account database where `word` is still written: the
    messages, the search index (its own copy of the text and its terms), reactions and
    edit history."""
    c.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms "
              "USING fts5vocab(main, message_search, 'row')")
    like = f"%{word}%"
    return [
        *c.execute("SELECT 'messages', id FROM messages WHERE text LIKE ?", (like,)),
        *c.execute("SELECT 'search copy', id FROM message_search_content WHERE c0 LIKE ?",
                   (like,)),
        *c.execute("SELECT 'search term', term FROM temp.search_terms WHERE term = ?",
                   (word.lower(),)),
        *c.execute("SELECT 'edits', message_id FROM message_edits WHERE text LIKE ?",
                   (like,)),
    ]
