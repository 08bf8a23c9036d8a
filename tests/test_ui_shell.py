"""The window's account lifecycle against a real relay: a request asked for again while
it runs is not sent again, and quitting while an account opens closes it.

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

from securechat.client.core import KdfCost, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.windows.shell import ShellWindow
from tests.test_ui import PASSWORD, UITestCase


class ShellTestCase(UITestCase):
    @defer.inlineCallbacks
    def lock_screen(self, name: str) -> Any:
        """A window on the lock screen of `name`'s account, its password typed in:
        (window, the accounts it showed signed in, so far none)."""
        yield self.account_on_disk(name, f"{name}@example.org")
        win = self.shell(name)
        shown: list[Any] = []
        win.signed_in.connect(shown.append)
        QTest.keyClicks(win.lock_page.password, PASSWORD)
        return win, shown


class AskedTwiceTests(ShellTestCase):
    @defer.inlineCallbacks
    def test_unlock_clicked_twice_and_enter_open_the_account_once(self) -> Any:
        win, shown = yield self.lock_screen("kim")
        lock = win.lock_page
        refusals: list[str] = []
        lock.failed.connect(refusals.append)

        def impatient() -> None:
            QTest.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton)
            self.assertEqual(lock.error.text(), S.UNLOCKING)
            self.assertFalse(lock.unlock_button.isEnabled())  # it shows that it waits
            QTest.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton)
            QTest.keyClick(lock.password, Qt.Key.Key_Return)
            lock.unlock()  # what Enter does, whatever the button shows

        kim = yield self.signed_in(win, impatient)
        # A second open of the account would have been refused at once ("open in
        # another window"), on this lock screen.
        self.assertEqual(refusals, [])
        self.assertEqual(shown, [kim])
        self.assertIs(win.client, kim)

    @defer.inlineCallbacks
    def test_sign_in_sent_twice_signs_in_once(self) -> Any:
        # At the default cost: a sign-in refuses cheaper password hashing (scram_pinning).
        yield self.register("laptop", "lee@example.org", PASSWORD, KdfCost())
        win: ShellWindow = self.shell("lee-phone")
        page = self.type_sign_in(win, "lee@example.org")
        refusals: list[str] = []
        page.failed.connect(refusals.append)

        def impatient() -> None:
            QTest.keyClick(page.login_phrase, Qt.Key.Key_Return)
            self.assertFalse(page.signin_button.isEnabled())
            QTest.keyClick(page.login_phrase, Qt.Key.Key_Return)
            page.submit_login()

        phone = yield self.signed_in(win, impatient)
        # A second sign-in would have been refused at once ("already set up").
        self.assertEqual(refusals, [])
        self.assertEqual(phone.me.email, "lee@example.org")


class QuitTests(ShellTestCase):
    @defer.inlineCallbacks
    def test_quitting_while_unlocking_closes_the_account_once_open(self) -> Any:
        win, shown = yield self.lock_screen("max")
        QTest.mouseClick(win.lock_page.unlock_button, Qt.MouseButton.LeftButton)
        yield win.shutdown()  # the window closes while the password is being checked
        self.assertEqual(shown, [])  # never shown, never connected
        self.assertIsNone(win.client)
        # Closed, not left locked: this device can open it again.
        again = yield SecureChatClient.open(reactor, self.device_dir("max"), self.url,
                                            "max@example.org", PASSWORD)
        yield again.stop()
