"""A restore that is killed (SIGKILL, as by a power cut or the OOM killer) the moment it
reaches a stage: test_backup checks what it leaves behind.

    python tests/restore_child.py DATA_DIR URL BACKUP PASSPHRASE PASSWORD STAGE
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from twisted.internet import task

from securechat.client import SecureChatClient
from tests.clientsupport import FAST


def main(reactor: Any, data_dir: str, url: str, path: str, passphrase: str, password: str,
         stage: str) -> Any:
    def progress(now: str, done: int, total: int) -> None:
        if now == stage:
            sys.stdout.write(f"killing at {stage}\n")
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    return SecureChatClient.restore_backup(reactor, data_dir, url, path, passphrase,
                                           password, FAST, floor=FAST, progress=progress)


if __name__ == "__main__":
    task.react(main, sys.argv[1:])
