"""Receiving while locked (issue 11): with the setting on (off by default), Lock keeps
the account open and connected behind a screen lock; a message that arrives meanwhile
is notified with the sender's name and the unread count only, never its text, and is
not marked read; the master password unlocks (a wrong one is refused); with the setting
off, Lock closes the account as before. Real clients on a real relay, on the Qt reactor
(tests/ui_trial.py), offscreen, without a tray (the in-app banner)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    from twisted.trial import unittest

    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

import tests.test_ui_details as details
from securechat.client import events as ev
from securechat.ui.models.roles import Roles
from securechat.ui.windows.screen_lock import RECEIVE_WHILE_LOCKED_KEY
from tests.clientsupport import FAST
from tests.test_ui import PASSWORD, screenshot, until


class ReceiveWhileLockedTests(details.DetailsCase):
    @defer.inlineCallbacks
    def test_locked_it_still_receives_and_notifies_the_name_and_count_only(self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        bob_id = bob.me.user_id
        # The setting: off by default, the trade-off written beside it
        dialog = win.show_settings()
        self.assertFalse(dialog.receive_while_locked.isChecked())
        self.assertIn("memory", dialog.receive_while_locked_info.text())
        dialog.receive_while_locked.setChecked(True)
        self.assertEqual(self.settings.value(RECEIVE_WHILE_LOCKED_KEY), "true")
        dialog.close()
        yield self.chat_with(win, bob_id)
        # Lock: the chats are hidden, the account stays open
        yield win.lock()
        self.assertIs(win.stack.currentWidget(), win.screen_lock)
        self.assertIs(win.client, alice)
        self.assertFalse(win.main.chat.isVisible())
        self.assertFalse(win.lock_action.isEnabled())
        mark = self.log(alice).mark()
        yield bob.send_text(alice.me.user_id, "the door code is 31337")
        yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        name = win.main.sessions.index(0).data(Roles.NAME)
        self.assertEqual(win.notifier.shown[-1],
                         (f"New message from {name}", "1 unread (SecureChat is locked)"))
        self.assertNotIn("31337", repr(list(win.notifier.shown)))
        self.assertEqual(win.screen_lock.banner.title.text(), f"New message from {name}")
        self.assertNotIn("31337", win.screen_lock.banner.body.text())
        self.assertTrue(win.windowTitle().startswith("(1) "))
        self.assertEqual(win.screen_lock.unread.text(), "1 unread")
        self.assertEqual((yield alice.unread_count(bob_id)), 1)  # not read behind the lock
        screenshot(win, "d12-locked-still-receiving")
        # A wrong password is refused; the master password unlocks the same client
        QTest.keyClicks(win.screen_lock.password, "not the password")
        yield win.screen_lock.unlock()
        self.assertTrue(win.screen_lock.error.text())
        self.assertIs(win.stack.currentWidget(), win.screen_lock)
        win.screen_lock.password.clear()
        QTest.keyClicks(win.screen_lock.password, PASSWORD)
        yield win.screen_lock.unlock()
        self.assertIs(win.stack.currentWidget(), win.main)
        self.assertIs(win.client, alice)
        self.assertEqual(win.main.chat.peer, bob_id)  # the chat that was open
        self.assertTrue(win.lock_action.isEnabled())
        win.notifier.message("Bob", "after unlocking")
        self.assertEqual(win.notifier.shown[-1][1], "after unlocking")
        # With a PIN, the PIN unlocks too; a wrong one counts as on the lock screen
        yield alice.set_pin(PASSWORD, "246813", FAST)
        yield win.lock()
        self.assertEqual(win.screen_lock.password.placeholderText(), "PIN or master password")
        QTest.keyClicks(win.screen_lock.password, "135792")
        yield win.screen_lock.unlock()
        self.assertIn("4", win.screen_lock.error.text())  # tries left
        self.assertIs(win.stack.currentWidget(), win.screen_lock)
        win.screen_lock.password.clear()
        QTest.keyClicks(win.screen_lock.password, "246813")
        yield win.screen_lock.unlock()
        self.assertIs(win.stack.currentWidget(), win.main)
        # "Close the account" from the screen lock locks for real
        yield win.lock()
        QTest.mouseClick(win.screen_lock.close_account, Qt.MouseButton.LeftButton)
        yield until(lambda: win.client is None and win.stack.currentWidget() is win.lock_page,
                    win.locked)
        self.clients.remove(alice)

    @defer.inlineCallbacks
    def test_with_the_setting_off_lock_closes_the_account(self) -> Any:
        win, alice, _bob = yield self.alice_and_a_friend()
        yield win.lock()
        self.clients.remove(alice)
        self.assertIsNone(win.client)
        self.assertIs(win.stack.currentWidget(), win.lock_page)

    @defer.inlineCallbacks
    def test_switching_account_closes_it_even_with_the_setting_on(self) -> Any:
        self.settings.setValue(RECEIVE_WHILE_LOCKED_KEY, "true")
        win, alice, _bob = yield self.alice_and_a_friend()
        win.switch_action.trigger()
        yield until(lambda: win.client is None, win.locked)
        self.clients.remove(alice)
        self.assertIs(win.stack.currentWidget(), win.lock_page)
