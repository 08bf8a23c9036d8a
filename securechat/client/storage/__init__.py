"""One account's local database: its contacts, messages, requests, devices, Olm state
and outbox.

One SQLCipher file per account (WAL), driven from its own thread by
`SerialDatabase`. All of it is encrypted at rest (messages, contacts, requests, the
WAL too) under a key derived from the device's local key (`database_key`), which is
kept sealed under the master password or the PIN; a plaintext file left by an older
version is encrypted in place when it opens. Olm pickles are also encrypted by
vodozemac with the local key itself. The schema is `MIGRATIONS`, run in order by
`securechat.sqlite.migrate` (PRAGMA user_version): to change it, append a step. What
strangers can make it keep is bounded (`client.retention`).

The package: `schema` (the migrations and the database key), `store` (AccountStore,
the one entry point), and the operations it runs by concern: `contacts` (contacts,
other users' devices, pinned keys, notices of my own new devices), `requests`
(requests and blocks), `messages`, `inbox` (the receive path) and `outbox` (the send
path, and frames held from non-contacts).
"""

from __future__ import annotations

from securechat.client.errors import DatabaseFromNewerVersion, UnreadableDatabase
from securechat.client.storage.messages import (
    delete_message,
    mark_ids_read,
    raise_status,
    unsend_message,
)
from securechat.client.storage.messages import insert_message as _insert_message
from securechat.client.storage.schema import MIGRATIONS, database_key
from securechat.client.storage.schema import migrate_schema as _migrate
from securechat.client.storage.store import PRUNE_INTERVAL, AccountStore

__all__ = [
    "MIGRATIONS", "PRUNE_INTERVAL", "AccountStore", "DatabaseFromNewerVersion",
    "UnreadableDatabase", "_insert_message", "_migrate", "database_key", "delete_message",
    "mark_ids_read", "raise_status", "unsend_message",
]
