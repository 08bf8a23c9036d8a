"""The desktop review's findings that no other test walked (issue 11): the add-contact
box's answers (colour, the address as the account has it, nothing carried over to the
next account), whitespace that must not say "typing…", the emoji picker, read ticks
that look unlike delivered ones, the sign-up form in a narrow window, notifications
readable in both themes, two accounts told apart, and the language setting.

Runs on the Qt reactor (tests/ui_trial.py), real clients on a real relay, offscreen."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import QEvent, QPoint, QRect, Qt
from PyQt6.QtGui import QColor, QGuiApplication, QHelpEvent, QImage
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import (
    QApplication,
    QLineEdit,
    QStyleOptionViewItem,
    QSystemTrayIcon,
    QToolTip,
)

import tests.test_ui_details as details
from securechat.client import MessageStatus
from securechat.client import events as ev
from securechat.protocol import uris
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.delegates import BubbleDelegate
from securechat.ui.format import initials
from securechat.ui.models.roles import Roles
from securechat.ui.widgets.notifier import app_icon
from securechat.ui.windows.settings import LANGUAGE_KEY
from tests.hostile import HostileRelay
from tests.test_ui import model_signals, screenshot, send_typed, until


def luminance(colour: QColor) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(colour.red()) + 0.7152 * channel(colour.green())
            + 0.0722 * channel(colour.blue()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio (4.5 or more: readable text)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink(image: QImage, area: QRect, fill: QColor) -> list[QColor]:
    """The pixels of `area` drawn in something other than `fill` (text, ticks)."""
    found = []
    for x in range(max(area.left(), 0), min(area.right(), image.width() - 1) + 1):
        for y in range(max(area.top(), 0), min(area.bottom(), image.height() - 1) + 1):
            c = image.pixelColor(x, y)
            if abs(c.red() - fill.red()) + abs(c.green() - fill.green()) + abs(
                    c.blue() - fill.blue()) > 60:
                found.append(c)
    return found


def mean(colours: list[QColor]) -> tuple[float, float, float]:
    n = max(len(colours), 1)
    return (sum(c.red() for c in colours) / n, sum(c.green() for c in colours) / n,
            sum(c.blue() for c in colours) / n)


def outlined_in_error(field: Any) -> bool:
    """The field's border, drawn: in the theme's error colour?"""
    QTest.qWait(0)
    image = field.grab().toImage()
    return image.pixelColor(image.width() // 2, 0).name() == theme.current().error


class RecordingTray(QSystemTrayIcon):
    """A real tray icon whose balloons are also written down (offscreen has no tray
    to show them on)."""

    def __init__(self, parent: Any) -> None:
        super().__init__(app_icon(), parent)
        self.balloons: list[tuple[str, str, int]] = []

    def showMessage(self, title: str, body: str, icon: Any = None,  # Qt's name
                    ms: int = 10000) -> None:
        self.balloons.append((title, body, ms))


class AddContactTests(details.DetailsCase):
    @defer.inlineCallbacks
    def test_the_add_contact_box_answers_in_one_tone_and_forgets_between_accounts(
            self) -> Any:
        alice_win, alice, _, bob = yield self.two_windows()
        main = alice_win.main
        status = main.add_status

        def add(email: str) -> None:
            main.add_email.clear()
            QTest.keyClicks(main.add_email, email)
            QTest.keyClick(main.add_email, Qt.Key.Key_Return)

        add("not an email")  # named as invalid, in the error colour, the field outlined
        self.assertEqual((status.text(), status.objectName()),
                         ("Enter a valid email address.", "error"))
        self.assertTrue(outlined_in_error(main.add_email))
        add("alice@example.org")
        yield until(lambda: main.add_button.isEnabled())
        self.assertEqual((status.text(), status.objectName()),
                         ("you cannot add yourself", "error"))
        # Sent: good news, muted; the address as the account knows it, not as typed
        add("Bob@Example.org")
        yield until(lambda: status.text().startswith("Friend request sent"),
                    main.requests.rendered)
        self.assertEqual((status.text(), status.objectName()),
                         ("Friend request sent to bob@example.org.", "muted"))
        yield self.log(bob).wait_for(ev.FriendRequestReceived)
        yield bob.accept_friend(alice.me.user_id)
        yield until(lambda: main.sessions.rowCount() == 1, *model_signals(main.sessions))
        add("bob@example.org")  # already a contact: it says so, as an error
        yield until(lambda: main.add_button.isEnabled() and status.text() != "")
        self.assertEqual((status.text(), status.objectName()), ("already a contact", "error"))
        screenshot(alice_win, "r1-already-a-contact")
        # Typed but not sent, a notification on screen, then another account opened
        # here: its box is empty, and the notification went with the account
        main.add_email.clear()
        QTest.keyClicks(main.add_email, "carol@exam")
        alice_win.notifier.message("bob", "the plan for Saturday")
        self.assertTrue(alice_win.banner.isVisibleTo(alice_win))
        yield self.account_on_disk("alice", "carol@example.org")
        yield alice_win.lock()
        self.clients.remove(alice)
        yield self.unlock(alice_win, "carol@example.org")
        self.assertEqual(main.add_email.text(), "")
        self.assertEqual(main.add_status.text(), "")
        self.assertFalse(alice_win.banner.isVisibleTo(alice_win))
        self.assertFalse(outlined_in_error(main.add_email))


class ComposerAndTicksTests(details.DetailsCase):
    friends = details.DetailsTests.friends

    @defer.inlineCallbacks
    def test_whitespace_is_not_typing_the_emoji_picker_and_read_ticks_stand_out(
            self) -> Any:
        alice_win, alice, chat_a, bob_win, bob, chat_b = yield self.friends()
        live = HostileRelay(self.relay).capture(uris.MESSAGE_SEND_LIVE)  # typing goes live

        def alices() -> list[Any]:
            return [c for c, _, _ in live if c.principal.user_id == alice.me.user_id]

        # Spaces and newlines: nothing to show Bob, and Enter sends nothing
        mark = self.log(bob).mark()
        QTest.keyClicks(chat_a.composer, "     ")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        send_typed(chat_a, "  ")
        self.assertEqual(chat_a.composer.toPlainText(), "     \n  ")  # kept, not sent
        marker = yield alice.send_text(bob.me.user_id, "are you there?")
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.id == marker.id)
        yield alice.flush_outbox()
        self.assertEqual(alices(), [])
        self.assertEqual([e for e in self.log(bob).events[mark:]
                          if isinstance(e, ev.TypingChanged)], [])
        self.assertNotEqual(chat_b.subtitle.text(), "typing…")
        # A letter is typing (the path the spaces took is the real one)
        mark = self.log(bob).mark()
        QTest.keyClicks(chat_a.composer, "h")
        yield self.log(bob).wait_for(ev.TypingChanged, lambda e: e.typing, since=mark)
        self.assertEqual(len(alices()), 1)
        # The emoji picker inserts where the cursor is
        chat_a.composer.selectAll()
        chat_a.composer.insertPlainText("hi ")
        chat_a.emoji.buttons[0].click()
        picked = chat_a.emoji.buttons[0].text()
        self.assertEqual(chat_a.composer.toPlainText(), f"hi {picked}")
        self.assertFalse(chat_a.emoji.menu().isVisible())
        # Delivered, then read: the ticks change colour and weight, not just a shade
        chat_b.set_client(bob, bob_win.bridge)  # Bob's chat closed: not read yet
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_a.model.rowCount() == 2
                    and chat_a.model.index(1).data(Roles.STATUS) == MessageStatus.DELIVERED,
                    *model_signals(chat_a.model))
        delivered = self.ticks(chat_a, 1)
        chat_b.open_peer(alice.me.user_id)
        yield until(lambda: chat_a.model.index(1).data(Roles.STATUS) == MessageStatus.READ,
                    *model_signals(chat_a.model))
        read = self.ticks(chat_a, 1)
        (_, dg, db), (_, rg, rb) = mean(delivered), mean(read)
        self.assertGreater(db, dg + 40)  # delivered: faint, the bubble's own blue-white
        self.assertGreater(rg, rb + 20)  # read: a solid green badge...
        self.assertGreater(len(read), 3 * len(delivered))  # ...many times the ink
        screenshot(alice_win, "r2-read-ticks")

    def ticks(self, chat: Any, row: int) -> list[QColor]:
        """The tick marks' pixels at the bottom right of one of my bubbles."""
        QTest.qWait(0)
        chat.view.clearSelection()
        rect = chat.view.visualRect(chat.model.index(row))
        image = chat.view.viewport().grab(rect).toImage()
        d = BubbleDelegate
        right = rect.width() - d.MARGIN - d.PAD
        bottom = rect.height() - d.GAP - d.PAD + 2
        area = QRect(right - 24, bottom - d.FOOT_H, 26, d.FOOT_H + 2)
        return ink(image, area, QColor(theme.current().bubble_me))


class WindowTests(details.DetailsCase):
    @defer.inlineCallbacks
    def test_errors_in_the_status_bar_take_the_error_colour_news_does_not(self) -> Any:
        win, _, bob = yield self.alice_and_a_friend()
        chat = yield self.chat_with(win, bob.me.user_id)
        chat.composer.insertPlainText("x" * 70_000)
        QTest.keyClick(chat.composer, Qt.Key.Key_Return)
        bar = win.statusBar()
        self.assertIn("70,000", bar.currentMessage())
        self.assertEqual(bar.objectName(), "error")
        screenshot(win, "r5-too-long-in-the-status-bar")
        win._pin_changed(S.PIN_REMOVED)  # where a removed PIN is told: news, not an error
        self.assertEqual((bar.currentMessage(), bar.objectName()), (S.PIN_REMOVED, ""))

    @defer.inlineCallbacks
    def test_the_lock_screens_account_list_is_drawn_like_its_fields(self) -> Any:
        yield self.account_on_disk("alice", "alice@example.org")
        win = self.shell("alice")
        lock = win.lock_page
        QTest.qWait(0)
        combo, field = lock.account.grab().toImage(), lock.password.grab().toImage()
        # rounded like the field (the corner is the window's), the same border
        self.assertEqual(combo.pixelColor(0, 0), field.pixelColor(0, 0))
        self.assertNotEqual(combo.pixelColor(0, 0), combo.pixelColor(combo.width() // 2, 0))
        self.assertEqual(combo.pixelColor(combo.width() // 2, 0),
                         field.pixelColor(field.width() // 2, 0))
        # and its arrow is there, in the muted colour
        arrow = ink(combo, QRect(combo.width() - 24, 0, 24, combo.height()),
                    QColor(theme.current().base))
        self.assertTrue(any(c.name() == theme.current().muted for c in arrow))

    def test_the_sign_up_form_keeps_its_fields_wide_in_a_narrow_window(self) -> None:
        win = self.shell("zoe")
        win.resize(640, 600)
        page = win.onboarding
        QTest.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
        QTest.qWait(0)
        self.assertLessEqual(win.minimumSizeHint().width(), 640)
        for field in (page.reg_email, page.reg_name, page.reg_password, page.reg_confirm):
            self.assertGreaterEqual(field.width(), 250, field.objectName())
        # a mistake outlines the field it is in, until it is edited
        QTest.keyClicks(page.reg_email, "alice-at-example")
        QTest.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
        self.assertEqual(page.reg_error.text(), "Enter a valid email address.")
        self.assertTrue(outlined_in_error(page.reg_email))
        self.assertFalse(outlined_in_error(page.reg_name))
        screenshot(win, "r6-invalid-email-outlined")
        page.reg_email.selectAll()
        QTest.keyClicks(page.reg_email, "alice@example.org")
        self.assertFalse(outlined_in_error(page.reg_email))
        QTest.keyClicks(page.reg_password, "short")
        # the eye shows the password as typed, and hides it again
        eye = page.reveal[0]
        self.assertIn(eye, page.reg_password.actions())
        eye.trigger()
        self.assertEqual(page.reg_password.echoMode(), QLineEdit.EchoMode.Normal)
        self.assertEqual(page.reg_password.displayText(), "short")
        eye.trigger()
        self.assertEqual(page.reg_password.echoMode(), QLineEdit.EchoMode.Password)
        self.assertNotIn("short", page.reg_password.displayText())
        line = page.strength.fontMetrics().lineSpacing()
        self.assertLess(page.strength.height(), 2 * line)  # "Strength: too short", one line
        screenshot(win, "r3-sign-up-640")

    @defer.inlineCallbacks
    def test_notifications_are_readable_in_both_themes_and_two_accounts_differ(
            self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        self.addCleanup(theme.apply, self.app, False)
        for dark in (False, True):
            theme.apply(self.app, dark=dark)
            mark = self.log(alice).mark()
            yield bob.send_text(alice.me.user_id, f"dark={dark}")
            yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
            banner = win.banner
            QTest.qWait(0)
            image = banner.grab().toImage()
            background = image.pixelColor(image.width() // 2, 2)
            for label in (banner.title, banner.body):
                text = label.palette().color(label.foregroundRole())
                self.assertGreaterEqual(contrast(text, background), 4.5,
                                        f"dark={dark}: {text.name()} on {background.name()}")
            screenshot(win, f"r4-banner-{'dark' if dark else 'light'}")
            # a tray's balloon (Qt draws it on X11 without a notification service)
            # takes the theme's tooltip colours: readable too
            palette = self.app.palette()
            self.assertGreaterEqual(contrast(palette.color(palette.ColorRole.ToolTipText),
                                             palette.color(palette.ColorRole.ToolTipBase)),
                                    4.5)
        # With a tray: the balloon is the bounded preview, and it goes by itself
        tray = win.notifier.tray = RecordingTray(win)
        mark = self.log(alice).mark()
        yield bob.send_text(alice.me.user_id, "z" * 5000)
        yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        (title, body, ms), = tray.balloons
        self.assertEqual(title, "New message from bob")
        self.assertLessEqual(len(body), 200)
        self.assertGreater(ms, 0)
        # A second account in another window: titles and tray tooltips say whose
        yield self.account_on_disk("carol", "carol@example.org")
        other = self.shell("carol")
        yield self.unlock(other, "carol@example.org")
        other.notifier.tray = RecordingTray(other)
        for window in (win, other):
            window._show_unread(window.main.unread_total)
        self.assertIn("alice@example.org", win.notifier.tray.toolTip())
        self.assertIn("carol@example.org", other.notifier.tray.toolTip())
        self.assertIn("3 unread", win.notifier.tray.toolTip())  # the count too
        self.assertTrue(win.windowTitle().startswith("(3) "))
        self.assertIn("carol@example.org", other.windowTitle())
        for window in (win, other):
            window.notifier.tray = None

    @defer.inlineCallbacks
    def test_the_language_chosen_is_kept_for_the_next_start(self) -> Any:
        win, _, _ = yield self.alice_and_a_friend()
        dialog = win.show_settings()
        self.assertEqual(dialog.language.currentData(), "")  # the system's, at first
        dialog.language.setCurrentIndex(dialog.language.findData("en"))
        self.assertEqual(self.settings.value(LANGUAGE_KEY), "en")
        dialog.close()
        again = win.show_settings()
        self.assertEqual(again.language.currentData(), "en")
        again.close()


class ReadingPositionTests(details.DetailsCase):
    friends = details.DetailsTests.friends

    @defer.inlineCallbacks
    def test_resizing_the_window_keeps_the_message_being_read_in_place(self) -> Any:
        alice_win, alice, chat_a, _, bob, _ = yield self.friends()
        # long lines: their heights change with the width
        yield self.stored_history(alice, chat_a, bob.me.user_id,
                                  lambda i: f"message {i} " + "word " * (20 + 7 * (i % 5)))
        bar = chat_a.view.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
        top = chat_a.view.indexAt(QPoint(8, 8)).data(Roles.MESSAGE_ID)
        for width in (700, 1200, 960):
            alice_win.resize(width, alice_win.height())
            QTest.qWait(0)
            QTest.qWait(0)
            self.assertEqual(chat_a.view.indexAt(QPoint(8, 8)).data(Roles.MESSAGE_ID), top,
                             f"at {width} px")
        # at the bottom, it stays at the bottom
        chat_a.view.scrollToBottom()
        alice_win.resize(700, alice_win.height())
        QTest.qWait(0)
        QTest.qWait(0)
        self.assertEqual(bar.value(), bar.maximum())


class FileMessageTests(details.DetailsCase):
    friends = details.DetailsTests.friends

    @defer.inlineCallbacks
    def test_a_file_message_is_quoted_copied_and_not_edited_by_its_name(self) -> Any:
        _, alice, chat_a, _, bob, chat_b = yield self.friends()
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, "minutes.txt")
        with open(path, "w") as f:
            f.write("we met, we agreed\n")
        yield alice.files.send(bob.me.user_id, path)
        for chat in (chat_a, chat_b):
            yield until(lambda c=chat: c.model.rowCount() == 1, *model_signals(chat.model))
        shown = chat_b.model.index(0).data(Qt.ItemDataRole.DisplayRole)
        self.assertTrue(shown.startswith("📎 minutes.txt"), shown)
        # Alice's menu: no Edit (a file has no text to edit); Copy copies what is shown
        actions = {a.text(): a for a in chat_a.context_menu(0).actions()}
        self.assertNotIn("Edit", actions)
        actions["Copy text"].trigger()
        self.assertEqual(QGuiApplication.clipboard().text(), shown)
        # Bob replies to it: the bar and the quote name the file, never its JSON
        chat_b.start_reply(chat_b.model.message(0))
        self.assertIn("📎 minutes.txt", chat_b.reply_label.text())
        self.assertNotIn("filename", chat_b.reply_label.text())
        send_typed(chat_b, "got it")
        yield until(lambda: chat_a.model.rowCount() == 2, *model_signals(chat_a.model))
        self.assertEqual(chat_a.model.index(1).data(Roles.REPLY_QUOTE), shown)
        self.assertEqual(chat_b.model.index(1).data(Roles.REPLY_QUOTE), shown)

    @defer.inlineCallbacks
    def test_a_file_is_notified_by_its_name(self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, "holiday.txt")
        with open(path, "w") as f:
            f.write("the photos follow\n")
        mark = self.log(alice).mark()
        yield bob.files.send(alice.me.user_id, path)
        yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        title, body = win.notifier.shown[-1]
        self.assertEqual(title, "New message from bob")
        self.assertTrue(body.startswith("📎 holiday.txt"), body)
        # found by its name in the message search, and listed by it
        panel = win.main.message_search
        searched = until(lambda: panel.list.count() == 1, panel.searched)
        QTest.keyClicks(win.main.search, "holiday")
        yield searched
        self.assertTrue(panel.list.item(0).text().startswith("bob: 📎 holiday.txt"),
                        panel.list.item(0).text())


class DraftTests(details.DetailsCase):
    @defer.inlineCallbacks
    def test_a_draft_stays_with_its_conversation_and_goes_with_the_account(self) -> Any:
        win, alice, bob = yield self.alice_and_a_friend()
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        yield self.befriend(carol, alice)
        chat = yield self.chat_with(win, bob.me.user_id)
        QTest.keyClicks(chat.composer, "for bob only")
        yield self.log(bob).wait_for(ev.TypingChanged, lambda e: e.typing)
        # Carol's chat: an empty composer, and Carol is not told anyone types
        mark = self.log(carol).mark()
        yield self.chat_with(win, carol.me.user_id)
        self.assertEqual(chat.composer.toPlainText(), "")
        sent = yield alice.send_text(carol.me.user_id, "hello Carol")
        yield self.log(carol).wait_for(ev.MessageReceived, lambda e: e.message.id == sent.id,
                                       since=mark)
        self.assertEqual([e for e in self.log(carol).events[mark:]
                          if isinstance(e, ev.TypingChanged) and e.typing], [])
        # Back to Bob: his draft is there, ready to go on
        yield self.chat_with(win, bob.me.user_id)
        self.assertEqual(chat.composer.toPlainText(), "for bob only")
        QTest.keyClicks(chat.composer, ", really")
        self.assertEqual(chat.composer.toPlainText(), "for bob only, really")
        # Locked (the account closed) and opened again: nothing typed is kept
        yield win.lock()
        self.clients.remove(alice)
        reopened = until(lambda: chat.peer == bob.me.user_id, chat.page_loaded)
        yield self.unlock(win, "alice@example.org")
        yield reopened
        self.assertEqual(chat.composer.toPlainText(), "")


class InitialsTests(unittest.TestCase):
    def test_initials_are_made_of_letters_not_emoji(self) -> None:
        self.assertEqual(initials("Bobby 🐻"), "BO")
        self.assertEqual(initials("🌸 Carol Ann"), "CA")
        self.assertEqual(initials("🌸"), "🌸")  # nothing else to take
        self.assertEqual(initials("Alice Liddell"), "AL")


class QuoteTests(details.DetailsCase):
    friends = details.DetailsTests.friends

    @defer.inlineCallbacks
    def test_hovering_an_elided_quote_shows_all_of_it(self) -> Any:
        _, _, chat_a, _, _, chat_b = yield self.friends()
        long = "Shall we meet " + "really " * 60 + "at the end of the pier?"
        chat_a.composer.insertPlainText(long)
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.rowCount() == 1, *model_signals(chat_b.model))
        chat_b.start_reply(chat_b.model.message(0))
        send_typed(chat_b, "yes")
        yield until(lambda: chat_a.model.rowCount() == 2, *model_signals(chat_a.model))
        QTest.qWait(0)
        index = chat_a.model.index(1)
        option = QStyleOptionViewItem()
        option.rect = chat_a.view.visualRect(index)
        option.font = chat_a.view.font()
        quote = chat_a.delegate.quote_rect(option, index)
        viewport = chat_a.view.viewport()

        def hover(point: QPoint) -> str:
            QToolTip.hideText()
            QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, point,
                                                        viewport.mapToGlobal(point)))
            return QToolTip.text() if QToolTip.isVisible() else ""

        shown = hover(quote.center())
        self.assertIn("You: Shall we meet really", shown)
        self.assertIn("at the end of the pier?", shown)  # the end the bubble cut off
        origin, _ = chat_a.delegate.text_origin(option, index)  # the reply's own text: none
        on_text = origin + QPoint(4, 4)
        self.assertFalse(chat_a.delegate.helpEvent(
            QHelpEvent(QEvent.Type.ToolTip, on_text, viewport.mapToGlobal(on_text)),
            chat_a.view, option, index))
        QToolTip.hideText()


class CounterTests(details.DetailsCase):
    @defer.inlineCallbacks
    def test_the_counter_counts_characters_as_the_limit_does(self) -> Any:
        win, _, bob = yield self.alice_and_a_friend()
        chat = yield self.chat_with(win, bob.me.user_id)
        chat.composer.insertPlainText("😀" * 40_000)  # 80,000 UTF-16 units, 40,000 emoji
        self.assertFalse(chat.counter.isVisibleTo(chat))  # far from 65,536
        chat.composer.insertPlainText("😀" * 20_000)
        self.assertTrue(chat.counter.isVisibleTo(chat))  # near it: 60,000
        self.assertIn("60,000", chat.counter.text())
        self.assertEqual(chat.counter.objectName(), "muted")  # not over
