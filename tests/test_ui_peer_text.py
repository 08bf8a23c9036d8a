"""What a peer chooses (their name, their messages, their file names, the text around a
link) is shown as the characters they typed: never as HTML or rich text, never as a
shortcut mark in a menu, and never wider than the window (issue 11, review M9).

A stranger with a name full of markup asks to be Alice's friend, then writes to her and
sends her a file; every widget that shows any of it is checked, through the whole walk
(the request, the notification, the list, the chat, a reply, a link, an edit's history,
the search, the profile). Runs on the Qt reactor (tests/ui_trial.py), real relay."""

from __future__ import annotations

import os
import re
from typing import Any

from twisted.internet import defer, reactor

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    from twisted.trial import unittest

    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFontMetrics
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QLabel, QStyleOptionViewItem, QWidget

from securechat.client import MediaStatus, SecureChatClient
from securechat.client import events as ev
from securechat.ui.models.roles import Roles
from securechat.ui.widgets.elided import ElidedLabel
from tests.clientsupport import FAST
from tests.test_ui import PASSWORD, UITestCase, model_signals, screenshot, until

# Markup that Qt would render if a widget guessed "rich text" (bold, a link, a heading,
# an image), in a name of 48 characters: longer than the side panel is wide.
NAME = "<b>Mallory</b> <i>Featherstonehaugh-Smythe</i> 🌸"
HEADING = "<h1>Big</h1>"
LINKED = 'see <a href="https://evil.example">https://good.example/?a=1&b=2</a>'
FILE_NAME = "<img src=x>report-" + "q" * 150 + ".txt"
MARKUP = ("<b>Mallory", "<i>Feather", "<h1>Big", "<a href=\"https://evil", "<img src=x",
          "<h2>Bigger")  # hers, not the app's own bold titles


def shown_in_menu(text: str) -> str:
    """What a QMenu draws of an action's text: "&x" marks a shortcut (x underlined, the
    "&" not drawn), "&&" draws one "&"."""
    return re.sub(r"&(.)", r"\1", text)


class PeerTextTests(UITestCase):
    def assert_literal(self, window: QWidget) -> list[QWidget]:
        """Every label of the window (its dialogs and menus included) that shows a
        peer's markup shows it as plain text, and no tooltip holds it unescaped (a
        tooltip is rich text whenever it looks like it). Returns the labels found."""
        found: list[QWidget] = []
        for widget in [window, *window.findChildren(QWidget)]:
            if isinstance(widget, QLabel) and any(m in widget.text() for m in MARKUP):
                self.assertEqual(widget.textFormat(), Qt.TextFormat.PlainText,
                                 f"{type(widget).__name__} {widget.objectName()!r} "
                                 f"renders {widget.text()!r}")
                found.append(widget)
            tip = widget.toolTip()
            self.assertFalse(any(m in tip for m in MARKUP) and not tip.startswith("<qt>"),
                             f"{type(widget).__name__}'s tooltip renders {tip!r}")
            if tip.startswith("<qt>"):  # plaintext.plain_tooltip: escaped inside
                self.assertFalse(any(m in tip for m in MARKUP), tip)
        return found

    def fits(self, window: QWidget) -> None:
        """Nothing asks the window to be wider than it is."""
        QTest.qWait(0)
        self.assertLessEqual(window.minimumSizeHint().width(), window.width())

    @defer.inlineCallbacks
    def test_a_peers_markup_is_shown_as_typed_everywhere(self) -> Any:
        yield self.account_on_disk("alice", "alice@example.org", "Alice")
        win = self.shell("alice")
        win.notifier.tray = None  # notifications in the window (as offscreen)
        alice = yield self.unlock(win, "alice@example.org")
        main = win.main
        mallory, _ = yield SecureChatClient.register(
            reactor, self.device_dir("mallory"), self.url, "mallory@example.org", PASSWORD,
            NAME, FAST)
        self._track(mallory)
        yield self.online(mallory)
        win.resize(760, 640)

        # --- the request: her name, elided with "…", her buttons in view -------------
        yield mallory.add_friend("alice@example.org")
        yield until(lambda: len(main.requests.pending) == 1, main.requests.rendered)
        row = main.requests.list.itemWidget(main.requests.list.item(0))
        QTest.qWait(0)
        self.assertIsInstance(row.name_label, ElidedLabel)
        self.assertEqual(row.name_label.text(), NAME)
        self.assertTrue(row.name_label.is_elided())
        self.assertTrue(row.name_label.shown_text().endswith("…"))
        self.assertIn("Featherstonehaugh", row.name_label.toolTip())
        viewport = main.requests.list.viewport()
        for button in (row.accept_button, row.deny_button, row.block_button):
            corner = button.mapTo(viewport, button.rect().bottomRight())
            self.assertTrue(viewport.rect().contains(corner), f"{button.text()} at {corner}")
        self.fits(win)
        self.assertIn(row.name_label, self.assert_literal(win))
        screenshot(win, "p1-markup-name-request")
        mark = self.log(mallory).mark()
        QTest.mouseClick(row.accept_button, Qt.MouseButton.LeftButton)
        yield self.log(mallory).wait_for(ev.FriendRequestAnswered, since=mark)
        yield until(lambda: main.sessions.rowCount() == 1, *model_signals(main.sessions))
        peer = mallory.me.user_id
        self.assertEqual(main.sessions.index(0).data(Roles.NAME), NAME)  # drawn as text
        tip = main.sessions.index(0).data(Qt.ItemDataRole.ToolTipRole)  # the row elides it
        self.assertEqual(tip, "<qt>&lt;b&gt;Mallory&lt;/b&gt; &lt;i&gt;Featherstonehaugh-"
                              "Smythe&lt;/i&gt; 🌸<br>mallory@example.org</qt>")

        # --- her messages: a notification, then the chat --------------------------------
        sent = []
        for text in (HEADING, LINKED):
            mark = self.log(alice).mark()
            sent.append((yield mallory.send_text(alice.me.user_id, text)))
            yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        title, body = win.notifier.shown[-1]
        self.assertNotIn("<b>", title)  # a daemon may read markup: a tag never forms
        self.assertEqual(title.replace("\u200b", ""), f"New message from {NAME}")
        self.assertEqual(body.replace("\u200b", ""), LINKED)
        self.assertEqual(win.banner.title.text(), title)  # the in-app banner, plain too
        self.assertEqual(win.banner.title.textFormat(), Qt.TextFormat.PlainText)
        chat = yield self.chat_with(win, peer)
        yield until(lambda: chat.model.rowCount() == 2, chat.page_loaded)
        QTest.qWait(0)
        self.assertEqual(chat.model.index(0).data(Qt.ItemDataRole.DisplayRole), HEADING)
        # The bubble lays out the twelve characters typed, tags and all, in the body
        # font: a heading would be one big word, not this wide.
        option = QStyleOptionViewItem()
        option.font = chat.view.font()
        _, body_rect = chat.delegate._layout(option, chat.model.index(0))
        typed = QFontMetrics(chat.view.font()).horizontalAdvance(HEADING)
        self.assertLessEqual(abs(body_rect.width() - typed), 2)
        self.assertEqual(body_rect.height(), QFontMetrics(chat.view.font()).lineSpacing())
        self.assertEqual(chat.title.text(), NAME)
        # Her links, in the menu, read exactly as she wrote them ("&b", not a shortcut)
        links = [shown_in_menu(a.text()) for a in chat.context_menu(1).actions()
                 if a.text().startswith("Open link")]
        self.assertEqual(links, ["Open link: https://evil.example",
                                 "Open link: https://good.example/?a=1&b=2"])
        question = chat.ask_to_open("https://good.example/?a=1&b=2")
        self.assertEqual(question.textFormat(), Qt.TextFormat.PlainText)
        self.assertIn("https://good.example/?a=1&b=2", question.text())
        QTest.mouseClick(question.no_button, Qt.MouseButton.LeftButton)
        chat.start_reply(chat.model.message(1))  # "Replying to <b>Mallory</b>…: see <a…"
        self.assertIn(NAME, chat.reply_label.text())
        found = self.assert_literal(win)
        for label in (chat.title, chat.reply_label):
            self.assertIn(label, found)
        self.fits(win)
        screenshot(win, "p2-markup-messages")
        chat.cancel_reply()

        # --- her file, named in markup and 170 characters long ---------------------------
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, FILE_NAME)
        with open(path, "wb") as f:
            f.write(b"quarterly figures\n")
        yield mallory.files.send(alice.me.user_id, path)
        yield until(lambda: any(r.item.original_name == FILE_NAME
                                and r.item.status == MediaStatus.DONE
                                for r in chat.files.rows.values()), chat.files.changed)
        (file_row,) = chat.files.rows.values()
        QTest.qWait(0)
        self.assertIn(FILE_NAME, file_row.name.text())
        self.assertTrue(file_row.name.is_elided())
        self.assertIn(file_row.name, self.assert_literal(win))
        self.fits(win)
        screenshot(win, "p3-markup-file-name")

        # --- the search, an edit's history and her profile ------------------------------
        panel = main.message_search
        searched = until(lambda: panel.list.count() == 1, panel.searched)
        QTest.keyClicks(main.search, "good")
        yield searched
        self.assertEqual(panel.list.item(0).text(), f"{NAME}: {LINKED}")  # item: plain
        self.assertNotIn("<a href", panel.list.item(0).toolTip())  # escaped
        main.search.clear()
        yield mallory.actions.edit(sent[0].id, "<h2>Bigger</h2>")
        yield until(lambda: chat.model.index(0).data(Roles.EDITED),
                    *model_signals(chat.model))
        yield chat.show_versions(sent[0].id)
        self.assertEqual(chat.versions_box.textFormat(), Qt.TextFormat.PlainText)
        self.assertIn(HEADING, chat.versions_box.text())
        dialog = main.show_profile(peer)
        self.assertIsNotNone(dialog)
        self.assert_literal(win)
        dialog.close()
        chat.versions_box.close()
