"""A file sent before Alice's phone was linked, in the phone's desktop UI: the history
brings it to the chat's files bar with Download; the button fetches it from the relay
(the laptop let the phone read it) and it can be saved. Real relay, real core clients
for the laptop and Bob, the real UI on the phone.

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
from PyQt6.QtTest import QTest

from securechat.client import MediaStatus
from securechat.client import events as ev
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from tests.test_ui import PASSWORD, UITestCase, until


class LaterDeviceFilesUITests(UITestCase):
    @defer.inlineCallbacks
    def test_a_file_from_before_the_phone_shows_with_download_and_downloads(self) -> Any:
        laptop = yield self.register("alice-laptop", "alice@example.org", PASSWORD)
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(laptop, bob)
        yield self.befriend(laptop, bob)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path, content = os.path.join(folder, "agenda.pdf"), os.urandom(200_000)
        with open(path, "wb") as f:
            f.write(content)
        sent = yield bob.files.send(laptop.me.user_id, path)
        yield self.log(laptop).wait_for(ev.FileTransferred,
                                        lambda e: e.item.message_id == sent.id)
        # The phone: signed in as a new device (not started), then opened in the app.
        phone = yield self.login("alice-phone", "alice@example.org", PASSWORD)
        yield phone.stop()
        self.clients.remove(phone)
        accounts.remember(self.device_dir("alice-phone"), "alice@example.org")
        win = self.shell("alice-phone")
        client = yield self.unlock(win, "alice@example.org")
        yield self.log(client).wait_for(ev.HistoryProgress, lambda e: e.done)

        chat = yield self.chat_with(win, bob.me.user_id)
        yield until(lambda: sent.id in chat.files.rows, chat.files.changed)
        row = chat.files.rows[sent.id]
        self.assertEqual((row.item.original_name, row.item.status),
                         ("agenda.pdf", MediaStatus.PENDING))
        self.assertEqual(row.action.text(), S.FILE_DOWNLOAD)
        QTest.mouseClick(row.action, Qt.MouseButton.LeftButton)
        yield until(lambda: row.item.status == MediaStatus.DONE, chat.files.changed)
        self.assertEqual(row.action.text(), S.FILE_SAVE)
        target = os.path.join(folder, "saved.pdf")
        yield client.files.save(sent.id, target)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), content)
