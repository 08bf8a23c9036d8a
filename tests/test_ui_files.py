"""The chat's files in the desktop client: attach, preview, send, progress, the image's
thumbnail on the other side, Download and the saved file (offscreen, real relay)."""

from __future__ import annotations

import os
from typing import Any

from PyQt6.QtCore import QMimeData, Qt, QUrl
from PyQt6.QtGui import QColor, QGuiApplication, QImage, QKeySequence
from PyQt6.QtTest import QTest
from twisted.internet import defer

import tests.test_ui as ui
from securechat.client import MediaStatus
from securechat.ui import strings as S
from securechat.ui.widgets.files import PROGRESS_STEPS


class FileUITests(ui.UITestCase):
    two_windows = ui.OnboardingAndChatTests.two_windows
    two_friends = ui.OnboardingAndChatTests.two_friends

    def image(self, name: str) -> str:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, name)
        image = QImage(640, 480, QImage.Format.Format_RGB32)
        image.fill(QColor("teal"))
        self.assertTrue(image.save(path, "PNG"))
        return path

    def row_state(self, chat: Any, condition: Any) -> defer.Deferred[Any]:
        return ui.until(lambda: any(condition(r) for r in chat.files.rows.values()),
                        chat.files.changed)

    @defer.inlineCallbacks
    def test_attach_preview_send_progress_thumbnail_download_and_save(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        chat_a = yield self.chat_with(alice_win, bob.me.user_id)
        chat_b = yield self.chat_with(bob_win, alice.me.user_id)
        path = self.image("sunset.png")

        # Dropped on the chat: previewed (the image shown), sent on confirmation.
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(path)])
        QGuiApplication.clipboard().setMimeData(mime)
        QTest.keySequence(chat_a.composer, QKeySequence.StandardKey.Paste)
        self.assertTrue(chat_a.files.preview.isVisibleTo(chat_a))
        self.assertFalse(chat_a.files.preview_image.pixmap().isNull())
        self.assertIn("sunset.png", chat_a.files.preview_name.text())
        QTest.mouseClick(chat_a.files.send_button, Qt.MouseButton.LeftButton)

        # Bob's side: the message line, then the file with its thumbnail, downloaded
        # by itself (a small image), ready to save.
        yield self.row_state(chat_b, lambda r: r.item.status == MediaStatus.DONE)
        (row_b,) = chat_b.files.rows.values()
        self.assertFalse(row_b.thumbnail.pixmap().isNull())
        self.assertEqual(row_b.action.text(), S.FILE_SAVE)
        self.assertTrue(chat_b.model.index(chat_b.model.rowCount() - 1).data()
                        .startswith("📎 sunset.png"))
        yield self.row_state(chat_a, lambda r: r.item.status == MediaStatus.SENT)
        (row_a,) = chat_a.files.rows.values()
        self.assertEqual(row_a.progress.value(), PROGRESS_STEPS)  # the bar went to the end

        # A larger file waits for Download; the button fetches it.
        bob.files.auto_download_bytes = 1000
        big = os.path.join(os.path.dirname(path), "notes.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(300_000))
        chat_a.files.pick(big)
        QTest.mouseClick(chat_a.files.send_button, Qt.MouseButton.LeftButton)
        yield self.row_state(chat_b, lambda r: r.item.original_name == "notes.bin")
        (offered,) = [r for r in chat_b.files.rows.values() if r.item.original_name == "notes.bin"]
        self.assertEqual(offered.action.text(), S.FILE_DOWNLOAD)
        QTest.mouseClick(offered.action, Qt.MouseButton.LeftButton)
        yield self.row_state(chat_b, lambda r: r is offered and r.item.status == MediaStatus.DONE)
        self.assertEqual(offered.action.text(), S.FILE_SAVE)
        target = os.path.join(os.path.dirname(path), "saved.bin")
        yield bob.files.save(offered.item.message_id, target)
        with open(big, "rb") as a, open(target, "rb") as b:
            self.assertEqual(a.read(), b.read())
        ui.screenshot(bob_win, "20-files-bob")
