"""securechat-cli vault and backup, as real subprocesses against a real relay."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

import pyotp
from twisted.internet import defer, reactor

from securechat.protocol.scram import DEFAULT_MEMORY_KIB
from tests.test_cli import ALICE, CLITestCase, WatchedProcess

PASSPHRASE = "a long backup passphrase"


class VaultCLITests(CLITestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.kdf_memory = str(DEFAULT_MEMORY_KIB)  # restoring signs in: the default floor
        yield self.cli("laptop", "register", ALICE)

    @defer.inlineCallbacks
    def mfa_setup(self) -> Any:
        """`vault mfa-setup`, answering its question with the code of the URI it printed;
        returns (secret, recovery codes)."""
        process = WatchedProcess()
        transport = reactor.spawnProcess(
            process, sys.executable,
            [sys.executable, *self.argv("laptop", "vault", ALICE, "mfa-setup")],
            env=self.env(ALICE))
        self.addCleanup(self._end, process, transport)
        yield process.printed("First code, to confirm", fd=2)
        out = process.output[1].decode()
        secret = re.search(r"otpauth://totp/\S*secret=([A-Z2-7]+)", out).group(1)
        codes = re.findall(r"^  ([A-Z2-7]{5}-[A-Z2-7]{5})$", out, re.MULTILINE)
        self.assertEqual(len(codes), 10)
        transport.write(f"{pyotp.TOTP(secret).now()}\n".encode())
        self.assertEqual((yield process.ended), 0, process.output)
        self.assertIn(b"MFA is on", process.output[1])
        return secret, codes

    @defer.inlineCallbacks
    def test_vault_behind_mfa_then_backup_and_restore(self) -> None:
        secret, codes = yield self.mfa_setup()
        # The next code (a step ahead: within the window, never used) unlocks once.
        ahead = pyotp.TOTP(secret).at(int(time.time()) + 30)
        out, _ = yield self.cli("laptop", "vault", ALICE, "add", "--title", "Bank",
                                "--username", "alice", SECURECHAT_TOTP=ahead,
                                SECURECHAT_VAULT_SECRET="hunter2-but-longer")
        self.assertIn("Added password 'Bank'", out)
        _, err = yield self.cli("laptop", "vault", ALICE, "list", status=1,
                                SECURECHAT_TOTP=ahead)  # used: refused
        self.assertOneLineError(err, "Invalid code")
        out, _ = yield self.cli("laptop", "vault", ALICE, "add", "--title", "Mail",
                                "--generate", "24", SECURECHAT_TOTP=codes[0])
        generated = re.search(r"Generated password: (\S+)", out).group(1)
        self.assertEqual(len(generated), 24)
        out, _ = yield self.cli("laptop", "vault", ALICE, "list", SECURECHAT_TOTP=codes[1])
        self.assertEqual([line.split()[2] for line in out.splitlines()], ["Bank", "Mail"])

        bak = os.path.join(self.home, "alice.bak")
        # A backup holds the recovery phrase: behind the vault's code too.
        _, err = yield self.cli("laptop", "backup", ALICE, "create", "--out", bak, status=1,
                                SECURECHAT_BACKUP_PASSPHRASE=PASSPHRASE, SECURECHAT_TOTP="1")
        self.assertIn("code", err)
        self.assertFalse(os.path.exists(bak))
        out, _ = yield self.cli("laptop", "backup", ALICE, "create", "--out", bak,
                                SECURECHAT_BACKUP_PASSPHRASE=PASSPHRASE,
                                SECURECHAT_TOTP=codes[2])
        self.assertIn("Wrote the encrypted backup", out)
        _, err = yield self.cli("new-laptop", "backup", ALICE, "restore", "--file", bak,
                                status=1, SECURECHAT_BACKUP_PASSPHRASE="not the passphrase")
        self.assertOneLineError(err, "Decryption failed. Incorrect backup code.")
        self.assertFalse(os.path.exists(os.path.join(self.home, "new-laptop", "accounts.json")))
        out, _ = yield self.cli("new-laptop", "backup", ALICE, "restore", "--file", bak,
                                SECURECHAT_BACKUP_PASSPHRASE=PASSPHRASE)
        self.assertIn(f"Restored {ALICE}", out)
        out, _ = yield self.cli("new-laptop", "vault", ALICE, "get", "--title", "Bank",
                                SECURECHAT_TOTP=codes[3])  # codes[2] went on the backup
        self.assertIn("password: hunter2-but-longer", out)
        self.assertIn("username: alice", out)

    @defer.inlineCallbacks
    def test_a_full_disk_leaves_no_backup(self) -> None:
        """The backup grows past what the system lets the process write (RLIMIT_FSIZE,
        as a full disk): a clear error, and no partial file."""
        content = os.urandom(3 << 20)
        source = os.path.join(self.home, "big.bin")
        with open(source, "wb") as f:
            f.write(content)
        yield self.cli("laptop", "vault", ALICE, "add", "--type", "file", "--title", "big",
                       "--path", source)
        os.remove(source)
        data = os.path.join(self.home, "laptop")
        biggest = max(os.path.getsize(os.path.join(root, name))
                      for root, _, names in os.walk(data) for name in names
                      if not name.startswith("big")
                      and "files" not in os.path.relpath(root, data))
        limit_kib = biggest // 1024 + 1024
        bak = os.path.join(self.home, "alice.bak")
        argv = self.argv("laptop", "backup", ALICE, "create", "--out", bak)
        script = (f"trap '' XFSZ; ulimit -f {limit_kib * 2}; "  # 512-byte blocks (POSIX sh)
                  f"exec {sys.executable} " + " ".join(f"'{a}'" for a in argv))
        process = WatchedProcess()
        reactor.spawnProcess(process, "/bin/sh", ["/bin/sh", "-c", script],
                             env=self.env(ALICE, SECURECHAT_BACKUP_PASSPHRASE=PASSPHRASE))
        self.assertEqual((yield process.ended), 1, process.output)
        self.assertOneLineError(process.output[2].decode(), "Storage full")
        self.assertIn(b"Storage full", process.output[2])
        self.assertEqual(sorted(n for n in os.listdir(self.home) if n.startswith("alice")),
                         [])

