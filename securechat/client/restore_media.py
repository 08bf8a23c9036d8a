"""The shared files of a backup (client.files' encrypted copies, `media/<filename>` in
the zip) brought back with their `media` rows, by client.restore.

A row whose file the backup holds, whole, keeps its status: the file is moved into the
account's media/ directory, still encrypted under its file key (the row has the key),
and opens byte for byte as on the old device. A row without its file (never downloaded
there, cut short, deleted, or damaged in the backup) becomes a reference: `pending`,
so that `client.files.download()` fetches it again while the relay still has its blob
(it expires with the mailbox); an upload never finished there, with nothing to upload
from, is `failed`. A damaged copy is named in the row's `error` and in the restore's
result (`RestoredAccount.damaged`); it costs that file alone, nothing else.

Blocking (file moves): call it in a thread.
"""

from __future__ import annotations

import os
import re
from typing import Any

import securechat.client.backup as backup
from securechat.client.model import MediaStatus
from securechat.crypto.backup_extract import Extracted

_FILENAME = re.compile(r"vault_[A-Za-z0-9_-]{1,64}")  # client.files.vault_name's
Tables = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


class RestoredAccount(str):
    """What a restore fires with: the account's email (a str, as before), and the
    shared files whose copy in the backup was damaged (`damaged`: one line each, naming
    the file and its zip entry). Those were restored as not downloaded."""

    damaged: tuple[str, ...]

    def __new__(cls, email: str, damaged: tuple[str, ...] = ()) -> RestoredAccount:
        made = super().__new__(cls, email)
        made.damaged = damaged
        return made


def shared_files(found: Extracted,
                 tables: Tables) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """((filename, the file it was unzipped to) of every shared file restored whole,
    the damaged ones described). The `media` rows in `tables` are set to what is here
    after the restore."""
    columns, rows = tables["media"]
    at = {c: i for i, c in enumerate(columns)}
    restored: list[tuple[str, str]] = []
    damaged: list[str] = []
    new_rows = []
    for row in rows:
        values = list(row)
        filename, name = values[at["filename"]], values[at["original_name"]]
        entry = backup.SHARED_MEDIA + str(filename)
        path = found.written.get(entry) if _FILENAME.fullmatch(str(filename)) else None
        status = values[at["status"]]
        if path is not None and status in backup.KEPT_STATUSES:
            restored.append((filename, path))
        elif status in (*backup.KEPT_STATUSES, MediaStatus.DOWNLOADING) \
                or entry in found.damaged:
            why = None
            if entry in found.damaged:
                why = f"the backup's copy of {name} ({entry}) is damaged: {found.damaged[entry]}"
                damaged.append(why)
            if values[at["blob_id"]] is None:  # never uploaded: nothing to fetch again
                values[at["status"]] = MediaStatus.FAILED
                values[at["error"]] = why or f"{name} was not in the backup"
            else:
                values[at["status"]] = MediaStatus.PENDING
                values[at["error"]] = why
        new_rows.append(tuple(values))
    tables["media"] = (columns, new_rows)
    return restored, tuple(damaged)


def move_into(account_dir: str, files: list[tuple[str, str]]) -> None:
    """The unzipped files into the account's media/ directory (renames: same disk)."""
    target = os.path.join(account_dir, backup.SHARED_DIR)
    os.makedirs(target, mode=0o700, exist_ok=True)
    for filename, path in files:
        os.replace(path, os.path.join(target, filename))
