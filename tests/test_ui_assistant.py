"""The assistant in the desktop client: its settings page, quick-reply chips in a chat,
and a polished draft streamed with Stop, on the real llama.cpp with the tiny test
models. Runs on the Qt reactor (scripts/run_trial.py starts it through ui_trial.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web import server

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from securechat.client import events as ev
from securechat.ui import strings as S
from tests import tinyllama
from tests.test_assistant_download import ModelServer
from tests.test_ui import UITestCase, screenshot, until


class AssistantInTheChat(UITestCase):
    @defer.inlineCallbacks
    def test_settings_chips_and_a_polished_draft_with_stop(self) -> Any:
        window, alice, bob = yield self.alice_window_and_bob()
        mark = self.log(alice).mark()
        yield bob.send_text(alice.me.user_id, "lunch tomorrow?")
        yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        chat = yield self.chat_with(window, bob.me.user_id)
        yield until(lambda: chat.model.rowCount() == 1, chat.page_loaded)
        controls = window.chat_assistant
        panel = controls.panel
        self.assertTrue(controls.menu_button.isVisible())
        self.assertTrue(controls.polish_button.isVisible())

        # The settings page: choose the model file; the page says what it has.
        dialog = window.show_assistant_settings()
        self.assertEqual(dialog.model_file.text(), S.AI_NO_MODEL)
        yield dialog.choose_file(tinyllama.model("replies"))
        self.assertEqual(dialog.model_file.text(), tinyllama.model("replies"))
        self.assertEqual(dialog.status.text(), S.AI_STATUS["unloaded"])
        screenshot(dialog, "assistant-settings")
        dialog.close()

        # Quick replies: three chips; a chip fills the message box and sends nothing.
        controls.replies_action.trigger()  # the header's Assistant menu
        yield until(lambda: len(panel.chips) == 3, panel.finished)
        self.assertEqual([c.text() for c in panel.chips],
                         ["Sounds good!", "Can't, sorry.", "What time?"])
        screenshot(window, "assistant-quick-replies")
        QTest.mouseClick(panel.chips[2], Qt.MouseButton.LeftButton)
        self.assertEqual(chat.composer.toPlainText(), "What time?")
        self.assertFalse(panel.isVisible())
        self.assertEqual(chat.model.rowCount(), 1)  # Bob's message only: nothing sent

        # Polish, streamed as it is written, stopped by the user.
        yield window.assistant.choose_model_file(tinyllama.model("endless"))
        QTest.mouseClick(controls.polish_button, Qt.MouseButton.LeftButton)
        yield until(lambda: len(panel.output.toPlainText()) >= 3, panel.output.textChanged)
        self.assertTrue(panel.stop_button.isVisible())
        QTest.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        self.assertEqual(panel.status.text(), S.AI_STOPPED)
        stopped_at = panel.output.toPlainText()
        self.assertTrue(("0123456789" * 4000).startswith(stopped_at))

        # Polish to the end, then Use: the message box gets it, to edit or send.
        yield window.assistant.choose_model_file(tinyllama.model("alphabet"))
        QTest.mouseClick(controls.polish_button, Qt.MouseButton.LeftButton)
        yield until(lambda: panel.result is not None, panel.finished)
        self.assertEqual(panel.output.toPlainText(), "abcdefghijklmnopqrstuvwxyz")
        QTest.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
        self.assertEqual(chat.composer.toPlainText(), "abcdefghijklmnopqrstuvwxyz")
        self.assertEqual(chat.model.rowCount(), 1)  # Bob's message only: nothing sent


class AssistantSettingsPage(UITestCase):
    @defer.inlineCallbacks
    def test_download_with_progress_then_the_model_is_used(self) -> Any:
        model = tinyllama.model("alphabet")
        models = ModelServer(model)
        port = reactor.listenTCP(0, server.Site(models), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        window = self.shell("alice")
        dialog = window.show_assistant_settings()
        dialog.url.setText(f"http://127.0.0.1:{port.getHost().port}/drop/model.gguf")
        dialog.sha256.setText(hashlib.sha256(models.data).hexdigest())
        QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        self.assertTrue(dialog.cancel_button.isVisible())
        # The first answer breaks off halfway: the page offers to retry, which resumes.
        yield until(lambda: dialog.download_button.text() == S.AI_RETRY,
                    dialog.download_ended)
        self.assertIn("download failed", dialog.status.text())
        QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        yield until(lambda: dialog.status.text() == S.AI_DOWNLOADED, dialog.download_ended)
        self.assertEqual(dialog.progress.value(), dialog.progress.maximum())
        self.assertEqual(models.requests[-1][1], f"bytes={len(models.data) // 2}-")
        self.assertEqual(dialog.model_file.text(), window.assistant.settings.model_path)
        screenshot(dialog, "assistant-downloaded")
        self.assertEqual((yield window.assistant.compose("hi").done),
                         "abcdefghijklmnopqrstuvwxyz")

    @defer.inlineCallbacks
    def test_a_model_without_a_checksum_downloads_only_after_a_clear_warning(self) -> Any:
        models = ModelServer(tinyllama.model("alphabet"))
        port = reactor.listenTCP(0, server.Site(models), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        window = self.shell("alice")
        dialog = window.show_assistant_settings()
        self.assertEqual(dialog.sha256.text(), "")  # the default model has none
        dialog.url.setText(f"http://127.0.0.1:{port.getHost().port}/ok/model.gguf")
        QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        self.assertEqual(dialog.status.text(), S.AI_UNVERIFIED)  # nothing fetched yet
        self.assertEqual(dialog.download_button.text(), S.AI_DOWNLOAD_UNVERIFIED)
        self.assertFalse(dialog.cancel_button.isVisible())
        self.assertEqual(models.requests, [])
        QTest.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)  # "yes"
        yield until(lambda: dialog.status.text() == S.AI_DOWNLOADED_UNVERIFIED,
                    dialog.download_ended)
        self.assertEqual(dialog.model_file.text(), window.assistant.settings.model_path)
