"""One account, one running client: an exclusive lock on the account's directory.

Two clients on the same account directory (two windows, a bot and the GUI) would
each advance their own copy of the Olm ratchets and overwrite each other's database
rows: messages would stop decrypting. `flock` is held for as long as the client
runs and is released by the kernel if the process dies, so a crash never leaves
the account locked.
"""

from __future__ import annotations

import fcntl
import os


class AccountLock:
    FILE = "lock"

    def __init__(self, account_dir: str) -> None:
        self.account_dir = account_dir
        self._path = os.path.join(account_dir, self.FILE)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another client holds it."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
