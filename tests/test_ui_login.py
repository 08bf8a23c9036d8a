"""The desktop client shows why a sign-in was refused for its safety (review H3, L2).

Runs on the Qt reactor like tests.test_ui (scripts/run_trial.py starts it so).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from securechat.client import local_accounts as accounts
from securechat.client.model import KdfCost
from securechat.ui.app import parse_args
from securechat.ui.windows.shell import ShellWindow
from tests.hostile_scram import HostileScram, downgrade
from tests.test_ui import PASSWORD, UITestCase, until

EMAIL = "alice@example.org"


class SignInRefusalTests(UITestCase):
    @defer.inlineCallbacks
    def refused_sign_in(self, window: ShellWindow) -> Any:
        """Sign in, expecting a refusal: returns the message shown."""
        page = self.type_sign_in(window, EMAIL)
        failed = until(lambda: bool(page.login_error.text()), page.failed)
        QTest.mouseClick(page.signin_button, Qt.MouseButton.LeftButton)
        yield failed
        return page.login_error.text()

    @defer.inlineCallbacks
    def test_a_downgraded_challenge_is_refused_and_explained(self) -> Any:
        yield self.register("alice-laptop", EMAIL, PASSWORD)
        hostile = HostileScram(self.relay)
        self.addCleanup(hostile.restore)
        hostile.tamper = downgrade
        shown = yield self.refused_sign_in(self.shell("alice-phone"))
        self.assertIn("the relay asked for weaker password hashing", shown)
        self.assertIn("refusing to send a password proof", shown)
        self.assertEqual(len(hostile.challenges), 1)  # the phone was asked...
        self.assertEqual(hostile.proofs, [])  # ...and sent no proof
        self.assertEqual(accounts.known_accounts(self.device_dir("alice-phone")), [])

    def window(self, name: str, url: str, insecure_ws: bool) -> ShellWindow:
        window = ShellWindow(reactor, self.device_dir(name), url, None, self.settings,
                             insecure_ws=insecure_ws)
        self.windows.append(window)
        window.show()
        return window

    @defer.inlineCallbacks
    def test_ws_off_this_machine_needs_the_flag(self) -> Any:
        # 0.0.0.0 is not loopback, yet on Linux connecting to it reaches this machine.
        elsewhere = self.url.replace("127.0.0.1", "0.0.0.0")
        yield self.register("alice-laptop", EMAIL, PASSWORD, KdfCost())  # the default floor
        shown = yield self.refused_sign_in(self.window("alice-phone", elsewhere, insecure_ws=False))
        self.assertIn(f"refusing to connect to {elsewhere} without encryption", shown)
        self.assertIn("--insecure-ws", shown)
        window = self.window("alice-tablet", elsewhere, insecure_ws=True)
        page = self.type_sign_in(window, EMAIL)
        tablet = yield self.signed_in(window, lambda: QTest.mouseClick(
            page.signin_button, Qt.MouseButton.LeftButton))
        self.assertEqual(tablet.url, elsewhere)
        # The lock screen (an account on disk) passes the flag on too.
        yield self.account_on_disk("bob", "bob@example.org")
        lock = self.window("bob", elsewhere, insecure_ws=False).lock_page
        QTest.keyClicks(lock.password, PASSWORD)
        QTest.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton)
        yield until(lambda: "--insecure-ws" in lock.error.text(), lock.failed)
        window = self.window("bob", elsewhere, insecure_ws=True)
        QTest.keyClicks(window.lock_page.password, PASSWORD)
        bob = yield self.signed_in(window, lambda: QTest.mouseClick(
            window.lock_page.unlock_button, Qt.MouseButton.LeftButton))
        self.assertEqual(bob.url, elsewhere)

    def test_the_command_line_refuses_ws_off_this_machine_without_the_flag(self) -> None:
        with self.assertRaises(SystemExit) as exited:
            parse_args(["--relay", "ws://relay.example.org:8080"])
        self.assertEqual(exited.exception.code, 2)
        args = parse_args(["--relay", "ws://relay.example.org:8080", "--insecure-ws"])
        self.assertTrue(args.insecure_ws)
        self.assertFalse(parse_args(["--relay", "wss://relay.example.org"]).insecure_ws)
        self.assertFalse(parse_args(["--relay", "ws://127.0.0.1:8080"]).insecure_ws)

