"""The relay's persistent state behind a small interface; SQLite by default.

Every operation runs on the database's own thread, group-committed with its
neighbours (`securechat.sqlite.SerialDatabase`), never on the reactor. The schema is
`MIGRATIONS`, run in order by `securechat.sqlite.migrate` (PRAGMA user_version): to
change it, append a step.

The package: `interface` (IRelayStorage, its refusals, MailboxPage), `schema` (the
migrations), `sqlite_storage` (SQLiteStorage), and the operations it runs by concern:
`accounts` (accounts and devices), `prekeys` and `mailbox` (with its usage counters).
For relay clusters, `pg_storage` (PostgresStorage) runs the same interface on
PostgreSQL (`pg_schema`, `pg_accounts`, `pg_mailbox`); `open_storage` picks one by the
`--db` value.
"""

from __future__ import annotations

from securechat.relay.storage.interface import (
    AccountExists,
    BlobQuotaExceeded,
    DeviceExists,
    IRelayStorage,
    MailboxFull,
    MailboxPage,
    NoSuchDevice,
    StorageError,
    StorageFull,
    StorageUnavailable,
    TooManyDevices,
    TooManyPrekeys,
)
from securechat.relay.storage.schema import MIGRATIONS
from securechat.relay.storage.sqlite_storage import SQLiteStorage


def open_storage(db: str, reactor: object) -> IRelayStorage:
    """PostgreSQL for a postgresql:// URL (psycopg, the `cluster` extra, is imported
    only then), else the SQLite file at this path."""
    if db.startswith(("postgresql://", "postgres://")):
        from securechat.relay.storage.pg_storage import PostgresStorage

        return PostgresStorage(db, reactor)
    return SQLiteStorage(db, reactor)


__all__ = [
    "MIGRATIONS", "AccountExists", "BlobQuotaExceeded", "DeviceExists", "IRelayStorage",
    "MailboxFull", "MailboxPage", "NoSuchDevice", "SQLiteStorage", "StorageError",
    "StorageFull", "StorageUnavailable", "TooManyDevices", "TooManyPrekeys", "open_storage",
]
