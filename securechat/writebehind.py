"""Writing (and reading) files of gigabytes through a small, recycled page cache.

A backup or a restore streams a gigabyte or more through the page cache. Left to
itself the kernel keeps every page of it (dirty until the final fsync, then cached),
so each MiB written takes 256 pages that were free: the whole file's size of memory,
and the user's other cached files evicted for a file nobody will read soon. Where the
machine is a virtual machine that gives free memory back to its host (Firecracker's
and QEMU's free page reporting, virtio-balloon), pages free for more than a moment
have been handed back, and the first write to each one faults into the host: we
measured that inside `write`, ~1 ms per MiB, 5-6x the cost of the encryption, on
tmpfs as on ext4, and more or less of it depending on what the previous run freed
(the unstable bench figures of issue 14).

So these writers start the write-back of what they wrote every WINDOW bytes and
drop the pages already written back (`posix_fadvise(POSIX_FADV_DONTNEED)` does both
on Linux: it starts write-back of the dirty range, then drops the clean pages): the
file's footprint stays a few windows, the pages freed are the next ones written (still
warm), the disk writes while we encrypt instead of all at the final fsync, and the
final fsync has little left to do. `drop_behind_reads` does the same for a file read
once from start to end. Where `posix_fadvise` does not exist (not POSIX) or does
nothing (tmpfs), this is a plain buffered file.
"""

from __future__ import annotations

import io
import os
from typing import Any

WINDOW = 8 << 20  # bytes between two calls to the kernel
KEEP = 4 * WINDOW  # bytes behind the current position still retried (write-back running)
_ADVISE = getattr(os, "posix_fadvise", None)
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 0)


def _drop(fd: int, start: int, end: int) -> None:
    if _ADVISE is not None and end > start:
        try:
            _ADVISE(fd, start, end - start, _DONTNEED)
        except OSError:  # advice only: a file system may refuse it
            pass


class WriteBehindFile(io.RawIOBase):
    """A write-only file over an open descriptor (which it owns and closes): every
    WINDOW bytes written, the write-back of the last window starts and the pages of
    the windows before it that are clean are dropped. Not seekable (streams only)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._position = 0
        self._advised = 0  # position of the last advice

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        self._position += done
        if self._position - self._advised >= WINDOW:
            _drop(self._fd, max(0, self._advised - KEEP), self._position)
            self._advised = self._position
        return done

    def sync(self) -> None:
        """Everything on disk (fsync), and the rest of the pages dropped."""
        os.fsync(self._fd)
        _drop(self._fd, max(0, self._advised - KEEP), self._position)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def open_write_behind(path: str, flags: int = 0, mode: int = 0o600) -> WriteBehindFile:
    """`path` created (or truncated) for writing, with `flags` added (O_EXCL, O_NOFOLLOW)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, mode)
    return WriteBehindFile(fd)


class DropBehindReads:
    """Call `consumed(position)` as a file is read front to back: the pages before it
    are dropped every WINDOW bytes (they were clean already)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._dropped = 0

    def consumed(self, position: int) -> None:
        if position - self._dropped >= WINDOW:
            _drop(self._fd, self._dropped, position)
            self._dropped = position
