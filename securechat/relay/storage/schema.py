"""The relay database's schema: `MIGRATIONS`, run in order by
`securechat.sqlite.migrate` (PRAGMA user_version). To change it, append a step."""

from __future__ import annotations

import sqlite3

import securechat.relay.storage.blobs as blob_schema
from securechat.sqlite import Step, execute_script, migrate

# Migration 1 (see _schema_before_migrations).
_SCHEMA_BEFORE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    scram_kdf TEXT NOT NULL,
    scram_salt TEXT NOT NULL,
    scram_iterations INTEGER NOT NULL,
    scram_memory INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    recovery_blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    signing_key TEXT NOT NULL UNIQUE,
    identity_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_by_user ON devices(user_id);
-- When each device last connected: shown to its own user only (linked devices).
CREATE TABLE IF NOT EXISTS device_activity (
    device_id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS one_time_keys (
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT,
    PRIMARY KEY (device_id, key_id)
);
CREATE TABLE IF NOT EXISTS fallback_keys (
    device_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS mailbox (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    from_device TEXT NOT NULL,
    ts INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    v INTEGER NOT NULL,
    alg TEXT NOT NULL,
    type INTEGER NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL
);
-- Covers the page query: ids (rowid), expiry and sizes without reading a body.
CREATE INDEX IF NOT EXISTS mailbox_page ON mailbox(device_id, ts, expires, size);
CREATE INDEX IF NOT EXISTS mailbox_by_expiry ON mailbox(expires);
-- Pairs of users the relay has carried an envelope between (sender -> recipient), as
-- SHA-256 of "sender:recipient": who counts as a stranger for mailbox shares.
CREATE TABLE IF NOT EXISTS routed_pairs (pair BLOB PRIMARY KEY) WITHOUT ROWID;
-- What each sender has in each device's mailbox (mailbox shares, without counting rows).
CREATE TABLE IF NOT EXISTS mailbox_sender_usage (
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (device_id, from_user)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage_usage (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox_usage (
    device_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
"""

# Migration 1: columns added after the first release, (table, column, declaration).
_ADDED_COLUMNS = [
    ("one_time_keys", "signature", "TEXT"),  # the device's signature over the key
    ("fallback_keys", "signature", "TEXT"),
]


# Migration 1: indexes of earlier releases that a newer one replaced.
_DROPPED_INDEXES = [
    "mailbox_by_device",  # by mailbox_page
    "mailbox_by_sender",  # by the counters in mailbox_sender_usage
]


def _schema_before_migrations(conn: sqlite3.Connection) -> None:
    """Migration 1: what relays ran at every start before numbered migrations (tables
    created IF NOT EXISTS, columns added and indexes dropped by hand, usage counters
    filled in). Their databases have user_version 0; on one that is up to date this
    changes nothing, on an older one it brings it up to date, on an empty file it makes
    everything."""
    execute_script(conn, _SCHEMA_BEFORE_MIGRATIONS)
    for index in _DROPPED_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for table, column, declaration in _ADDED_COLUMNS:
        if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    conn.execute("INSERT OR IGNORE INTO storage_usage SELECT 1, COALESCE(SUM(bytes), 0) "
                 "FROM mailbox_usage")
    if conn.execute("SELECT 1 FROM mailbox_sender_usage LIMIT 1").fetchone() is None:
        # A database from before sender shares: count what its mailboxes hold.
        conn.execute("INSERT INTO mailbox_sender_usage SELECT device_id, from_user, COUNT(*), "
                     "SUM(size) FROM mailbox GROUP BY device_id, from_user")


# Step N takes the schema to version N. Never edit a step that has shipped: append one.
MIGRATIONS: list[Step] = [
    _schema_before_migrations,
    blob_schema.SCHEMA,  # 2: the blob store's metadata (encrypted file sharing)
    blob_schema.add_parties,  # 3: the accounts sharing each blob (their devices read it)
]


def migrate_schema(conn: sqlite3.Connection) -> None:
    migrate(conn, MIGRATIONS)
