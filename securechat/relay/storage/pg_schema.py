"""The relay database's schema on PostgreSQL: `PG_MIGRATIONS`, run in order by
`migrate` with the same contract as `securechat.sqlite.migrate` (step N takes the
version from N-1 to N in its own transaction; a newer database raises
DatabaseTooNew, untouched). The version lives in `schema_version`; an advisory lock
makes nodes that start together run each step once.

The tables are those of `schema.py` in PostgreSQL's dialect. A new relay migration
appends a step to both lists (the SQLite one and this one).
"""

from __future__ import annotations

from typing import Any

from securechat.sqlite import DatabaseTooNew, Step

MIGRATION_LOCK = 0x5EC0C4A7  # pg_advisory_xact_lock key: one migrating node at a time
PURGE_LOCK = 0x5EC0C4A8  # pg_try_advisory_xact_lock key: one purging node at a time
BLOB_PURGE_LOCK = 0x5EC0C4A9  # the same for expired blobs (a purge of its own)
# Rows of the relay-wide byte counter (no single row every store waits on), as
# migration 1 makes them.
STORAGE_USAGE_SHARDS = 16

_SCHEMA_1 = """
CREATE TABLE accounts (
    user_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    scram_kdf TEXT NOT NULL,
    scram_salt TEXT NOT NULL,
    scram_iterations INTEGER NOT NULL,
    scram_memory INTEGER NOT NULL,
    stored_key BYTEA NOT NULL,
    server_key BYTEA NOT NULL,
    recovery_blob BYTEA NOT NULL
);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES accounts(user_id),
    signing_key TEXT NOT NULL UNIQUE,
    identity_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX devices_by_user ON devices(user_id);
CREATE TABLE device_activity (
    device_id TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL
);
CREATE TABLE one_time_keys (
    seq BIGSERIAL,
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT,
    PRIMARY KEY (device_id, key_id)
);
CREATE INDEX one_time_keys_order ON one_time_keys(device_id, seq);
CREATE TABLE fallback_keys (
    device_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    key TEXT NOT NULL,
    signature TEXT
);
-- body_text: the body was a string (a JSON client's base64), given back as one.
CREATE TABLE mailbox (
    seq BIGSERIAL,
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    from_device TEXT NOT NULL,
    ts BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    v INTEGER NOT NULL,
    alg TEXT NOT NULL,
    type INTEGER NOT NULL,
    body BYTEA NOT NULL,
    body_text BOOLEAN NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX mailbox_page ON mailbox(device_id, ts, seq) INCLUDE (expires, size);
CREATE INDEX mailbox_by_expiry ON mailbox(expires);
CREATE TABLE routed_pairs (pair BYTEA PRIMARY KEY);
CREATE TABLE mailbox_sender_usage (
    device_id TEXT NOT NULL,
    from_user TEXT NOT NULL,
    count INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (device_id, from_user)
);
CREATE TABLE storage_usage (
    id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 16),
    bytes BIGINT NOT NULL
);
INSERT INTO storage_usage SELECT g, 0 FROM generate_series(1, 16) g;
CREATE TABLE relay_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE mailbox_usage (
    device_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    bytes BIGINT NOT NULL
);
"""

# Migration 2: the blob store's metadata, the tables of storage.blobs.SCHEMA
# (operations: pg_blobs).
_BLOBS = """
CREATE TABLE blobs (
    blob_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    owner_device TEXT NOT NULL,
    size BIGINT NOT NULL,
    chunk_size INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    token_hash BYTEA NOT NULL,
    readers TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    finished BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX blobs_by_owner ON blobs(owner, expires);
CREATE INDEX blobs_by_expiry ON blobs(expires);
CREATE INDEX blobs_unfinished ON blobs(created) WHERE NOT finished;
CREATE TABLE blob_chunks (
    blob_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (blob_id, idx)
);
"""

# Step N takes the schema to version N. Never edit a step that has shipped: append one.
PG_MIGRATIONS: list[Step] = [
    _SCHEMA_1,
    _BLOBS,  # 2: the blob store's metadata (encrypted file sharing), as SQLite's 2
    # 3: the accounts sharing each blob (their devices read it), as SQLite's 3
    "ALTER TABLE blobs ADD COLUMN IF NOT EXISTS parties TEXT NOT NULL DEFAULT '[]'",
]


def migrate(conn: Any, steps: list[Step] = PG_MIGRATIONS) -> int:
    """Bring the database to version `len(steps)`; returns it. `conn`: a psycopg
    connection in autocommit mode."""
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > len(steps):
                raise DatabaseTooNew("the relay's PostgreSQL database", version, len(steps))
            if version == len(steps):
                return version
            step = steps[version]
            if isinstance(step, str):
                for statement in step.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
            else:
                step(conn)
            if row:
                conn.execute("UPDATE schema_version SET version=%s", (version + 1,))
            else:
                conn.execute("INSERT INTO schema_version VALUES (%s)", (version + 1,))
