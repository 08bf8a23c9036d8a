"""Where the vault lives on disk, apart from the account's main database (as the spec
asks): `account_dir/vault/vault.sqlite` and a sealed file per file item in
`account_dir/vault/files/`. This module holds no key: every item is already sealed
(client.vault) when it gets here, so the store can also be backed up and restored
without the vault being unlocked.

vault_meta: the PBKDF2 salt of the vault key and a check blob sealed under that key
(told apart: a damaged vault from one sealed under another account's key).
vault_items: per item the spec's `VaultItem` — id, type, created_at — and `sealed`,
its encrypted JSON (title and data, so titles are not readable at rest either).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from collections.abc import Callable
from typing import IO, Any

from twisted.internet import defer

from securechat.client.errors import StorageFull, VaultCorrupted
from securechat.sqlite import SerialDatabase, Step, migrate

VAULT_DIR = "vault"
FILES_DIR = "files"
DATABASE = "vault.sqlite"
# Step N takes the vault's schema to version N; append, never edit.
MIGRATIONS: list[Step] = [
    """
    CREATE TABLE vault_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        salt BLOB NOT NULL, check_blob BLOB NOT NULL, created INTEGER NOT NULL
    );
    CREATE TABLE vault_items (
        id TEXT PRIMARY KEY, type TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        sealed BLOB NOT NULL
    );
    """,
]
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
Row = tuple[str, str, int, int, int, bytes]  # id, type, created_at, updated_at, size, sealed


def storage_full(e: BaseException,
                 advice: str = "free some space or delete vault items") -> StorageFull | None:
    """StorageFull if `e` says the disk (or a size limit) is full, else None."""
    if (isinstance(e, OSError) and e.errno in NO_ROOM) or (
            isinstance(e, sqlite3.OperationalError) and "full" in str(e)):
        return StorageFull(f"Storage full: {advice}")
    return None


def _migrate(conn: sqlite3.Connection) -> None:
    migrate(conn, MIGRATIONS)


class VaultStore:
    """One account's vault files. Opened at first use; `close()` at the client's stop."""

    def __init__(self, account_dir: str, reactor: Any) -> None:
        self.dir = os.path.join(account_dir, VAULT_DIR)
        self.files_dir = os.path.join(self.dir, FILES_DIR)
        self._reactor = reactor
        self._db: SerialDatabase | None = None

    @defer.inlineCallbacks
    def _open(self) -> Any:
        if self._db is None:
            os.makedirs(self.files_dir, mode=0o700, exist_ok=True)
            db = SerialDatabase(os.path.join(self.dir, DATABASE), self._reactor, _migrate,
                                expected_errors=(sqlite3.OperationalError,),
                                name="vault-sqlite")
            try:
                yield db.start()
            except sqlite3.DatabaseError:
                raise VaultCorrupted("the vault's database is damaged: you may reset the "
                                     "vault (its items are then lost)") from None
            self._db = db
        return self._db

    @defer.inlineCallbacks
    def run(self, fn: Any, *args: Any) -> Any:
        db = yield self._open()
        try:
            result = yield db.run(fn, *args)
        except sqlite3.DatabaseError as e:
            full = storage_full(e)
            if full is not None:
                raise full from None
            raise VaultCorrupted(f"the vault's database is damaged ({type(e).__name__}): "
                                 "you may reset the vault") from None
        return result

    @defer.inlineCallbacks
    def close(self) -> Any:
        db, self._db = self._db, None
        if db is not None:
            yield db.stop()

    # --- rows -----------------------------------------------------------------------

    def meta(self) -> defer.Deferred[tuple[bytes, bytes] | None]:
        return self.run(lambda c: c.execute(
            "SELECT salt, check_blob FROM vault_meta").fetchone())

    def set_meta(self, salt: bytes, check_blob: bytes, now: int) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT INTO vault_meta VALUES (1, ?, ?, ?)", (salt, check_blob, now)) and None)

    def rows(self) -> defer.Deferred[list[Row]]:
        return self.run(lambda c: c.execute(
            "SELECT id, type, created_at, updated_at, size, sealed FROM vault_items"
        ).fetchall())

    def row(self, item_id: str) -> defer.Deferred[Row | None]:
        return self.run(lambda c: c.execute(
            "SELECT id, type, created_at, updated_at, size, sealed FROM vault_items "
            "WHERE id = ?", (item_id,)).fetchone())

    def put(self, row: Row) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO vault_items VALUES (?,?,?,?,?,?)", row) and None)

    def delete(self, item_id: str) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "DELETE FROM vault_items WHERE id = ?", (item_id,)) and None)

    def used_bytes(self) -> defer.Deferred[int]:
        """What the items take: sealed rows and file contents."""
        return self.run(lambda c: c.execute(
            "SELECT COALESCE(SUM(length(sealed) + size), 0) FROM vault_items").fetchone()[0])

    # --- file contents --------------------------------------------------------------

    def file_path(self, item_id: str) -> str:
        if not item_id.isalnum():
            raise VaultCorrupted("a vault item id is damaged")
        return os.path.join(self.files_dir, item_id)

    def write_file(self, item_id: str, write: Callable[[IO[bytes]], object]) -> None:
        """`write(f)` writes the sealed content into a private temporary file, which
        then replaces the item's file (a crash leaves no half file under its name).
        Blocking: call from a thread. StorageFull when the disk is."""
        path = self.file_path(item_id)
        tmp = path + ".tmp"
        try:
            # Not through a link someone planted; 0600 even if a stale one was there.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            full = storage_full(e)
            if full is not None:
                raise full from None
            raise

    def open_file(self, item_id: str) -> IO[bytes]:
        """The item's sealed content, open for reading (the caller closes it)."""
        try:
            return open(self.file_path(item_id), "rb")
        except FileNotFoundError:
            raise VaultCorrupted("a vault file is missing: you may delete its item, or "
                                 "reset the vault") from None

    def remove_file(self, item_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.file_path(item_id))

    @defer.inlineCallbacks
    def wipe(self) -> Any:
        """Delete the whole vault (Vault.reset)."""
        yield self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
