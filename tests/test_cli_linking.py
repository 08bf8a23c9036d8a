"""`securechat-cli link` and `approve`: two real processes of one account, the user typing."""

from __future__ import annotations

import re
import sys
from typing import Any

from twisted.internet import defer, reactor

from securechat.protocol.scram import DEFAULT_MEMORY_KIB
from tests.test_cli import ALICE, CLITestCase, WatchedProcess

CODE = re.compile(rb"^    (\d{4} \d{4} \d{4})$", re.M)


class CLILinkingTests(CLITestCase):
    kdf_memory = str(DEFAULT_MEMORY_KIB)  # the CLI's sign-in accepts no cheaper hashing

    def spawn_typing(self, device: str, command: str, email: str) -> tuple[WatchedProcess, Any]:
        """A process whose stdin the test types into."""
        process = WatchedProcess()
        transport = reactor.spawnProcess(
            process, sys.executable,
            [sys.executable, *self.argv(device, command, email)], env=self.env(email))
        self.addCleanup(self._end, process, transport)
        return process, transport

    @defer.inlineCallbacks
    def start_both(self) -> Any:
        yield self.cli("laptop", "register", ALICE, "--name", "Alice")
        approve, approve_in = self.spawn_typing("laptop", "approve", ALICE)
        yield approve.printed("Waiting for a new device")
        link, link_in = self.spawn_typing("phone", "link", ALICE)
        yield approve.printed("Type yes")
        yield link.printed("Type yes")
        codes = [CODE.search(p.output[1]) for p in (approve, link)]
        self.assertTrue(all(codes), [p.output for p in (approve, link)])
        return (approve, approve_in), (link, link_in), [c.group(1) for c in codes if c]

    @defer.inlineCallbacks
    def test_link_and_approve_after_the_user_typed_yes_on_both(self) -> Any:
        (approve, approve_in), (link, link_in), codes = yield self.start_both()
        self.assertEqual(codes[0], codes[1])
        approve_in.write(b"yes\n")
        link_in.write(b"yes\n")
        self.assertEqual((yield approve.ended), 0, approve.output)
        self.assertEqual((yield link.ended), 0, link.output)
        self.assertIn(b"Approved", approve.output[1])
        self.assertIn(b"Signed in as alice@example.org on this new device.", link.output[1])
        out, _ = yield self.cli("phone", "requests", ALICE)  # the phone opens the account
        self.assertIn("No pending friend requests.", out)

    @defer.inlineCallbacks
    def test_an_answer_other_than_yes_removes_the_new_device(self) -> Any:
        (approve, approve_in), (link, _), _ = yield self.start_both()
        approve_in.write(b"no\n")  # the phone's user has not answered yet
        self.assertEqual((yield approve.ended), 1)
        self.assertEqual((yield link.ended), 1)
        self.assertOneLineError(approve.output[2].decode(), "did not match")
        self.assertOneLineError(link.output[2].decode(), "did not match")
        _, err = yield self.cli("phone", "requests", ALICE, status=1)
        self.assertOneLineError(err, "not set up on this device")
