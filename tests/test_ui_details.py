"""The desktop client's details a demanding user notices (issue 11): a draft is never
lost, long text wraps or elides without widening anything, reactions and edits, quotes
that name their author, unsend that asks first, and a chat that opens at the newest.

Runs on the Qt reactor (tests/ui_trial.py), driving real clients on a real relay."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    from twisted.trial import unittest

    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QFontMetrics
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QStyleOptionViewItem, QSystemTrayIcon

import securechat
from securechat.client import MAX_MESSAGE_LENGTH, MessageStatus, StoredMessage
from securechat.client import events as ev
from securechat.ui import theme
from securechat.ui.models.roles import Roles
from securechat.ui.textlayout import text_size
from securechat.ui.widgets.notifier import Notifier, app_icon
from securechat.ui.windows.settings import about_label
from tests.test_ui import UITestCase, model_signals, screenshot, send_typed, until

LONG_WORD = "Supercalifragilistic" * 100  # 2,000 characters, no space to break at
URL = "https://example.org/" + "a1b2c3d4" * 12 + "?q=the-end"


class DetailsCase(UITestCase):
    @defer.inlineCallbacks
    def stored_history(self, client: Any, chat: Any, peer: str, text_of: Any) -> Any:
        """40 messages (`text_of(i)`), a minute apart, stored as if long received, both
        ways; then the conversation opened on them."""
        sid = client.contacts[peer].sid
        start = 1_700_000_000_000
        for i in range(40):
            yield client.store.add_message(StoredMessage(
                f"{start + i * 60_000:012x}{i:04x}", sid, "other" if i % 2 else "me",
                text_of(i), "text", start + i * 60_000, MessageStatus.READ, True, None))
        opened = until(lambda: chat.model.rowCount() == 40, chat.page_loaded)
        chat.open_peer(peer)
        yield opened
        QTest.qWait(0)

    @defer.inlineCallbacks
    def alice_and_a_friend(self) -> Any:
        """(win, alice, bob): Alice in a window, Bob a core client, befriended (Bob
        asked; his request was notified to Alice)."""
        yield self.account_on_disk("alice", "alice@example.org", "Alice Liddell")
        win = self.shell("alice")
        win.notifier.tray = None  # a desktop without a tray (as offscreen)
        alice = yield self.unlock(win, "alice@example.org")
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(bob)
        yield self.befriend(bob, alice)
        return win, alice, bob


class DetailsTests(DetailsCase):
    @defer.inlineCallbacks
    def friends(self) -> Any:
        """Alice and Bob, each in a window, befriended, each with the chat open."""
        alice_win, alice, bob_win, bob = yield self.two_windows()
        yield self.befriend(alice, bob)
        for window in (alice_win, bob_win):
            sessions = window.main.sessions
            yield until(lambda s=sessions: s.rowCount() == 1, *model_signals(sessions))
        chat_a = yield self.chat_with(alice_win, bob.me.user_id)
        chat_b = yield self.chat_with(bob_win, alice.me.user_id)
        return alice_win, alice, chat_a, bob_win, bob, chat_b

    def bubble_size(self, chat: Any, row: int) -> Any:
        option = QStyleOptionViewItem()
        option.font = chat.view.font()
        return chat.delegate.sizeHint(option, chat.model.index(row))

    @defer.inlineCallbacks
    def test_an_over_long_message_is_kept_and_a_sent_one_can_be_undone(self) -> Any:
        alice_win, _, chat_a, _, _, _ = yield self.friends()
        errors: list[str] = []
        chat_a.error.connect(errors.append)
        composer = chat_a.composer
        self.assertFalse(chat_a.counter.isVisibleTo(chat_a))
        composer.insertPlainText("x" * 70_000)  # a paste past the limit
        self.assertTrue(chat_a.counter.isVisibleTo(chat_a))
        self.assertEqual(chat_a.counter.objectName(), "error")
        self.assertIn(f"{MAX_MESSAGE_LENGTH:,}", chat_a.counter.text())
        QTest.keyClick(composer, Qt.Key.Key_Return)
        self.assertEqual(len(composer.toPlainText()), 70_000)  # nothing lost
        self.assertIn("70,000", errors[-1])
        self.assertEqual(chat_a.model.rowCount(), 0)  # and nothing sent
        screenshot(alice_win, "d1-too-long-kept")
        # shortened to fit, it goes, and Ctrl+Z brings the sent text back
        composer.selectAll()
        composer.insertPlainText("a short one")
        self.assertFalse(chat_a.counter.isVisibleTo(chat_a))
        QTest.keyClick(composer, Qt.Key.Key_Return)
        self.assertEqual(composer.toPlainText(), "")
        yield until(lambda: chat_a.model.rowCount() == 1, *model_signals(chat_a.model))
        QTest.keyClick(composer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        self.assertEqual(composer.toPlainText(), "a short one")

    @defer.inlineCallbacks
    def test_long_words_wrap_and_long_names_and_quotes_never_widen_the_window(self) -> Any:
        _, alice, chat_a, bob_win, bob, chat_b = yield self.friends()
        width = bob_win.width()
        chat_a.composer.insertPlainText(f"{LONG_WORD}\nsee {URL}")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.rowCount() == 1, *model_signals(chat_b.model))
        # The whole word is in the bubble, over as many lines as it takes, within the view.
        size = self.bubble_size(chat_b, 0)
        viewport = chat_b.view.viewport().width()
        self.assertLessEqual(size.width(), viewport)
        line = QFontMetrics(chat_b.view.font()).lineSpacing()
        whole = QFontMetrics(chat_b.view.font()).horizontalAdvance(LONG_WORD)
        self.assertGreaterEqual(size.height(), line * (whole // viewport))
        wrapped = text_size(chat_b.view.font(), LONG_WORD, chat_b.delegate._max_text_width())
        self.assertGreater(wrapped.height(), 5 * line)
        screenshot(bob_win, "d2-long-word-wraps")
        # Replying to it quotes it in one elided line; the window keeps its width.
        chat_b.view.setCurrentIndex(chat_b.model.index(0))
        chat_b.start_reply(chat_b.model.message(0))
        QTest.qWait(0)
        self.assertEqual(bob_win.width(), width)
        self.assertTrue(chat_b.reply_label.is_elided())
        self.assertTrue(chat_b.reply_label.shown_text().endswith("…"))
        self.assertIn("Replying to Alice Liddell", chat_b.reply_label.shown_text())
        self.assertIn(LONG_WORD, chat_b.reply_label.toolTip())
        screenshot(bob_win, "d3-reply-to-a-long-message")
        send_typed(chat_b, "that is long")
        self.assertFalse(chat_b.view.selectionModel().hasSelection())  # highlight gone
        yield until(lambda: chat_a.model.rowCount() == 2, *model_signals(chat_a.model))
        self.assertEqual(chat_a.model.index(1).data(Roles.REPLY_AUTHOR), "You")
        self.assertEqual(chat_b.model.index(1).data(Roles.REPLY_AUTHOR), "Alice Liddell")
        # A long nickname: the header elides it, with the whole name as its tooltip.
        name = "Carol Ann Featherstonehaugh-Smythe 🌸 of the Long Names Society"
        yield bob.set_alias(alice.me.user_id, name)
        yield until(lambda: chat_b.title.text() == name, bob_win.bridge.contacts_changed)
        bob_win.resize(700, 640)
        QTest.qWait(0)
        self.assertEqual(bob_win.width(), 700)
        self.assertLessEqual(bob_win.minimumSizeHint().width(), 700)
        self.assertTrue(chat_b.title.is_elided())
        self.assertIn("Long Names Society", chat_b.title.toolTip())
        screenshot(bob_win, "d4-long-name-elided")

    @defer.inlineCallbacks
    def test_react_edit_and_unsend_from_the_menu(self) -> Any:
        _, alice, chat_a, bob_win, bob, chat_b = yield self.friends()
        send_typed(chat_a, "lunch at noon?")
        yield until(lambda: chat_b.model.rowCount() == 1, *model_signals(chat_b.model))
        # Bob reacts from the message's menu
        menu = chat_b.context_menu(0)
        react = next(a for a in menu.actions() if a.text() == "React").menu()
        self.assertNotIn("Edit", [a.text() for a in menu.actions()])  # not his to edit
        next(a for a in react.actions() if a.text() == "👍").trigger()
        yield until(lambda: chat_a.model.index(0).data(Roles.REACTIONS) == "👍",
                    *model_signals(chat_a.model))
        self.assertEqual(chat_b.model.index(0).data(Roles.MY_REACTION), "👍")
        # Alice edits it: Bob sees the new text, marked edited, in a bubble fitted to it
        before = self.bubble_size(chat_b, 0)
        menu = chat_a.context_menu(0)
        next(a for a in menu.actions() if a.text() == "Edit").trigger()
        self.assertEqual(chat_a.composer.toPlainText(), "lunch at noon?")
        self.assertIn("Editing", chat_a.reply_label.text())
        chat_a.composer.selectAll()
        chat_a.composer.insertPlainText("lunch at one? the meeting at noon runs over, so "
                                        "let us meet at the usual place a bit later")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.index(0).data(Roles.EDITED),
                    *model_signals(chat_b.model))
        self.assertTrue(chat_b.model.index(0).data(
            Qt.ItemDataRole.DisplayRole).startswith("lunch at one?"))
        self.assertEqual(chat_b.model.rowCount(), 1)  # the same message, not a new one
        sessions = bob_win.main.sessions
        yield until(lambda: "lunch at one?" in sessions.index(0).data(Roles.LAST_TEXT),
                    *model_signals(sessions))  # the list's preview too
        self.assertGreater(self.bubble_size(chat_b, 0).width(), before.width())
        self.assertEqual(chat_b.model.index(0).data(Roles.REACTIONS), "👍")  # kept
        menu = chat_b.context_menu(0)  # the history is kept, and Bob can read it
        self.assertIn("Earlier versions…", [a.text() for a in menu.actions()])
        yield chat_b.show_versions(chat_b.model.message(0).id)
        self.assertIn("lunch at noon?", chat_b.versions_box.text())
        self.assertNotIn("lunch at one?", chat_b.versions_box.text())
        chat_b.versions_box.close()
        screenshot(bob_win, "d5-reaction-and-edit")
        # Unsend asks first; Cancel keeps the message everywhere
        menu = chat_a.context_menu(0)
        next(a for a in menu.actions() if a.text().startswith("Unsend")).trigger()
        QTest.mouseClick(chat_a.question.no_button, Qt.MouseButton.LeftButton)
        marker = yield bob.send_text(alice.me.user_id, "still here?")
        yield self.log(alice).wait_for(ev.MessageReceived, lambda e: e.message.id == marker.id)
        self.assertEqual(chat_b.model.rowCount(), 2)
        # Reopened later (a restart, another chat), the reaction and the edit are there
        chat_a.open_peer(bob.me.user_id)
        yield until(lambda: chat_a.model.index(0).data(Roles.REACTIONS) == "👍",
                    *model_signals(chat_a.model))
        self.assertTrue(chat_a.model.index(0).data(Roles.EDITED))

    @defer.inlineCallbacks
    def test_a_chat_opens_at_the_newest_keeps_its_place_and_reopens_after_unlock(self) -> Any:
        alice_win, alice, chat_a, _, bob, _ = yield self.friends()
        # tall messages, so that the newest is far below the top
        yield self.stored_history(alice, chat_a, bob.me.user_id,
                                  lambda i: f"message {i}\n" + "line\n" * (i % 5) + "end")
        bar = chat_a.view.verticalScrollBar()
        self.assertGreater(bar.maximum(), 0)
        self.assertEqual(bar.value(), bar.maximum())  # the newest, whole, at the bottom
        self.assertFalse(chat_a.latest_button.isVisibleTo(chat_a))
        last = chat_a.view.visualRect(chat_a.model.index(39))
        self.assertLessEqual(last.bottom(), chat_a.view.viewport().height())
        # Reading further up: a message deleted above keeps what is on screen in place
        bar.setValue(bar.maximum() // 2)
        top = chat_a.view.indexAt(QPoint(8, 8)).data(Roles.MESSAGE_ID)
        self.assertGreater(chat_a.model.row_of(top), 2)
        yield alice.delete_message(chat_a.model.message(1).id)
        yield until(lambda: chat_a.model.rowCount() == 39, *model_signals(chat_a.model))
        self.assertEqual(chat_a.view.indexAt(QPoint(8, 8)).data(Roles.MESSAGE_ID), top)
        # Locked and unlocked, the conversation that was open is open again.
        yield alice_win.lock()
        self.clients.remove(alice)
        self.assertIsNone(chat_a.peer)
        reopened = until(lambda: chat_a.model.rowCount() == 39, chat_a.page_loaded)
        yield self.unlock(alice_win, "alice@example.org")
        yield reopened
        self.assertEqual(chat_a.peer, bob.me.user_id)

    @defer.inlineCallbacks
    def test_a_link_is_clickable_and_shows_its_whole_address_first(self) -> Any:
        _, _, chat_a, _, _, chat_b = yield self.friends()
        chat_a.composer.insertPlainText(f"see {URL}. Nice, isn't it?")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.rowCount() == 1, *model_signals(chat_b.model))
        QTest.qWait(0)
        option = QStyleOptionViewItem()
        option.rect = chat_b.view.visualRect(chat_b.model.index(0))
        option.font = chat_b.view.font()
        origin, _ = chat_b.delegate.text_origin(option, chat_b.model.index(0))
        line = QFontMetrics(chat_b.view.font()).lineSpacing()
        on_see = origin + QPoint(3, line // 2)
        on_link = origin + QPoint(QFontMetrics(chat_b.view.font()).horizontalAdvance("see h"),
                                  line // 2)
        viewport = chat_b.view.viewport()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=on_see)
        self.assertIsNone(chat_b.question)  # plain text: nothing to open
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=on_link)
        self.assertIsNotNone(chat_b.question)
        self.assertIn(URL, chat_b.question.text())  # the whole address, without the "."
        self.assertNotIn(URL + ".", chat_b.question.text())
        screenshot(chat_b.question, "d6-open-link")
        QTest.mouseClick(chat_b.question.no_button, Qt.MouseButton.LeftButton)
        menu = chat_b.context_menu(0)
        self.assertTrue(any(a.text().startswith("Open link: https://example.org/")
                            for a in menu.actions()))


class SettingsAndNotificationsTests(DetailsCase):
    @defer.inlineCallbacks
    def test_notifications_in_the_window_without_a_tray_are_bounded_and_go_by_themselves(
            self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        self.assertEqual(win.banner.title.text(), "Friend request")  # Bob's, in the window
        yield bob.send_text(alice.me.user_id, "line one\n" + "y" * 60_000)
        yield self.log(alice).wait_for(ev.MessageReceived)
        title, body = win.notifier.shown[-1]
        self.assertEqual(title, "New message from bob")
        self.assertLessEqual(len(body), Notifier.PREVIEW_CHARS)
        self.assertTrue(body.startswith("line one yyy") and body.endswith("…"))
        self.assertTrue(win.banner.isVisibleTo(win))  # shown in the window instead
        self.assertTrue(win.banner.closes_soon)
        self.assertLessEqual(win.minimumSizeHint().width(), win.width())  # never widens it
        self.assertEqual(win.banner.title.text(), "New message from bob")
        screenshot(win, "d7-in-app-notification")
        # The count is in the title, and on the tray icon (drawn with a badge).
        yield until(lambda: win.windowTitle().startswith("(1) "),
                    win.main.unread_total_changed)
        self.assertIn("alice@example.org", win.windowTitle())
        self.assertNotEqual(app_icon(1).pixmap(64, 64).toImage(),
                            app_icon(0).pixmap(64, 64).toImage())
        QTest.mouseClick(win.banner, Qt.MouseButton.LeftButton)
        self.assertFalse(win.banner.isVisibleTo(win))
        # Muted from the conversation's menu: counted unread, but no notification
        menu = win.main.session_menu(win.main.filtered.index(0, 0))
        next(a for a in menu.actions() if a.text() == "Mute notifications").trigger()
        shown = len(win.notifier.shown)
        yield bob.send_text(alice.me.user_id, "psst")
        yield until(lambda: win.main.unread_total == 2, win.main.unread_total_changed)
        self.assertEqual(len(win.notifier.shown), shown)
        menu = win.main.session_menu(win.main.filtered.index(0, 0))
        self.assertIn("Unmute notifications", [a.text() for a in menu.actions()])
        next(a for a in menu.actions() if a.text() == "Block").trigger()
        yield self.log(alice).wait_for(ev.BlockListUpdated)
        self.assertIn(bob.me.user_id, alice.blocked)

    @defer.inlineCallbacks
    def test_settings_theme_notifications_close_to_tray_and_security(self) -> Any:
        yield self.account_on_disk("alice", "alice@example.org")
        win = self.shell("alice")
        yield self.unlock(win, "alice@example.org")
        dialog = win.show_settings()
        self.addCleanup(lambda: (theme.choose(self.app, "system"), theme.apply(self.app, False)))
        dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
        self.assertTrue(theme.current().dark)
        self.assertEqual(self.settings.value("appearance/theme"), "dark")
        screenshot(dialog, "d8-settings")
        dialog.notify.setCurrentIndex(dialog.notify.findData(Notifier.NAME_ONLY))
        self.assertEqual(win.notifier.content, Notifier.NAME_ONLY)
        self.assertTrue(win.notification_actions[Notifier.NAME_ONLY].isChecked())
        # without a tray, closing cannot keep the app: the choice is off and disabled
        self.assertFalse(dialog.close_to_tray.isEnabled())
        texts = {b.text(): b.isEnabled() for b in dialog.security_buttons}
        self.assertEqual(texts, {"Set PIN…": True, "Remove PIN": False,
                                 "Change master password…": True, "Linked devices…": True})
        self.assertIn(securechat.__version__, about_label().text())
        dialog.close()
        # With a tray, closing the window hides it and the account stays open
        win.notifier.tray = QSystemTrayIcon(app_icon(), win)
        win.close()
        self.assertFalse(win.isVisible())
        self.assertIsNotNone(win.client)
        self.settings.setValue("window/close_to_tray", "false")
        win.show()
        win.notifier.tray = None
        # another window built later (a restart) takes the theme chosen
        theme.choose(self.app, "light")
        self.shell("bob")
        self.assertTrue(theme.current().dark)


class SearchTests(DetailsCase):
    @defer.inlineCallbacks
    def test_the_search_box_finds_messages_by_a_word_or_says_no_results(self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        for text in ("Un café au lait, s'il vous plaît", "the door code is 4711"):
            yield bob.send_text(alice.me.user_id, text)
            yield self.log(alice).wait_for(ev.MessageReceived, lambda e, t=text:
                                           e.message.text == t)
        main = win.main
        panel = main.message_search
        searched = until(lambda: panel.list.count() == 1, panel.searched)
        QTest.keyClicks(main.search, "cafe")
        yield searched
        self.assertTrue(panel.isVisibleTo(win))
        self.assertIn("café au lait", panel.list.item(0).text())
        self.assertFalse(panel.no_results.isVisibleTo(win))
        screenshot(win, "d9-message-search")
        main.search.clear()
        searched = until(lambda: panel.no_results.isVisibleTo(win), panel.searched)
        QTest.keyClicks(main.search, "croissant")
        yield searched
        self.assertEqual(main.filtered.rowCount(), 0)
        self.assertEqual(panel.list.count(), 0)
        main.search.clear()
        searched = until(lambda: panel.list.count() == 1, panel.searched)
        QTest.keyClicks(main.search, "door")
        yield searched
        opened = until(lambda: main.chat.peer == bob.me.user_id, main.chat.page_loaded)
        panel.list.itemClicked.emit(panel.list.item(0))
        yield opened
        # Filtering the list and clearing it again keeps that conversation highlighted
        QTest.keyClicks(main.search, "nobody")
        main.search.clear()
        selected = main.session_view.selectionModel().selectedIndexes()
        self.assertEqual([i.data(Roles.PEER) for i in selected], [bob.me.user_id])


class FriendRequestTests(DetailsCase):
    @defer.inlineCallbacks
    def test_waiting_requests_deny_asks_block_holds_and_invalid_emails_are_named(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_windows()
        main_a, main_b = alice_win.main, bob_win.main
        QTest.keyClicks(main_a.add_email, "not an email")
        QTest.keyClick(main_a.add_email, Qt.Key.Key_Return)
        self.assertEqual(main_a.add_status.text(), "Enter a valid email address.")
        main_a.add_email.clear()
        QTest.keyClicks(main_a.add_email, "bob@example.org")
        QTest.keyClick(main_a.add_email, Qt.Key.Key_Return)
        # Alice sees her request waiting; Bob sees it with the email and the chosen name
        yield until(lambda: len(main_a.requests.waiting) == 1, main_a.requests.rendered)
        row = main_a.requests.list.itemWidget(main_a.requests.list.item(0))
        self.assertTrue(row.waiting_label.isVisibleTo(alice_win))
        self.assertFalse(row.deny_button.isVisibleTo(alice_win))
        yield until(lambda: len(main_b.requests.pending) == 1, main_b.requests.rendered)
        row = main_b.requests.list.itemWidget(main_b.requests.list.item(0))
        self.assertEqual(row.email_label.text(), "alice@example.org")
        self.assertEqual(row.name_label.text(), "Alice Liddell")
        self.assertTrue(row.block_button.isVisibleTo(bob_win))
        viewport = main_b.requests.list.viewport()  # all three buttons inside the list
        corner = row.block_button.mapTo(viewport, row.block_button.rect().bottomRight())
        self.assertTrue(viewport.rect().contains(corner), f"{corner} {viewport.rect()}")
        # Deny asks first: Cancel keeps the request
        QTest.mouseClick(row.deny_button, Qt.MouseButton.LeftButton)
        QTest.mouseClick(main_b.requests.question.no_button, Qt.MouseButton.LeftButton)
        self.assertEqual(len(main_b.requests.pending), 1)
        # Block (asked too): denied, and a new request from Alice does not come through
        row = main_b.requests.list.itemWidget(main_b.requests.list.item(0))
        QTest.mouseClick(row.block_button, Qt.MouseButton.LeftButton)
        screenshot(bob_win, "d10-block-request")
        QTest.mouseClick(main_b.requests.question.yes_button, Qt.MouseButton.LeftButton)
        yield until(lambda: not main_b.requests.pending, main_b.requests.rendered)
        self.assertIn(alice.me.user_id, bob.blocked)
        yield self.log(alice).wait_for(ev.FriendRequestAnswered)
        yield until(lambda: not main_a.requests.waiting, main_a.requests.rendered)
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        yield alice.add_friend("bob@example.org")  # again, at once
        self.assertTrue((yield alice.handed_off()))  # the relay has it before Carol's
        yield carol.add_friend("bob@example.org")  # someone not blocked: it arrives
        yield self.log(bob).wait_for(ev.FriendRequestReceived,
                                     lambda e: e.email == "carol@example.org")
        requests = yield bob.pending_requests(incoming_only=True)
        self.assertEqual([r.email for r in requests], ["carol@example.org"])



class ConsistencyTests(DetailsCase):
    def test_progress_is_muted_errors_red_and_disabled_items_look_disabled(self) -> None:
        from PyQt6.QtGui import QPalette

        from securechat.ui import strings as S
        from securechat.ui.widgets.status import StatusLabel

        label = StatusLabel()
        self.addCleanup(label.deleteLater)
        label.setText(S.WORKING)
        self.assertEqual(label.objectName(), "muted")
        label.setText("wrong password for this account on this device")
        self.assertEqual(label.objectName(), "error")
        palette = self.app.palette()
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
            self.assertNotEqual(palette.color(QPalette.ColorGroup.Disabled, role),
                                palette.color(QPalette.ColorGroup.Active, role))
        page = self.shell("zoe").onboarding  # the recovery phrase: numbered words
        page.mnemonic_words.set_words(["alpha", "bravo", "charlie", "delta"])
        self.assertEqual([w.text() for w in page.mnemonic_words.labels],
                         [" 1. alpha", " 2. bravo", " 3. charlie", " 4. delta"])
