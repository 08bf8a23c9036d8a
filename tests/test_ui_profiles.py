"""Profiles in the desktop UI against a real relay: Alice edits her name and picture
(cropped and scaled before it is saved); Bob sees her picture in his session list, the
chat header and the notification of her next message; his profile modal shows it, the
shared-media placeholder, and private notes he saves.

Runs on the Qt reactor like tests.test_ui (scripts/run_trial.py starts it so).
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage
from PyQt6.QtTest import QTest

from securechat.client import events as ev
from securechat.ui.models.roles import Roles
from securechat.ui.windows.my_profile import MyProfileDialog, open_my_profile
from tests.test_ui import UITestCase, model_signals, screenshot, until


class ProfileUITests(UITestCase):
    @defer.inlineCallbacks
    def test_my_picture_reaches_the_list_header_notification_and_modal(self) -> Any:
        yield self.account_on_disk("alice", "alice@example.org", "Alice")
        yield self.account_on_disk("bob", "bob@example.org")
        alice_win, bob_win = self.shell("alice"), self.shell("bob")
        alice = yield self.unlock(alice_win, "alice@example.org")
        bob = yield self.unlock(bob_win, "bob@example.org")
        yield self.befriend(alice, bob)
        sessions = bob_win.main.sessions
        yield until(lambda: sessions.rowCount() == 1, *model_signals(sessions))
        self.assertIsNone(sessions.index(0).data(Roles.AVATAR))  # initials so far

        dialog = open_my_profile(alice_win, alice_win.main.client)
        assert isinstance(dialog, MyProfileDialog)
        path = os.path.abspath(self.mktemp()) + ".png"
        image = QImage(600, 400, QImage.Format.Format_RGB32)
        image.fill(QColor("#0d9488"))
        self.assertTrue(image.save(path))
        self.assertFalse(dialog.load_picture(__file__))  # not a picture: said so
        self.assertTrue(dialog.status.text())
        self.assertTrue(dialog.load_picture(path))
        self.assertEqual(QImage.fromData(dialog.picture).size().width(), 256)
        self.assertEqual(QImage.fromData(dialog.picture).size().height(), 256)
        dialog.name.setText("Alice Liddell")
        screenshot(dialog, "20-my-profile")
        QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        yield self.log(bob).wait_for(ev.ProfileUpdated, lambda e: e.avatar_changed)
        yield until(lambda: sessions.index(0).data(Roles.AVATAR) is not None
                    and sessions.index(0).data(Roles.NAME) == "Alice Liddell",
                    *model_signals(sessions))
        self.assertEqual(alice.profiles.mine.name, "Alice Liddell")

        notifier = bob_win.main.notifier
        shown = len(notifier.shown)
        yield alice.send_text(bob.me.user_id, "curiouser and curiouser")
        yield until(lambda: len(notifier.shown) > shown, bob_win.bridge.message_received)
        self.assertIsNotNone(notifier.last_icon)  # her picture on the notification
        chat = yield self.chat_with(bob_win, alice.me.user_id)
        self.assertIsNotNone(chat.avatar_button.pixmap)
        self.assertFalse(chat.avatar_button.isHidden())
        screenshot(bob_win, "21-avatars")

        modal = bob_win.main.show_profile(alice.me.user_id)
        self.assertFalse(modal.avatar.pixmap().isNull())
        self.assertIn("file sharing", modal.shared_media.text())
        modal.notes.setPlainText("met her in Wonderland")
        QTest.mouseClick(modal.save_notes, Qt.MouseButton.LeftButton)
        yield self.log(bob).wait_for(ev.ContactUpdated)
        self.assertEqual((yield bob.notes(alice.me.user_id)), "met her in Wonderland")
        screenshot(modal, "22-profile-modal")
        modal.close()
