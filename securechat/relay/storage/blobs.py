"""Blob metadata in the relay database (the encrypted file sharing of relay.blobs): one
row per blob and one per chunk stored, with each account's usage summed from its rows.
The ciphertext itself is on disk (relay.blobstore); each operation runs on the
database thread inside a savepoint (see securechat.relay.storage)."""

from __future__ import annotations

import json
import sqlite3

import attrs

from securechat.relay.storage.interface import BlobQuotaExceeded

# Migration 2 (appended to schema.MIGRATIONS); IF NOT EXISTS, as a database from before
# numbered migrations runs every step again.
SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    blob_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,            -- the uploader's user id
    owner_device TEXT NOT NULL,
    size INTEGER NOT NULL,          -- ciphertext bytes
    chunk_size INTEGER NOT NULL,    -- every chunk's size but the last one's
    chunk_count INTEGER NOT NULL,
    token_hash BLOB NOT NULL,       -- SHA-256 of the read capability
    readers TEXT NOT NULL,          -- JSON list of the device ids that may read it
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS blobs_by_owner ON blobs(owner);
CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs(expires);
CREATE TABLE IF NOT EXISTS blob_chunks (
    blob_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (blob_id, idx)
) WITHOUT ROWID;
"""


@attrs.frozen
class BlobRecord:
    """What the relay knows of one blob (never its key: it cannot read it)."""

    blob_id: str
    owner: str
    owner_device: str
    size: int
    chunk_size: int
    chunk_count: int
    token_hash: bytes
    readers: tuple[str, ...]
    created: int
    expires: int
    finished: bool = False
    # The accounts sharing the blob: the uploader's and its readers' at `create` (any
    # device of these reads it with the token; kept, so a reader removed since counts).
    parties: tuple[str, ...] = ()

    def chunk_length(self, index: int) -> int:
        """The ciphertext bytes chunk `index` must have."""
        if index < self.chunk_count - 1:
            return self.chunk_size
        return self.size - self.chunk_size * (self.chunk_count - 1)


_COLUMNS = ("blob_id, owner, owner_device, size, chunk_size, chunk_count, token_hash, "
            "readers, created, expires, finished, parties")


def add_parties(conn: sqlite3.Connection) -> None:
    """Migration 3 (appended to schema.MIGRATIONS): the accounts sharing each blob, whose
    devices may read it ('[]' for blobs from before it: named readers and the uploader's
    account only then).
    Only if missing, as a database from before numbered migrations runs every step."""
    if "parties" not in {row[1] for row in conn.execute("PRAGMA table_info(blobs)")}:
        conn.execute("ALTER TABLE blobs ADD COLUMN parties TEXT NOT NULL DEFAULT '[]'")


def _record(row: tuple) -> BlobRecord:  # type: ignore[type-arg]
    (blob_id, owner, owner_device, size, chunk_size, chunk_count, token_hash, readers,
     created, expires, finished, parties) = row
    return BlobRecord(blob_id, owner, owner_device, size, chunk_size, chunk_count,
                      bytes(token_hash), tuple(json.loads(readers)), created, expires,
                      bool(finished), tuple(json.loads(parties)))


def create_blob(conn: sqlite3.Connection, blob: BlobRecord, quota_bytes: int,
                max_count: int, now: int) -> None:
    """Store a new blob's record, if the owner's live blobs leave room for its size."""
    count, used = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE owner=? AND expires>?",
        (blob.owner, now)).fetchone()
    if count >= max_count or used + blob.size > quota_bytes:
        raise BlobQuotaExceeded(used, quota_bytes, count, max_count)
    conn.execute(
        f"INSERT INTO blobs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
        (blob.blob_id, blob.owner, blob.owner_device, blob.size, blob.chunk_size,
         blob.chunk_count, blob.token_hash, json.dumps(list(blob.readers)), blob.created,
         blob.expires, 0, json.dumps(list(blob.parties))))


def get_blob(conn: sqlite3.Connection, blob_id: str) -> BlobRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM blobs WHERE blob_id=?",  # noqa: S608
                       (blob_id,)).fetchone()
    return _record(row) if row else None


def chunk_stored(conn: sqlite3.Connection, blob_id: str, index: int, size: int) -> None:
    conn.execute("INSERT OR REPLACE INTO blob_chunks VALUES (?,?,?)", (blob_id, index, size))


def missing_chunks(conn: sqlite3.Connection, blob_id: str, count: int) -> list[int]:
    """The indexes of the chunks not stored yet, in order."""
    stored = {i for (i,) in conn.execute("SELECT idx FROM blob_chunks WHERE blob_id=?",
                                         (blob_id,))}
    return [i for i in range(count) if i not in stored]


def finish_blob(conn: sqlite3.Connection, blob_id: str, count: int) -> list[int]:
    """Mark the blob readable if every chunk is stored; returns the missing ones."""
    missing = missing_chunks(conn, blob_id, count)
    if not missing:
        conn.execute("UPDATE blobs SET finished=1 WHERE blob_id=?", (blob_id,))
    return missing


def delete_blob(conn: sqlite3.Connection, blob_id: str) -> bool:
    conn.execute("DELETE FROM blob_chunks WHERE blob_id=?", (blob_id,))
    return conn.execute("DELETE FROM blobs WHERE blob_id=?", (blob_id,)).rowcount > 0


def purge_blobs(conn: sqlite3.Connection, now: int, unfinished_before: int,
                limit: int = 1000) -> list[str]:
    """Forget expired blobs, and uploads left unfinished since before `unfinished_before`;
    returns their ids (their files are removed by the caller)."""
    ids = [b for (b,) in conn.execute(
        "SELECT blob_id FROM blobs WHERE expires<=? OR (finished=0 AND created<?) LIMIT ?",
        (now, unfinished_before, limit))]
    for blob_id in ids:
        delete_blob(conn, blob_id)
    return ids
