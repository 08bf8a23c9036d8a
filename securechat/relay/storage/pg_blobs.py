"""Blob metadata in the relay's PostgreSQL database (the encrypted file sharing of
relay.blobs): the operations, each run on a lane in its own transaction (see
pg_storage). Same semantics as `blobs` on SQLite (same rows, same record).

Several relay nodes write at once, so: an account's quota is checked with its
account row locked (two uploads starting on two nodes count one after the other, as
`add_device` counts devices), and the purge runs on one node at a time (an advisory
lock the others skip; the node that purged deletes the files)."""

from __future__ import annotations

import json
from typing import Any

from securechat.relay.storage.blobs import _COLUMNS, BlobRecord, _record
from securechat.relay.storage.interface import BlobQuotaExceeded
from securechat.relay.storage.pg_schema import BLOB_PURGE_LOCK

Conn = Any  # psycopg.Connection


def create_blob(conn: Conn, blob: BlobRecord, quota_bytes: int, max_count: int,
                now: int) -> None:
    # The owner's account row, locked: a create on another node waits for this one.
    conn.execute("SELECT 1 FROM accounts WHERE user_id=%s FOR UPDATE", (blob.owner,))
    count, used = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE owner=%s AND expires>%s",
        (blob.owner, now)).fetchone()
    if count >= max_count or used + blob.size > quota_bytes:
        raise BlobQuotaExceeded(int(used), quota_bytes, count, max_count)
    conn.execute(
        f"INSERT INTO blobs ({_COLUMNS}) VALUES "  # noqa: S608
        "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,FALSE,%s)",
        (blob.blob_id, blob.owner, blob.owner_device, blob.size, blob.chunk_size,
         blob.chunk_count, blob.token_hash, json.dumps(list(blob.readers)), blob.created,
         blob.expires, json.dumps(list(blob.parties))))


def get_blob(conn: Conn, blob_id: str) -> BlobRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM blobs WHERE blob_id=%s",  # noqa: S608
                       (blob_id,)).fetchone()
    return _record(row) if row else None


def chunk_stored(conn: Conn, blob_id: str, index: int, size: int) -> None:
    conn.execute("INSERT INTO blob_chunks VALUES (%s,%s,%s) ON CONFLICT (blob_id, idx) "
                 "DO UPDATE SET size=excluded.size", (blob_id, index, size))


def missing_chunks(conn: Conn, blob_id: str, count: int) -> list[int]:
    """The indexes of the chunks not stored yet, in order."""
    stored = {i for (i,) in conn.execute("SELECT idx FROM blob_chunks WHERE blob_id=%s",
                                         (blob_id,))}
    return [i for i in range(count) if i not in stored]


def finish_blob(conn: Conn, blob_id: str, count: int) -> list[int]:
    """Mark the blob readable if every chunk is stored; returns the missing ones."""
    missing = missing_chunks(conn, blob_id, count)
    if not missing:
        conn.execute("UPDATE blobs SET finished=TRUE WHERE blob_id=%s", (blob_id,))
    return missing


def delete_blob(conn: Conn, blob_id: str) -> bool:
    conn.execute("DELETE FROM blob_chunks WHERE blob_id=%s", (blob_id,))
    return bool(conn.execute("DELETE FROM blobs WHERE blob_id=%s", (blob_id,)).rowcount)


def purge_blobs(conn: Conn, now: int, unfinished_before: int, limit: int = 1000) -> list[str]:
    """Forget expired blobs, and uploads left unfinished since before `unfinished_before`
    (a batch); returns their ids, for the caller to remove their files. Another node
    purging meanwhile: nothing (this one skips the round)."""
    (mine,) = conn.execute("SELECT pg_try_advisory_xact_lock(%s)",
                           (BLOB_PURGE_LOCK,)).fetchone()
    if not mine:
        return []
    ids = [b for (b,) in conn.execute(
        "DELETE FROM blobs WHERE blob_id IN (SELECT blob_id FROM blobs WHERE expires<=%s "
        "OR (NOT finished AND created<%s) LIMIT %s) RETURNING blob_id",
        (now, unfinished_before, limit))]
    if ids:
        conn.execute("DELETE FROM blob_chunks WHERE blob_id = ANY(%s)", (ids,))
    return ids
