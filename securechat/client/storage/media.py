"""Shared files in the account database (client.files): the spec's `media` rows and what
each transfer needs to resume, run on the database thread (see
securechat.client.storage). `insert` is also the change a received FILE_INFO makes,
inside its envelope's transaction."""

from __future__ import annotations

import sqlite3

import attrs

import securechat.client.storage.outbox as outbox
from securechat.client.model import MediaItem, MediaStatus, StoredMessage
from securechat.client.storage.messages import insert_message


@attrs.frozen
class MediaRow:
    """A media row with its secrets (the file key and the relay read token)."""

    item: MediaItem
    peer: str
    blob_id: str | None
    token: bytes = attrs.field(repr=False)
    key: bytes = attrs.field(repr=False)
    chunk_size: int
    sha256: str


_COLUMNS = ("message_id, sid, direction, original_name, file_size, mime_type, status, "
            "filename, thumbnail, caption, error, created, peer, blob_id, token, file_key, "
            "chunk_size, sha256")


def _row(r: tuple) -> MediaRow:  # type: ignore[type-arg]
    return MediaRow(MediaItem(*r[:12]), r[12], r[13], bytes(r[14]), bytes(r[15]), r[16], r[17])


def insert(c: sqlite3.Connection, row: MediaRow) -> bool:
    """Store a media row (once: a repeated FILE_INFO changes nothing); True if new."""
    i = row.item
    return c.execute(
        f"INSERT OR IGNORE INTO media ({_COLUMNS}) VALUES "  # noqa: S608
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (i.message_id, i.sid, i.direction, i.original_name, i.file_size, i.mime_type,
         i.status, i.filename, i.thumbnail, i.caption, i.error, i.created, row.peer,
         row.blob_id, row.token, row.key, row.chunk_size, row.sha256)).rowcount > 0


def insert_outgoing(c: sqlite3.Connection, row: MediaRow, message: StoredMessage) -> None:
    """My file, encrypted here: its message (pending, shown at once) and its row."""
    insert_message(c, message)
    insert(c, row)


def insert_incoming(c: sqlite3.Connection, row: MediaRow, message: StoredMessage) -> bool:
    """A FILE_INFO: its message (unless here already) and its row; True if the file is
    new here."""
    insert_message(c, message)
    return insert(c, row)


def get(c: sqlite3.Connection, message_id: str) -> MediaRow | None:
    r = c.execute(f"SELECT {_COLUMNS} FROM media WHERE message_id=?",  # noqa: S608
                  (message_id,)).fetchone()
    return _row(r) if r else None


def set_blob(c: sqlite3.Connection, message_id: str, blob_id: str) -> None:
    c.execute("UPDATE media SET blob_id=? WHERE message_id=?", (blob_id, message_id))


def set_status(c: sqlite3.Connection, message_id: str, status: str,
               error: str | None = None) -> None:
    c.execute("UPDATE media SET status=?, error=? WHERE message_id=?",
              (status, error, message_id))


def uploaded(c: sqlite3.Connection, message_id: str, recipient: str, frame: bytes) -> int:
    """The upload is finished: FILE_INFO goes into the outbox (ticking the message
    "sent" once the relay takes it) in the same transaction as the status."""
    set_status(c, message_id, MediaStatus.SENT)
    seq = outbox.queue(c, recipient, frame, True, None)
    c.execute("UPDATE outbox SET message_id=? WHERE seq=?", (message_id, seq))
    return seq


def unfinished(c: sqlite3.Connection) -> list[str]:
    """Transfers to take up again when online (oldest first)."""
    return [m for (m,) in c.execute(
        "SELECT message_id FROM media WHERE status IN (?,?) ORDER BY created",
        (MediaStatus.UPLOADING, MediaStatus.DOWNLOADING))]


def by_session(c: sqlite3.Connection, sid: str) -> list[MediaItem]:
    """A conversation's shared files, newest first."""
    return [_row(r).item for r in c.execute(
        f"SELECT {_COLUMNS} FROM media WHERE sid=? ORDER BY created DESC",  # noqa: S608
        (sid,))]


def get_many(c: sqlite3.Connection, message_ids: list[str]) -> dict[str, MediaRow]:
    """The media rows of these messages (those that have one), by message id."""
    rows: dict[str, MediaRow] = {}
    for at in range(0, len(message_ids), 500):  # SQLite allows 999 parameters
        chunk = message_ids[at:at + 500]
        for r in c.execute(f"SELECT {_COLUMNS} FROM media WHERE message_id IN "  # noqa: S608
                           f"({','.join('?' * len(chunk))})", chunk):
            row = _row(r)
            rows[row.item.message_id] = row
    return rows
