"""The vault window's gate, driven like a user: the unlock button counts down the wait
after wrong codes (longer after each further one, and still after the window is
opened again), and a damaged vault is reset only after an explicit yes.

Runs on the Qt reactor (scripts/run_trial.py). No sleeps: the countdown's ticks come
from a `task.Clock` given to the window (through the shell), moved together with the
TOTP check's clock (`client.mfa.clock`).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import pyotp
from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from securechat.client import InvalidCode
from securechat.ui import strings as S
from tests.test_ui import until
from tests.test_ui_vault import VaultUITestCase, click, signal_once


class CountdownTests(VaultUITestCase):
    @defer.inlineCallbacks
    def wrong_code(self, window: Any, wrong: str) -> Any:
        refused = signal_once(window.failed)
        QTest.keyClicks(window.code, wrong)
        click(window.unlock_button)
        self.assertIn("Invalid code", (yield refused))

    @defer.inlineCallbacks
    def test_the_unlock_button_counts_down_longer_waits(self) -> Any:
        win, client = yield self.signed_in_window("erin")
        setup = yield client.mfa.provision()
        yield client.mfa.confirm(self.code(setup.secret))
        right = pyotp.TOTP(setup.secret).at(int(self.now + 30))
        wrong = "000000" if right != "000000" else "111111"
        window = win.show_vault()
        yield until(lambda: window.code.isVisible(), window.mfa_checked)
        for _ in range(4):  # four free tries: no wait
            yield self.wrong_code(window, wrong)
            self.assertTrue(window.unlock_button.isEnabled())
            self.assertFalse(window.countdown.running)
        yield self.wrong_code(window, wrong)  # the fifth: 30 s
        yield until(lambda: window.countdown.running, window.countdown.started)
        self.assertFalse(window.unlock_button.isEnabled())
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=30))
        self.advance(0.5)  # the text steps at whole seconds
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=30))
        self.advance(0.5)
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=29))

        # Closed and opened again (the wait is the core's, stored): still counting.
        window.close()
        self.advance(9)
        window = win.show_vault()
        yield until(lambda: window.countdown.running, window.countdown.started)
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=20))
        back = signal_once(window.countdown.finished)
        self.advance(20)
        yield back
        self.assertTrue(window.unlock_button.isEnabled())
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK)

        # One more wrong code: the wait doubles.
        yield self.wrong_code(window, wrong)
        yield until(lambda: window.countdown.running, window.countdown.started)
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=60))
        self.advance(60)
        self.assertTrue(window.unlock_button.isEnabled())
        # And then a right code opens the vault (the wrong ones are forgotten).
        opened = signal_once(window.unlocked)
        QTest.keyClicks(window.code, self.code(setup.secret))
        QTest.keyClick(window.code, Qt.Key.Key_Return)
        yield opened
        self.assertFalse(window.countdown.running)
        window.vault.lock()
        yield self.assertFailure(client.mfa.verify(wrong), InvalidCode)  # counted anew


class ResetTests(VaultUITestCase):
    @defer.inlineCallbacks
    def test_a_damaged_vault_is_reset_only_after_a_yes(self) -> Any:
        win, client = yield self.signed_in_window("finn")
        yield client.vault.unlock()
        yield client.vault.add_note("Door code", "4711")
        yield client.vault.close()
        path = os.path.join(client.account_dir, "vault", "vault.sqlite")
        db = sqlite3.connect(path)
        db.execute("UPDATE vault_items SET sealed = substr(sealed, 1, 40) || x'00' || "
                   "substr(sealed, 42)")
        db.commit()
        db.close()

        window = win.show_vault()
        self.assertFalse(window.reset_button.isVisible())  # not offered for nothing
        refused = signal_once(window.failed)
        click(window.unlock_button)
        self.assertIn("damaged", (yield refused))
        self.assertTrue(window.reset_button.isVisible())
        self.assertFalse(client.vault.is_unlocked)

        # "No": nothing is deleted, the reset is still offered.
        questions: list[str] = []
        window.confirm = lambda q: questions.append(q) or False  # type: ignore[method-assign]
        self.assertIsNone(window.reset())
        click(window.reset_button)
        self.assertEqual(questions, [S.VAULT_RESET_QUESTION] * 2)
        self.assertTrue(window.reset_button.isVisible())
        db = sqlite3.connect(path)
        self.assertEqual(db.execute("SELECT COUNT(*) FROM vault_items").fetchone()[0], 1)
        db.close()

        # "Yes": an empty vault, which then opens.
        window.confirm = lambda q: questions.append(q) or True  # type: ignore[method-assign]
        done = signal_once(window.reset_done)
        click(window.reset_button)
        yield done
        self.assertEqual(window.unlock_error.text(), S.VAULT_RESET_DONE)
        self.assertFalse(window.reset_button.isVisible())
        opened = signal_once(window.unlocked)
        click(window.unlock_button)
        yield opened
        self.assertEqual(window.titles(), [])
        self.assertTrue(window.empty_hint.isVisible())
