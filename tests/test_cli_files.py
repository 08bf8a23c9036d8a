"""securechat-cli send --file and listen --save-dir, as real subprocesses."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer

from securechat.relay.config import RelayConfig
from tests.test_cli import ALICE, BOB, CLITestCase


class CLIFileTests(CLITestCase):
    config = RelayConfig(blob_max_bytes=1024 * 1024)

    @defer.inlineCallbacks
    def friends(self) -> Any:
        yield self.cli("alice", "register", ALICE, "--name", "Alice")
        yield self.cli("bob", "register", BOB, "--name", "Bob")
        yield self.cli("bob", "add-friend", BOB, "--friend", ALICE)
        yield self.cli("alice", "accept", ALICE, "--friend", BOB)

    def write(self, name: str, content: bytes) -> str:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    @defer.inlineCallbacks
    def test_send_a_file_and_listen_saves_it_under_its_name_numbered_if_taken(self) -> Any:
        yield self.friends()
        content = os.urandom(700_000)
        path = self.write("report.pdf", content)
        save_dir = os.path.abspath(self.mktemp())
        os.makedirs(save_dir)
        with open(os.path.join(save_dir, "report.pdf"), "wb") as f:
            f.write(b"already here")

        out, _ = yield self.cli("bob", "send", BOB, "--to", ALICE, "--file", path,
                                "--text", "the numbers")
        self.assertEqual(out, f"Sent report.pdf to {ALICE}.\n")
        listener = self.spawn("alice", "listen", ALICE, "--save-dir", save_dir)
        yield listener.printed("Saved report (1).pdf")

        with open(os.path.join(save_dir, "report (1).pdf"), "rb") as f:
            self.assertEqual(f.read(), content)
        with open(os.path.join(save_dir, "report.pdf"), "rb") as f:
            self.assertEqual(f.read(), b"already here")  # nothing overwritten
        assert listener.transport is not None
        listener.transport.signalProcess("TERM")
        self.assertEqual((yield listener.ended), 0, listener.output)
        saved = [line for line in listener.output[1].decode().splitlines()
                 if line.startswith("Saved")]
        self.assertEqual(saved, [f"Saved report (1).pdf (700000 bytes) from {BOB} to "
                                 f"{os.path.join(save_dir, 'report (1).pdf')}"])

    @defer.inlineCallbacks
    def test_unreadable_and_too_large_files_are_one_line_errors(self) -> Any:
        yield self.friends()
        _, err = yield self.cli("bob", "send", BOB, "--to", ALICE, "--file", "/no/such.txt",
                                status=1)
        self.assertOneLineError(err, "such.txt: no such file")
        big = self.write("big.bin", b"x" * (1024 * 1024 + 1))
        _, err = yield self.cli("bob", "send", BOB, "--to", ALICE, "--file", big, status=1)
        self.assertOneLineError(err, "big.bin is too large for this relay (at most 1.0 MB)")
        _, err = yield self.cli("bob", "send", BOB, "--to", ALICE, status=1)
        self.assertOneLineError(err, "give --text, --file, or both")
        _, err = yield self.cli("alice", "listen", ALICE, "--save-dir", "/no/such/dir",
                                status=1)
        self.assertOneLineError(err, "--save-dir /no/such/dir: no such folder")
