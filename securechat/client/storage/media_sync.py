"""Shared files in account sync (issue 13: "files follow as references, the blob is
downloaded on demand"), run on the database thread (see securechat.client.storage).

A MANIFEST message entry of a shared file carries its FILE_INFO as `file` (the blob id
and read token, the chunk layout, the file key, the SHA-256): whoever merges it gets
the media row, shown with a download button, and downloads the blob when asked. The key
and token travel only inside MANIFEST frames, i.e. inside Olm like FILE_INFO itself.
Only files whose blob a device can name are carried: mine once uploaded (`sent`), and
any received one. The relay lets every device of the accounts party to a blob read it
with the token, so a device that merged the entry can download it with no more asking.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import securechat.client.files as files
import securechat.client.storage.media as media_db
from securechat.client.model import MediaItem, MediaStatus, MessageType
from securechat.protocol.encoding import b64, unb64

Entry = dict[str, Any]
FILE_TYPES = (MessageType.IMAGE, MessageType.FILE)
# A thumbnail rides along only while its entry stays well inside one envelope.
MAX_ENTRY_CHARS = 100_000

# --- into MANIFEST message entries -----------------------------------------------------


def attach(c: sqlite3.Connection, entries: list[Entry]) -> list[Entry]:
    """Add `file` to the entries of shared files this device can describe."""
    rows = media_db.get_many(c, [e["id"] for e in entries if e["type"] in FILE_TYPES])
    for entry in entries:
        row = rows.get(entry["id"])
        if row is not None and row.item.sid == entry["sid"] and row.blob_id is not None \
                and (row.item.direction == "in" or row.item.status == MediaStatus.SENT):
            entry["file"] = _file_entry(row, len(entry["text"]))
    return entries


def _file_entry(row: media_db.MediaRow, text_chars: int) -> Entry:
    item = row.item
    thumbnail = item.thumbnail if len(item.thumbnail) + text_chars <= MAX_ENTRY_CHARS else ""
    return {"name": item.original_name, "size": item.file_size, "type": item.mime_type,
            "thumbnail": thumbnail, "blobId": row.blob_id, "chunkSize": row.chunk_size,
            "chunkCount": max(1, -(-item.file_size // row.chunk_size)),
            "key": b64(row.key), "token": b64(row.token), "sha256": row.sha256}


# --- from merged MANIFEST entries --------------------------------------------------------


def merge(c: sqlite3.Connection, entries: list[Entry], now: int) -> list[media_db.MediaRow]:
    """Media rows for the entries carrying `file` whose message is here, in that
    conversation, by that sender and of a file's type (merged from these entries or
    there already); returns the rows new here (a row here already stays as it is)."""
    new = []
    for entry in entries:
        file = entry.get("file")
        if file is None:
            continue
        message = c.execute("SELECT sender, type, text FROM messages WHERE id=? AND sid=?",
                            (entry["id"], entry["sid"])).fetchone()
        peer = c.execute("SELECT peer_user_id FROM sessions WHERE sid=?",
                         (entry["sid"],)).fetchone()
        if message is None or peer is None or message[0] != entry["sender"] \
                or message[1] not in FILE_TYPES:
            continue
        item = MediaItem(entry["id"], entry["sid"], "out" if entry["sender"] == "me" else "in",
                         files.safe_name(file["name"]), file["size"], file["type"],
                         MediaStatus.PENDING, files.vault_name(entry["id"]), file["thumbnail"],
                         _caption(message[2]), None, now)
        row = media_db.MediaRow(item, peer[0], file["blobId"], unb64(file["token"]),
                                unb64(file["key"]), file["chunkSize"], file["sha256"])
        if media_db.insert(c, row):
            new.append(row)
    return new


def _caption(text: str) -> str | None:
    """The caption in a file message's text ({"filename", "size", "caption"})."""
    try:
        caption = json.loads(text).get("caption")
    except (ValueError, AttributeError):
        return None
    return caption if isinstance(caption, str) else None
