"""The relay's persistent state behind a small interface; SQLite by default.

Every operation runs on the database's own thread, group-committed with its
neighbours (`securechat.sqlite.SerialDatabase`), never on the reactor. The schema is
`MIGRATIONS`, run in order by `securechat.sqlite.migrate` (PRAGMA user_version): to
change it, append a step.

The package: `interface` (IRelayStorage, its refusals, MailboxPage), `schema` (the
migrations), `sqlite_storage` (SQLiteStorage), and the operations it runs by concern:
`accounts` (accounts and devices), `prekeys` and `mailbox` (with its usage counters).
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
    TooManyDevices,
    TooManyPrekeys,
)
from securechat.relay.storage.schema import MIGRATIONS
from securechat.relay.storage.sqlite_storage import SQLiteStorage

__all__ = [
    "MIGRATIONS", "AccountExists", "BlobQuotaExceeded", "DeviceExists", "IRelayStorage",
    "MailboxFull",    "MailboxPage", "NoSuchDevice", "SQLiteStorage", "StorageError", "StorageFull",
    "TooManyDevices", "TooManyPrekeys",
]
