"""Where the blob store's bytes live: `IBlobStore`, a small interface an object store
could implement, and `DiskBlobStore`, one sparse file per blob in a directory beside
the relay database. Chunks are written and read at their offsets, in threads: the
reactor never waits on the disk, and no file is ever held in memory whole."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer, threads
from zope.interface import Interface, implementer


class IBlobStore(Interface):
    """Opaque bytes by blob id and offset. Every method returns a Deferred."""

    def write(blob_id: str, offset: int, data: bytes) -> defer.Deferred[None]:
        """Write `data` at `offset` of the blob (made if new)."""

    def read(blob_id: str, offset: int, length: int) -> defer.Deferred[bytes]:
        """`length` bytes at `offset` (fewer if the blob is shorter)."""

    def sync(blob_id: str) -> defer.Deferred[None]:
        """Make what was written durable (before the blob is offered to readers)."""

    def delete(blob_id: str) -> defer.Deferred[None]:
        """Remove the blob; nothing if there is none."""


def default_directory(db_path: str) -> str:
    """Beside the database: `relay.sqlite` keeps its blobs in `relay.sqlite.blobs/`."""
    return os.path.abspath(db_path) + ".blobs"


@implementer(IBlobStore)
class DiskBlobStore:
    """One file per blob under `directory/<first two hex digits>/<blob id>`, readable by
    the relay's user only."""

    def __init__(self, directory: str, reactor: Any) -> None:
        self.directory = directory
        self._reactor = reactor

    def _in_thread(self, fn: Any, *args: Any) -> defer.Deferred[Any]:
        return threads.deferToThreadPool(self._reactor, self._reactor.getThreadPool(), fn,
                                         *args)

    def path(self, blob_id: str) -> str:
        # Blob ids are hex made by the relay (relay.blobs checks them): no path tricks.
        return os.path.join(self.directory, blob_id[:2], blob_id)

    def write(self, blob_id: str, offset: int, data: bytes) -> defer.Deferred[None]:
        return self._in_thread(self._write, self.path(blob_id), offset, data)

    @staticmethod
    def _write(path: str, offset: int, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, data, offset)
        finally:
            os.close(fd)

    def read(self, blob_id: str, offset: int, length: int) -> defer.Deferred[bytes]:
        return self._in_thread(self._read, self.path(blob_id), offset, length)

    @staticmethod
    def _read(path: str, offset: int, length: int) -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def sync(self, blob_id: str) -> defer.Deferred[None]:
        return self._in_thread(self._sync, self.path(blob_id))

    @staticmethod
    def _sync(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def delete(self, blob_id: str) -> defer.Deferred[None]:
        return self._in_thread(self._delete, self.path(blob_id))

    @staticmethod
    def _delete(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
