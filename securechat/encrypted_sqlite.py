"""Database files readable by their owner only, and SQLCipher for those with a key.

A database opened with a `key` (32 raw bytes) is a SQLCipher 4 file: every page, of
the database and of its WAL, is AES-256 encrypted and HMAC-SHA512 authenticated, and
the file has no plaintext header. The key is used raw (`PRAGMA key = "x'..'"`), so
opening costs no key derivation: whoever holds the key derived it already. Without a
key a database is plain SQLite (the relay's).

Every database file this creates is 0600, whatever the process umask; SQLite gives its
-wal, -shm and -journal files the mode of the database file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

import sqlcipher3

PLAINTEXT_HEADER = b"SQLite format 3\x00"
ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher3.Error)
_SIDE_FILES = ("-wal", "-shm", "-journal")


class WrongDatabaseKey(Exception):
    """The database does not open with the key given (a wrong key, or a damaged file)."""


def connect(path: str, key: bytes | None) -> Any:
    """A connection (autocommit) to `path`; with `key`, keyed and checked first thing."""
    if key is None:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn = sqlcipher3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # A wrong key is our own clear error, not SQLCipher's lines on stderr.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"{_raw_key(key)}\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # What is deleted or wiped (an unsent message's text) is overwritten in the
        # file's pages, not left in free ones until they are reused.
        conn.execute("PRAGMA secure_delete = ON")
    except sqlcipher3.DatabaseError:
        conn.close()
        raise WrongDatabaseKey(f"{os.path.basename(path)} does not open with its key: a "
                               "wrong key, or a damaged file") from None
    return conn


def prepare(path: str, key: bytes | None) -> bool:
    """Before the first connection: a new file is created 0600; with a key, an existing
    file is made 0600 and, if it is still plaintext SQLite, encrypted in place.
    Returns whether it encrypted a plaintext file."""
    if path == ":memory:":
        return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if key is not None:
            os.fchmod(fd, 0o600)
        header = os.pread(fd, len(PLAINTEXT_HEADER), 0)
    finally:
        os.close(fd)
    if key is None:
        return False
    for suffix in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, 0o600)
    if header != PLAINTEXT_HEADER:
        return False
    encrypt_in_place(path, key)
    return True


def encrypt_in_place(path: str, key: bytes) -> None:
    """Replace the plaintext database at `path` with an encrypted copy, atomically: a
    crash leaves either the plaintext database (encrypted again at the next open) or
    the encrypted one, never a mix."""
    tmp = path + ".encrypting"
    _create_private(tmp)
    plain = sqlcipher3.connect(path, isolation_level=None)  # no key: plain SQLite
    try:
        # Everything into the main file and no WAL left beside it: a plaintext WAL next
        # to the encrypted file would be replayed onto it (and would leak).
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("PRAGMA journal_mode=DELETE")
        (version,) = plain.execute("PRAGMA user_version").fetchone()
        plain.execute("ATTACH DATABASE ? AS encrypted KEY ?", (tmp, _raw_key(key)))
        plain.execute("SELECT sqlcipher_export('encrypted')")
        plain.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        plain.execute("DETACH DATABASE encrypted")
    except BaseException:
        plain.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    plain.close()
    _fsync(tmp)
    os.replace(tmp, path)
    for suffix in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)
    _fsync(os.path.dirname(os.path.abspath(path)), directory=True)


def _raw_key(key: bytes) -> str:
    if len(key) != 32:
        raise ValueError("a database key is 32 bytes")
    return f"x'{key.hex()}'"


def _create_private(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


def _fsync(path: str, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
