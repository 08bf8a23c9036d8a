"""Unsend in the desktop client (issue 11): the message stays as a "message deleted"
marker in muted italics on both sides ("You deleted this message" on the sender's),
replies that quoted it say "deleted message", the conversation list previews the
marker, and a reply being written to it is dropped. Real clients on a real relay, on
the Qt reactor (tests/ui_trial.py)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    from twisted.trial import unittest

    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QStyleOptionViewItem

import tests.test_ui_details as details
from securechat.ui.models.roles import Roles
from tests.dbtraces import traces
from tests.test_ui import model_signals, screenshot, send_typed, until

DISPLAY = Qt.ItemDataRole.DisplayRole


class UnsendMarkerUITests(details.DetailsCase):
    friends = details.DetailsTests.friends  # Alice and Bob, each in a window, chat open

    @defer.inlineCallbacks
    def test_an_unsent_message_leaves_a_marker_and_quotes_of_it_say_deleted(self) -> Any:
        alice_win, alice, chat_a, bob_win, bob, chat_b = yield self.friends()
        send_typed(chat_b, "the vault code is 4711")
        yield until(lambda: chat_a.model.rowCount() == 1, *model_signals(chat_a.model))
        # Alice answers quoting it, and starts a second reply to it
        chat_a.start_reply(chat_a.model.message(0))
        send_typed(chat_a, "noted")
        yield until(lambda: chat_b.model.rowCount() == 2, *model_signals(chat_b.model))
        self.assertEqual(chat_b.model.index(1).data(Roles.REPLY_QUOTE),
                         "the vault code is 4711")
        chat_a.start_reply(chat_a.model.message(0))
        self.assertTrue(chat_a.reply_bar.isVisibleTo(chat_a))
        # Bob unsends it (asked first)
        next(a for a in chat_b.context_menu(0).actions()
             if a.text().startswith("Unsend")).trigger()
        QTest.mouseClick(chat_b.question.yes_button, Qt.MouseButton.LeftButton)
        yield until(lambda: chat_a.model.index(0).data(Roles.DELETED),
                    *model_signals(chat_a.model))
        yield until(lambda: chat_b.model.index(0).data(Roles.DELETED),
                    *model_signals(chat_b.model))
        self.assertEqual(chat_a.model.index(0).data(DISPLAY), "This message was deleted")
        self.assertEqual(chat_b.model.index(0).data(DISPLAY), "You deleted this message")
        for chat in (chat_a, chat_b):
            self.assertEqual(chat.model.rowCount(), 2)
            self.assertEqual(chat.model.index(1).data(Roles.REPLY_QUOTE), "deleted message")
            option = QStyleOptionViewItem()
            option.font = chat.view.font()
            self.assertTrue(chat.delegate._body_font(option, chat.model.index(0)).italic())
        self.assertFalse(chat_a.reply_bar.isVisibleTo(chat_a))  # nothing left to quote
        self.assertIsNone(chat_a.reply_to)
        self.assertEqual([a.text() for a in chat_a.context_menu(0).actions()],
                         ["Delete for me"])
        for client in (alice, bob):
            self.assertEqual((yield client.store.run(traces, "4711")), [])
        screenshot(alice_win, "d11-unsent-marker")
        # Alice's list previews her own reply; after she deletes it for herself, the marker
        yield alice.delete_message(chat_a.model.message(1).id)
        sessions = alice_win.main.sessions
        yield until(lambda: sessions.index(0).data(Roles.LAST_TEXT) == "This message was deleted",
                    *model_signals(sessions))
        yield bob.delete_message(chat_b.model.message(1).id)
        bob_sessions = bob_win.main.sessions
        yield until(lambda: bob_sessions.index(0).data(Roles.LAST_TEXT)
                    == "You deleted this message", *model_signals(bob_sessions))
