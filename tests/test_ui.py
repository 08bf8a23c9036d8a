"""The desktop client against a real relay and real client cores, driven like a user.

Runs under Twisted's asyncio reactor on a qasync (Qt) loop: scripts/run_trial.py starts
this module through tests/ui_trial.py. Waits on signals and core events, never sleeps.
Screenshots of the main screens are saved under $SECURECHAT_SCREENSHOTS.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from securechat.client.model import MessageStatus
from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import QCoreApplication, QPoint, QSettings, Qt, QTranslator
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from securechat.client import events as ev
from securechat.client import local_accounts as accounts
from securechat.client.core import SecureChatClient
from securechat.client.model import Contact, KdfCost, StoredMessage
from securechat.protocol import uris
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.delegates import tick_text
from securechat.ui.format import initials
from securechat.ui.models.chat import ChatModel
from securechat.ui.models.roles import Roles
from securechat.ui.models.sessions import SessionListModel
from securechat.ui.widgets.notifier import Notifier
from securechat.ui.widgets.requests import RequestRow
from securechat.ui.windows.devices import RemoveDeviceDialog
from securechat.ui.windows.lock import LockPage
from securechat.ui.windows.profile import format_safety_number
from securechat.ui.windows.shell import ShellWindow
from tests.clientsupport import FAST, ClientTestCase, EventLog
from tests.dbtraces import traces
from tests.hostile import HostileRelay, forged_envelope

PASSWORD = "correct horse battery"
SHOTS = os.environ.get("SECURECHAT_SCREENSHOTS") or os.path.abspath("screenshots")
PROPOSAL = ("Shall we meet tomorrow at the station? I can bring the book you wanted, and we "
            "could have lunch afterwards.")


def screenshot(widget: QWidget, name: str) -> str:
    os.makedirs(SHOTS, exist_ok=True)
    QApplication.processEvents()
    path = os.path.join(SHOTS, f"{name}.png")
    assert widget.grab().save(path), path
    return path


def send_typed(chat: Any, text: str) -> None:
    """Type `text` into the chat's composer and press Return, as a user sends."""
    QTest.keyClicks(chat.composer, text)
    QTest.keyClick(chat.composer, Qt.Key.Key_Return)


def until(condition: Callable[[], bool], *signals: Any) -> defer.Deferred[None]:
    """Fires once `condition()` holds, checked now and whenever one of `signals` fires."""
    d: defer.Deferred[None] = defer.Deferred()

    def check(*_: Any) -> None:
        if not d.called and condition():
            for signal in signals:
                signal.disconnect(check)
            d.callback(None)

    for signal in signals:
        signal.connect(check)
    check()
    return d


def rows(model: Any) -> list[Any]:
    return [model.index(i) for i in range(model.rowCount())]


def model_signals(model: Any) -> list[Any]:
    return [model.rowsInserted, model.rowsRemoved, model.dataChanged, model.modelReset,
            model.layoutChanged]


class UITestCase(ClientTestCase):
    timeout = 90

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self.app = app
        theme.apply(app, dark=False)
        self.settings = QSettings(os.path.abspath(self.mktemp() + ".ini"),
                                  QSettings.Format.IniFormat)
        self.windows: list[ShellWindow] = []

    @defer.inlineCallbacks
    def tearDown(self) -> Any:
        for window in self.windows:
            client = window.client
            yield window.shutdown()
            if client in self.clients:
                self.clients.remove(client)
            window.close()
            window.deleteLater()
        yield super().tearDown()

    def shell(self, name: str) -> ShellWindow:
        window = ShellWindow(reactor, self.device_dir(name), self.url, FAST, self.settings)
        window.resize(960, 640)
        window.show()
        self.windows.append(window)
        return window

    @defer.inlineCallbacks
    def signed_in(self, window: ShellWindow, start: Callable[[], Any]) -> Any:
        """Run `start` (a click) and wait until the window's client has caught up."""
        d: defer.Deferred[Any] = defer.Deferred()
        logs: list[EventLog] = []

        def got(client: SecureChatClient) -> None:
            window.signed_in.disconnect(got)
            logs.append(self._track(client) and self.log(client))
            d.callback(client)

        window.signed_in.connect(got)
        start()
        client = yield d
        yield logs[0].wait_for(ev.CaughtUp)
        return client

    @defer.inlineCallbacks
    def account_on_disk(self, name: str, email: str, display_name: str = "") -> Any:
        """An account registered by the core and closed, as a previous run leaves it."""
        client, phrase = yield SecureChatClient.register(reactor, self.device_dir(name),
                                                         self.url, email, PASSWORD,
                                                         display_name or name.title(), FAST)
        self.phrases[email] = phrase  # for signing in on another device
        yield client.stop()
        accounts.remember(self.device_dir(name), email)

    @defer.inlineCallbacks
    def unlock(self, window: ShellWindow, email: str, password: str = PASSWORD) -> Any:
        lock = window.lock_page
        self.assertIs(window.stack.currentWidget(), lock)
        lock.account.setCurrentText(email)
        QTest.keyClicks(lock.password, password)
        client = yield self.signed_in(
            window, lambda: QTest.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton))
        return client

    def type_sign_in(self, window: ShellWindow, email: str, password: str = PASSWORD) -> Any:
        """Fill in the onboarding's sign-in page (the recovery phrase too, if this test
        registered the account); returns the page."""
        page = window.onboarding
        QTest.mouseClick(page.login_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.login_email, email)
        QTest.keyClicks(page.login_password, password)
        if email in self.phrases:
            QTest.keyClicks(page.login_phrase, self.phrases[email])
        return page

    @defer.inlineCallbacks
    def two_windows(self) -> Any:
        """(alice_win, alice, bob_win, bob): both accounts on disk, opened through the
        lock screen."""
        yield self.account_on_disk("alice", "alice@example.org", "Alice Liddell")
        yield self.account_on_disk("bob", "bob@example.org")
        alice_win, bob_win = self.shell("alice"), self.shell("bob")
        alice = yield self.unlock(alice_win, "alice@example.org")
        bob = yield self.unlock(bob_win, "bob@example.org")
        return alice_win, alice, bob_win, bob

    @defer.inlineCallbacks
    def alice_window_and_bob(self) -> Any:
        """(window, alice, bob): Alice in the app, Bob a core client, friends, and Bob's
        row in her session list."""
        yield self.account_on_disk("alice", "alice@example.org", "Alice")
        window = self.shell("alice")
        alice = yield self.unlock(window, "alice@example.org")
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(bob)
        yield self.befriend(alice, bob)
        sessions = window.main.sessions
        yield until(lambda: sessions.rowCount() == 1, *model_signals(sessions))
        return window, alice, bob

    @defer.inlineCallbacks
    def chat_with(self, window: ShellWindow, peer: str) -> Any:
        """Open the conversation with `peer`; fires with the chat once it can be written in."""
        window.main.open_chat(peer)
        chat = window.main.chat
        yield until(lambda: chat.peer == peer and chat.composer.isEnabled(),
                    chat.model.modelReset)
        return chat


class OnboardingAndChatTests(UITestCase):
    """Alice and Bob from the first screen to a conversation, a step per test.

    `two_windows` brings both signed in, each in a window of their own; `two_friends`
    also has them befriended, and `conversation` has them write to each other."""

    @defer.inlineCallbacks
    def two_friends(self) -> Any:
        """`two_windows`, befriended: each one's session list shows the other."""
        alice_win, alice, bob_win, bob = yield self.two_windows()
        yield self.befriend(alice, bob)
        for window in (alice_win, bob_win):
            sessions = window.main.sessions
            yield until(lambda s=sessions: s.rowCount() == 1, *model_signals(sessions))
        return alice_win, alice, bob_win, bob

    @defer.inlineCallbacks
    def conversation(self, alice_win: ShellWindow, alice: SecureChatClient,
                     bob_win: ShellWindow, bob: SecureChatClient) -> Any:
        """Alice's greeting, Bob's answer, then Alice's proposal, each sent once the one
        before arrived; both windows show the conversation."""
        for sender, receiver, text in ((alice, bob, "Hello Bob\nsecond line"),
                                       (bob, alice, "Hi Alice!"), (alice, bob, PROPOSAL)):
            mark = self.log(receiver).mark()
            yield sender.send_text(receiver.me.user_id, text)
            yield self.log(receiver).wait_for(ev.MessageReceived, since=mark)
        for window, peer in ((alice_win, bob), (bob_win, alice)):
            chat = window.main.chat
            shown = until(lambda c=chat: c.model.rowCount() == 3, chat.page_loaded)
            window.main.open_chat(peer.me.user_id)
            yield shown

    @defer.inlineCallbacks
    def test_register_through_the_onboarding(self) -> Any:
        alice_win = self.shell("alice")
        page = alice_win.onboarding
        self.assertIs(alice_win.stack.currentWidget(), page)
        screenshot(alice_win, "01-welcome")
        QTest.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.reg_email, "alice@example.org")
        QTest.keyClicks(page.reg_name, "Alice Liddell")
        QTest.keyClicks(page.reg_password, PASSWORD)
        self.assertIn("Strength", page.strength.text())
        QTest.keyClicks(page.reg_confirm, PASSWORD + "!")
        QTest.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
        self.assertTrue(page.reg_error.text())  # passwords differ: nothing sent
        page.reg_confirm.clear()
        QTest.keyClicks(page.reg_confirm, PASSWORD)
        screenshot(alice_win, "02-register")
        QTest.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
        yield until(lambda: page.stack.currentIndex() == 3, page.stack.currentChanged)
        self.assertIn(len(page.mnemonic_label.text().split()), (12, 24))
        screenshot(alice_win, "03-mnemonic")
        index, word = page.mnemonic_word
        QTest.keyClicks(page.confirm_word, "wrong")
        QTest.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton)
        self.assertIn(str(index + 1), page.confirm_error.text())
        page.confirm_word.clear()
        QTest.keyClicks(page.confirm_word, word)
        yield self.signed_in(
            alice_win, lambda: QTest.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton))
        self.assertEqual(page.mnemonic_label.text(), "")  # shown once
        self.assertIs(alice_win.stack.currentWidget(), alice_win.main)
        yield until(lambda: "Online" in alice_win.connection.text(),
                    alice_win.bridge.connection_changed)
        self.assertTrue(alice_win.main.empty_hint.isVisibleTo(alice_win))  # no one yet

    @defer.inlineCallbacks
    def test_the_lock_screen_says_why_it_did_not_unlock(self) -> Any:
        yield self.account_on_disk("bob", "bob@example.org")
        bob_win = self.shell("bob")
        QTest.keyClicks(bob_win.lock_page.password, "not the password")
        QTest.mouseClick(bob_win.lock_page.unlock_button, Qt.MouseButton.LeftButton)
        yield until(lambda: bob_win.lock_page.error.text() not in ("", "Unlocking…"),
                    bob_win.lock_page.failed)
        self.assertIn("password", bob_win.lock_page.error.text().lower())
        screenshot(bob_win, "04-lock")
        bob_win.lock_page.password.clear()
        yield self.unlock(bob_win, "bob@example.org")

    @defer.inlineCallbacks
    def test_add_by_email_and_accept_in_the_requests_panel(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_windows()
        main_a, main_b = alice_win.main, bob_win.main
        QTest.keyClicks(main_a.add_email, "bob@example.org")
        QTest.keyClick(main_a.add_email, Qt.Key.Key_Return)
        yield self.log(bob).wait_for(ev.FriendRequestReceived)
        yield until(lambda: len(main_b.requests.pending) == 1, main_b.requests.rendered)
        self.assertTrue(main_b.requests.isVisible())
        self.assertIn(("Friend request", "alice@example.org wants to chat with you."),
                      main_b.notifier.shown)
        screenshot(bob_win, "05-friend-request")
        item = main_b.requests.list.itemWidget(main_b.requests.list.item(0))
        accept = next(b for b in item.findChildren(QPushButton) if b.text() == "Accept")
        # The buttons are where the list shows them, not cut off at its edge.
        viewport = main_b.requests.list.viewport()
        corner = accept.mapTo(viewport, accept.rect().bottomRight())
        self.assertTrue(viewport.rect().contains(corner),
                        f"Accept ends at {corner}, outside the list's {viewport.rect()}")
        QTest.mouseClick(accept, Qt.MouseButton.LeftButton)
        yield self.log(alice).wait_for(ev.FriendRequestAnswered)
        yield until(lambda: main_a.sessions.rowCount() == 1, *model_signals(main_a.sessions))
        yield until(lambda: main_b.sessions.rowCount() == 1, *model_signals(main_b.sessions))
        self.assertEqual(main_a.sessions.index(0).data(Roles.NAME), "Bob")
        self.assertFalse(main_a.empty_hint.isVisibleTo(alice_win))
        self.assertEqual(main_b.sessions.index(0).data(Roles.INITIALS), "AL")

    @defer.inlineCallbacks
    def test_typing_an_unread_badge_then_read_ticks(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        main_b = bob_win.main
        chat_a = yield self.chat_with(alice_win, bob.me.user_id)
        alice_win.activateWindow()
        QTest.keyClicks(chat_a.composer, "Hello Bob")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        QTest.keyClicks(chat_a.composer, "second line")
        self.assertEqual(chat_a.composer.toPlainText(), "Hello Bob\nsecond line")
        yield self.log(bob).wait_for(ev.TypingChanged)  # Bob sees Alice typing
        yield until(lambda: main_b.sessions.index(0).data(Roles.TYPING),
                    *model_signals(main_b.sessions))
        self.assertEqual(main_b.sessions.index(0).data(Roles.LAST_TEXT), "typing…")
        phase = main_b.sessions.index(0).data(Roles.TYPING_PHASE)  # the dots move
        yield until(lambda: main_b.sessions.index(0).data(Roles.TYPING_PHASE) != phase,
                    main_b.sessions.dataChanged)
        screenshot(bob_win, "05b-typing")
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        self.assertEqual(chat_a.composer.toPlainText(), "")
        yield until(lambda: chat_a.model.rowCount() == 1, *model_signals(chat_a.model))
        self.assertEqual(chat_a.model.index(0).data(Qt.ItemDataRole.DisplayRole),
                         "Hello Bob\nsecond line")
        self.assertTrue(chat_a.model.index(0).data(Roles.FROM_ME))
        yield self.log(bob).wait_for(ev.MessageReceived)
        yield until(lambda: main_b.sessions.index(0).data(Roles.UNREAD) == 1,
                    *model_signals(main_b.sessions))
        self.assertFalse(main_b.sessions.index(0).data(Roles.TYPING))
        self.assertIn("Hello Bob", main_b.sessions.index(0).data(Roles.LAST_TEXT))
        self.assertTrue(any(t == "New message from Alice Liddell"
                            for t, _ in main_b.notifier.shown))
        yield until(lambda: chat_a.model.index(0).data(Roles.STATUS) >= MessageStatus.DELIVERED,
                    *model_signals(chat_a.model))
        self.assertEqual(tick_text(chat_a.model.index(0).data(Roles.STATUS)), "✓✓")
        screenshot(bob_win, "06-unread-badge")
        bob_win.activateWindow()
        main_b.open_chat(alice.me.user_id)
        chat_b = main_b.chat
        yield until(lambda: chat_b.model.rowCount() == 1, *model_signals(chat_b.model))
        received = chat_b.model.index(0)
        self.assertEqual(received.data(Qt.ItemDataRole.DisplayRole), "Hello Bob\nsecond line")
        self.assertFalse(received.data(Roles.FROM_ME))
        self.assertEqual(received.data(Roles.DAY), "Today")
        self.assertEqual(main_b.sessions.index(0).data(Roles.UNREAD), 0)
        # Bob read it: Alice's ticks turn to read
        yield until(lambda: chat_a.model.index(0).data(Roles.STATUS) == MessageStatus.READ,
                    *model_signals(chat_a.model))

    @defer.inlineCallbacks
    def test_a_reply_quotes_its_original(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        main_a, main_b = alice_win.main, bob_win.main
        yield alice.send_text(bob.me.user_id, "Hello Bob\nsecond line")
        yield self.log(bob).wait_for(ev.MessageReceived)
        chat_a, chat_b = main_a.chat, main_b.chat
        for main, chat, peer in ((main_a, chat_a, bob), (main_b, chat_b, alice)):
            shown = until(lambda c=chat: c.model.rowCount() == 1, chat.page_loaded)
            main.open_chat(peer.me.user_id)
            yield shown
        chat_b.start_reply(chat_b.model.message(0))
        self.assertTrue(chat_b.reply_bar.isVisibleTo(chat_b))
        QTest.keyClicks(chat_b.composer, "Hi Alice!")
        QTest.keyClick(chat_b.composer, Qt.Key.Key_Enter)
        yield until(lambda: chat_a.model.rowCount() == 2, *model_signals(chat_a.model))
        reply = chat_a.model.index(1)
        self.assertEqual(reply.data(Roles.REPLY_QUOTE), "Hello Bob\nsecond line")
        self.assertFalse(reply.data(Roles.FROM_ME))
        for text in (PROPOSAL, "Sure 👍"):
            chat_a.composer.insertPlainText(text)  # QTest types ASCII only
            QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.rowCount() == 4, *model_signals(chat_b.model))
        yield until(lambda: all(chat_a.model.index(i).data(Roles.STATUS) >= MessageStatus.DELIVERED
                                for i in (2, 3)), *model_signals(chat_a.model))
        screenshot(alice_win, "07-chat-alice")
        screenshot(bob_win, "08-chat-bob")

    @defer.inlineCallbacks
    def test_the_profile_safety_number_a_nickname_and_the_verified_mark(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        main_a, main_b = alice_win.main, bob_win.main
        chat_a = yield self.chat_with(alice_win, bob.me.user_id)
        dialog = main_a.show_profile(bob.me.user_id)
        number = dialog.number.text()
        self.assertEqual([len(g) for g in number.split()], [5] * 12)
        self.assertEqual(number.replace("\n", " ").replace(" ", ""),
                         bob.safety_number(alice.me.user_id))
        self.assertFalse(dialog.qr.pixmap().isNull())
        screenshot(dialog, "09-profile")
        # a nickname only Alice sees, and the verified mark after comparing numbers
        dialog.alias.setText("Bobby")
        QTest.keyClick(dialog.alias, Qt.Key.Key_Return)
        yield until(lambda: main_a.sessions.index(0).data(Roles.NAME) == "Bobby",
                    *model_signals(main_a.sessions))
        self.assertEqual(chat_a.title.text(), "Bobby")
        QTest.mouseClick(dialog.verified, Qt.MouseButton.LeftButton)
        yield self.log(alice).wait_for(ev.ContactUpdated, lambda e: alice.contacts[
            bob.me.user_id].verified)
        self.assertIn("✓ verified", chat_a.subtitle.text())
        self.assertEqual(main_b.sessions.index(0).data(Roles.NAME), "Alice Liddell")
        dialog.close()

    @defer.inlineCallbacks
    def test_unsend_for_everyone_and_delete_for_me(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        yield self.conversation(alice_win, alice, bob_win, bob)
        chat_a, chat_b = alice_win.main.chat, bob_win.main.chat
        chat_a.composer.insertPlainText("Sure 👍")  # QTest types ASCII only
        QTest.keyClick(chat_a.composer, Qt.Key.Key_Return)
        yield until(lambda: chat_b.model.rowCount() == 4, *model_signals(chat_b.model))
        # Alice unsends her last message from the context menu
        menu = chat_a.context_menu(3)
        unsend = next(a for a in menu.actions() if a.text().startswith("Unsend"))
        unsend.trigger()
        self.assertEqual(chat_b.model.rowCount(), 4)  # it asks first
        QTest.mouseClick(chat_a.question.yes_button, Qt.MouseButton.LeftButton)
        # Issue 11: a "message deleted" marker stays on both sides (was: the row went),
        # and the text is gone from both databases.
        yield until(lambda: chat_b.model.index(3).data(Roles.DELETED),
                    *model_signals(chat_b.model))
        display = Qt.ItemDataRole.DisplayRole
        self.assertEqual(chat_b.model.index(3).data(display), "This message was deleted")
        self.assertEqual(chat_a.model.index(3).data(display), "You deleted this message")
        self.assertEqual((chat_a.model.rowCount(), chat_b.model.rowCount()), (4, 4))
        for client in (alice, bob):
            self.assertEqual((yield client.store.run(traces, "Sure")), [])
        self.assertEqual([a.text() for a in chat_b.context_menu(3).actions()],
                         ["Delete for me"])  # not quotable, editable or reactable
        # Bob deletes Alice's first message for himself only
        menu = chat_b.context_menu(0)
        delete = next(a for a in menu.actions() if a.text() == "Delete for me")
        delete.trigger()
        yield until(lambda: chat_b.model.rowCount() == 3, *model_signals(chat_b.model))
        self.assertEqual(chat_a.model.rowCount(), 4)

    @defer.inlineCallbacks
    def test_lock_a_second_account_and_switch_back(self) -> Any:
        alice_win, alice, bob_win, bob = yield self.two_friends()
        yield self.conversation(alice_win, alice, bob_win, bob)
        main_a = alice_win.main
        yield self.account_on_disk("alice", "carol@example.org")
        yield alice_win.lock()
        self.clients.remove(alice)
        self.assertIs(alice_win.stack.currentWidget(), alice_win.lock_page)
        emails = [alice_win.lock_page.account.itemText(i)
                  for i in range(alice_win.lock_page.account.count())]
        self.assertEqual(sorted(emails), ["alice@example.org", "carol@example.org"])
        carol = yield self.unlock(alice_win, "carol@example.org")
        self.assertEqual(carol.me.email, "carol@example.org")
        self.assertEqual(alice_win.main.sessions.rowCount(), 0)
        yield alice_win.lock()
        self.clients.remove(carol)
        alice = yield self.unlock(alice_win, "alice@example.org")
        yield until(lambda: main_a.sessions.rowCount() == 1
                    and main_a.sessions.index(0).data(Roles.TIMESTAMP) > 0,
                    *model_signals(main_a.sessions))
        self.assertEqual(main_a.sessions.index(0).data(Roles.LAST_TEXT), "You: " + PROPOSAL)
        screenshot(alice_win, "10-after-switch")
        theme.apply(self.app, dark=True)
        main_a.open_chat(bob.me.user_id)
        yield until(lambda: main_a.chat.model.rowCount() == 3, *model_signals(main_a.chat.model))
        screenshot(alice_win, "11-dark")
        theme.apply(self.app, dark=False)


class DevicesTrustAndConnectionTests(UITestCase):

    @defer.inlineCallbacks
    def test_new_device_sign_in_read_sync_and_key_change_banner(self) -> Any:
        # At the default cost: a sign-in refuses cheaper password hashing (scram_pinning).
        laptop = yield self.register("alice-laptop", "alice@example.org", PASSWORD, KdfCost())
        carol = yield self.register("carol", "carol@example.org", PASSWORD)
        yield self.online(laptop, carol)
        # --- Alice signs in on her phone through the onboarding screen ---------------
        win = self.shell("alice-phone")
        page = win.onboarding
        QTest.mouseClick(page.login_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.login_email, "alice@example.org")
        QTest.keyClicks(page.login_phrase, self.phrases["alice@example.org"])
        QTest.keyClicks(page.login_password, "not the password")
        refused = until(lambda: "password" in page.login_error.text().lower(), page.failed)
        QTest.mouseClick(page.signin_button, Qt.MouseButton.LeftButton)
        yield refused
        self.assertEqual(accounts.known_accounts(self.device_dir("alice-phone")), [])
        page.login_password.clear()
        QTest.keyClicks(page.login_password, PASSWORD)
        screenshot(win, "15-sign-in-new-device")
        phone = yield self.signed_in(
            win, lambda: QTest.mouseClick(page.signin_button, Qt.MouseButton.LeftButton))
        self.assertIs(win.stack.currentWidget(), win.main)
        self.assertEqual(phone.me.user_id, laptop.me.user_id)
        self.assertNotEqual(phone.me.device_id, laptop.me.device_id)
        self.assertEqual(accounts.known_accounts(self.device_dir("alice-phone")),
                         ["alice@example.org"])
        # --- the laptop befriends Carol: the phone's session list shows her too ------
        main = win.main
        yield self.befriend(laptop, carol, phone)
        yield until(lambda: main.sessions.rowCount() == 1, *model_signals(main.sessions))
        # --- Carol writes: unread on the phone until Alice reads it on her laptop ----
        yield carol.send_text(laptop.me.user_id, "hello to both of your devices")
        yield until(lambda: main.sessions.index(0).data(Roles.UNREAD) == 1,
                    *model_signals(main.sessions))
        yield self.log(laptop).wait_for(ev.MessageReceived)
        yield laptop.mark_read(carol.me.user_id)
        yield until(lambda: main.sessions.index(0).data(Roles.UNREAD) == 0,
                    *model_signals(main.sessions))
        # --- the relay lies: a device of its own for Carol, under a forged account key
        yield self.restart_relay_with(lambda db: (
            db.execute("UPDATE accounts SET identity_key=? WHERE user_id=?",
                       ("A" * 43 + "=", carol.me.user_id)),
            db.execute("INSERT INTO devices VALUES (?,?,?,?,?,?)",
                       ("relaysdevice0001", carol.me.user_id, "B" * 64, "C" * 43, "D" * 86,
                        0))))
        chat = yield self.chat_with(win, carol.me.user_id)
        QTest.keyClicks(chat.composer, "is this really you?")
        QTest.keyClick(chat.composer, Qt.Key.Key_Return)
        yield self.log(phone).wait_for(ev.IdentityKeyChanged)
        yield until(lambda: chat.model.rowCount() == 2, *model_signals(chat.model))
        self.assertTrue(chat.banner.isVisibleTo(chat))
        self.assertIn("carol's security key changed", chat.banner_text.text())
        self.assertTrue(main.sessions.index(0).data(Roles.KEY_CHANGED))
        sent = chat.model.index(chat.model.rowCount() - 1)
        self.assertEqual(sent.data(Qt.ItemDataRole.DisplayRole), "is this really you?")
        self.assertEqual(sent.data(Roles.STATUS), MessageStatus.PENDING)  # held, not sent
        screenshot(win, "16-key-changed")
        # verifying a key not accepted yet is refused, and the box says so
        dialog = main.show_profile(carol.me.user_id)
        refused = until(lambda: bool(dialog.error.text()), dialog.refused)
        QTest.mouseClick(dialog.verified, Qt.MouseButton.LeftButton)
        yield refused
        self.assertIn("accept the contact's new key", dialog.error.text())
        self.assertFalse(dialog.verified.isChecked())
        dialog.close()
        accepted = until(lambda: not chat.banner.isVisibleTo(chat),
                         *model_signals(main.sessions))
        QTest.mouseClick(chat.banner_button, Qt.MouseButton.LeftButton)
        yield accepted
        self.assertFalse(main.sessions.index(0).data(Roles.KEY_CHANGED))

    @defer.inlineCallbacks
    def test_offline_status_counts_down_and_retry_now_reconnects(self) -> Any:
        yield self.account_on_disk("erin", "erin@example.org")
        win = self.shell("erin")
        yield self.unlock(win, "erin@example.org")
        bridge = win.bridge
        yield until(lambda: "Online" in win.connection.text(), bridge.connection_changed)
        self.assertFalse(win.connection.retry_button.isVisibleTo(win))
        retrying = until(lambda: "retrying in" in win.connection.text(),
                         bridge.connection_changed)
        yield self.relay.stopService()
        yield retrying
        self.assertTrue(win.connection.retry_button.isVisibleTo(win))
        screenshot(win, "17-offline")
        yield self.start_relay_again(wait_online=False)
        online = until(lambda: "Online" in win.connection.text(), bridge.connection_changed)
        QTest.mouseClick(win.connection.retry_button, Qt.MouseButton.LeftButton)
        yield online
        self.assertFalse(win.connection.retry_button.isVisibleTo(win))


class HistoryTests(UITestCase):

    @defer.inlineCallbacks
    def test_infinite_scroll_in_a_bounded_window_and_search(self) -> Any:
        """Scrolling to the top loads older pages, keeping the view where it was; the
        window of loaded messages stays bounded and the newest come back on demand."""
        yield self.account_on_disk("dave", "dave@example.org")
        dave_win = self.shell("dave")
        dave = yield self.unlock(dave_win, "dave@example.org")
        erin = yield self.register("erin", "erin@example.org")
        yield self.online(erin)
        main = dave_win.main
        yield erin.add_friend("dave@example.org")
        yield until(lambda: len(main.requests.pending) == 1, main.requests.rendered)
        yield main.requests.answer(erin.me.user_id, True)
        yield until(lambda: main.sessions.rowCount() == 1, *model_signals(main.sessions))
        sid = dave.contacts[erin.me.user_id].sid
        start = 1_700_000_000_000
        for i in range(400):  # history written straight into the store, as after a sync
            yield dave.store.add_message(StoredMessage(
                f"{start + i * 60_000:012x}{i:04x}", sid, "other" if i % 2 else "me",
                f"message {i}", "text", start + i * 60_000, MessageStatus.READ, True, None))
        chat = main.chat
        chat.model.MAX_ROWS = 120  # the window, small enough to overflow here
        opened = until(lambda: chat.model.rowCount() == ChatModel.PAGE, chat.page_loaded)
        main.open_chat(erin.me.user_id)
        yield opened
        self.assertEqual(chat.model.index(ChatModel.PAGE - 1).data(Qt.ItemDataRole.DisplayRole),
                         "message 399")
        screenshot(dave_win, "12-history")
        bar = chat.view.verticalScrollBar()

        def top_row_id() -> str:
            return chat.view.indexAt(QPoint(8, 8)).data(Roles.MESSAGE_ID)

        while not chat.model.at_start:
            before = chat.model.oldest_key()
            loaded = until(lambda b=before: chat.model.oldest_key() != b
                           or chat.model.at_start, chat.page_loaded)
            bar.setValue(bar.minimum() + 1)
            bar.setValue(bar.minimum())  # the user reaches the top
            anchor = top_row_id()
            yield loaded
            self.assertEqual(top_row_id(), anchor)  # what was on screen stayed there
            self.assertLessEqual(chat.model.rowCount(), 120)
        self.assertEqual(chat.model.index(0).data(Qt.ItemDataRole.DisplayRole), "message 0")
        self.assertFalse(chat.model.at_end)  # the newest were dropped from the window
        # a new message from Erin meanwhile: in the session list, not in this window
        yield erin.send_text(dave.me.user_id, "are you still there?")
        yield self.log(dave).wait_for(ev.MessageReceived)
        self.assertIn("still there", main.sessions.index(0).data(Roles.LAST_TEXT))
        self.assertEqual(chat.model.index(0).data(Qt.ItemDataRole.DisplayRole), "message 0")
        self.assertTrue(chat.latest_button.isVisibleTo(chat))  # "↓": back to the newest
        # writing from up there brings the newest page back, with it
        QTest.keyClicks(chat.composer, "yes, reading old messages")
        QTest.keyClick(chat.composer, Qt.Key.Key_Return)
        yield until(lambda: chat.model.at_end and chat.model.rowCount()
                    and chat.model.index(chat.model.rowCount() - 1).data(
                        Qt.ItemDataRole.DisplayRole) == "yes, reading old messages",
                    chat.page_loaded)
        texts = [i.data(Qt.ItemDataRole.DisplayRole) for i in rows(chat.model)]
        self.assertEqual(texts[-2:], ["are you still there?", "yes, reading old messages"])
        self.assertFalse(chat.latest_button.isVisibleTo(chat))
        # the search box filters the session list
        QTest.keyClicks(main.search, "nobody")
        self.assertEqual(main.filtered.rowCount(), 0)
        main.search.clear()
        QTest.keyClicks(main.search, "ERIN")
        self.assertEqual(main.filtered.rowCount(), 1)

class MasterPasswordTests(UITestCase):

    @defer.inlineCallbacks
    def test_sign_in_needs_the_phrase_change_the_password_then_reset_it(self) -> Any:
        # At the default cost: the sign-in page accepts no cheaper password hashing.
        yield self.register("laptop", "alice@example.org", PASSWORD, KdfCost())
        win = self.shell("alice-phone")
        page = win.onboarding
        QTest.mouseClick(page.login_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.login_email, "alice@example.org")
        QTest.keyClicks(page.login_password, PASSWORD)
        QTest.keyClicks(page.login_phrase, "these are not twelve words")
        refused = until(lambda: "12 words" in page.login_error.text(), page.failed)
        QTest.mouseClick(page.signin_button, Qt.MouseButton.LeftButton)
        yield refused
        page.login_phrase.setText(self.phrases["alice@example.org"])
        phone = yield self.signed_in(
            win, lambda: QTest.mouseClick(page.signin_button, Qt.MouseButton.LeftButton))
        # --- Account ▸ Change master password… ------------------------------------------
        new = "a new master password"
        dialog = win.show_change_password()
        dialog.current.setText("not the password")
        dialog.new.setText(new)
        dialog.repeat.setText(new)
        failed = until(lambda: "password" in dialog.error.text().lower(), dialog.failed)
        dialog.submit()
        yield failed
        dialog.current.setText(PASSWORD)
        changed = until(lambda: win.statusBar().currentMessage() == S.PASSWORD_CHANGED,
                        dialog.changed)
        dialog.submit()
        yield changed
        yield win.lock()
        self.clients.remove(phone)
        # --- forgot it: "Forgot password?" on the lock screen, with the phrase ----------
        QTest.mouseClick(win.lock_page.forgot_button, Qt.MouseButton.LeftButton)
        self.assertIs(win.stack.currentWidget(), win.onboarding)
        self.assertEqual(page.reset_email.text(), "alice@example.org")
        newer = "the newest master password"
        page.reset_phrase.setText(self.phrases["alice@example.org"])
        page.reset_password.setText(newer)
        page.reset_confirm.setText(newer)
        screenshot(win, "16-forgot-password")
        back = until(lambda: win.stack.currentWidget() is win.lock_page
                     or page.reset_error.text() not in ("", S.WORKING),
                     page.password_reset, page.failed)  # failed: its message in the assert
        QTest.mouseClick(page.reset_button, Qt.MouseButton.LeftButton)
        yield back
        self.assertIs(win.stack.currentWidget(), win.lock_page, page.reset_error.text())
        self.assertEqual(win.lock_page.error.text(), S.RESET_DONE)
        for password, opens in ((new, False), (newer, True)):
            win.lock_page.password.setText(password)
            if opens:
                yield self.signed_in(win, win.lock_page.unlock)
            else:
                wrong = until(lambda: "wrong password" in win.lock_page.error.text().lower(),
                              win.lock_page.failed)
                win.lock_page.unlock()
                yield wrong


class PinUnlockTests(UITestCase):

    @defer.inlineCallbacks
    def test_set_a_pin_then_unlock_with_it(self) -> Any:
        yield self.account_on_disk("judy", "judy@example.org")
        win = self.shell("judy")
        lock = win.lock_page
        self.assertFalse(lock.using_pin)  # no PIN yet: the master password
        judy = yield self.unlock(win, "judy@example.org")
        self.assertFalse(win.remove_pin_action.isEnabled())
        dialog = win.show_set_pin()
        # no system keychain here: the dialog says what a PIN then protects
        self.assertIn("someone who copies this computer's files can guess a PIN offline",
                      dialog.body.text())
        QTest.keyClicks(dialog.password, PASSWORD)
        QTest.keyClicks(dialog.pin, "246813")
        QTest.keyClicks(dialog.repeat, "246814")
        dialog.submit()
        self.assertEqual(dialog.error.text(), "The PINs do not match.")
        dialog.repeat.clear()
        QTest.keyClicks(dialog.repeat, "24ab6813")  # the field takes digits only
        self.assertEqual(dialog.repeat.text(), "246813")
        dialog.password.setText("not the password")
        failed = until(lambda: "password" in dialog.error.text().lower(), dialog.failed)
        dialog.submit()
        yield failed
        dialog.password.setText(PASSWORD)
        done = until(lambda: win.remove_pin_action.isEnabled(), dialog.pin_set)
        dialog.submit()
        yield done
        yield win.lock()
        self.clients.remove(judy)
        # --- the lock screen now asks for the PIN ---------------------------------------
        self.assertTrue(lock.using_pin)
        self.assertTrue(lock.pin.isVisibleTo(lock))
        self.assertFalse(lock.password.isVisibleTo(lock))
        QTest.keyClicks(lock.pin, "135799")
        wrong = until(lambda: "tries left" in lock.error.text(), lock.failed)
        QTest.keyClick(lock.pin, Qt.Key.Key_Return)
        yield wrong
        self.assertEqual(lock.error.text(), "wrong PIN: 4 tries left")
        screenshot(win, "13-pin-lock")
        lock.pin.clear()
        QTest.keyClicks(lock.pin, "246813")
        judy = yield self.signed_in(
            win, lambda: QTest.mouseClick(lock.unlock_button, Qt.MouseButton.LeftButton))
        self.assertIs(win.stack.currentWidget(), win.main)
        # --- remove it: the password is back --------------------------------------------
        removed = until(lambda: not win.remove_pin_action.isEnabled(),
                        win.statusBar().messageChanged)
        win.remove_pin_action.trigger()
        yield removed
        yield win.lock()
        self.clients.remove(judy)
        self.assertFalse(lock.using_pin)
        self.assertTrue(lock.password.isVisibleTo(lock))
        self.assertFalse(lock.pin.isVisibleTo(lock))


class NotificationsAndKeyboardTests(UITestCase):

    @defer.inlineCallbacks
    def test_notification_privacy_unread_total_and_keyboard(self) -> Any:
        yield self.account_on_disk("gina", "gina@example.org")
        win = self.shell("gina")
        gina = yield self.unlock(win, "gina@example.org")
        main = win.main
        friends = []
        for name in ("hal", "ivy"):
            friend = yield self.register(name, f"{name}@example.org")
            yield self.online(friend)
            yield self.befriend(friend, gina)
            friends.append(friend)
        hal, ivy = friends
        yield until(lambda: main.sessions.rowCount() == 2, *model_signals(main.sessions))
        # --- what a notification shows is the user's choice ----------------------------
        shown = len(main.notifier.shown)
        win.notification_actions[Notifier.NAME_ONLY].trigger()  # Account ▸ Notifications
        yield hal.send_text(gina.me.user_id, "the secret plan")
        yield self.log(gina).wait_for(ev.MessageReceived)  # the window saw it first
        self.assertEqual(main.notifier.shown[-1], ("New message from hal", "New message"))
        win.notification_actions[Notifier.NOTHING].trigger()
        yield ivy.send_text(gina.me.user_id, "another secret")
        yield self.log(gina).wait_for(ev.MessageReceived,
                                      lambda e: e.peer_user_id == ivy.me.user_id)
        self.assertEqual(len(main.notifier.shown), shown + 2)
        self.assertEqual(main.notifier.shown[-1], ("SecureChat", "You have something new"))
        self.assertFalse(any("secret" in title + body for title, body in main.notifier.shown))
        self.assertEqual(main.unread_total, 2)
        self.assertEqual(win.windowTitle(), "(2) SecureChat — gina@example.org")
        self.assertEqual(self.settings.value("notifications/content"), Notifier.NOTHING)
        # --- Alt+Down / Alt+Up walk the conversations; Escape drops a reply --------------
        win.next_action.trigger()
        first = main.chat.peer
        win.next_action.trigger()
        second = main.chat.peer
        self.assertEqual({first, second}, {hal.me.user_id, ivy.me.user_id})
        win.previous_action.trigger()
        self.assertEqual(main.chat.peer, first)
        chat = main.chat
        yield until(lambda: chat.model.rowCount() == 1, *model_signals(chat.model))
        chat.start_reply(chat.model.message(0))
        self.assertTrue(chat.reply_bar.isVisibleTo(chat))
        QTest.keyClick(chat.composer, Qt.Key.Key_Escape)
        self.assertFalse(chat.reply_bar.isVisibleTo(chat))
        self.assertIsNone(chat.reply_to)


class TruthfulDisplayTests(UITestCase):

    @defer.inlineCallbacks
    def test_a_rich_text_name_is_shown_literally_beside_the_email_and_a_key_change(self) -> Any:
        yield self.account_on_disk("bob", "bob@example.org")
        win = self.shell("bob")
        bob = yield self.unlock(win, "bob@example.org")
        main = win.main
        # --- a stranger who names himself like Bob, verified, with Bob's email ----------
        fake_name = "<b>Bob ✔ verified</b><br>bob@example.org"
        mallory, _ = yield SecureChatClient.register(
            reactor, self.device_dir("mallory"), self.url, "mallory@example.org", PASSWORD,
            fake_name, FAST)
        self._track(mallory)
        yield self.online(mallory)
        yield mallory.add_friend("bob@example.org")
        yield self.log(bob).wait_for(ev.FriendRequestReceived)
        yield until(lambda: len(main.requests.pending) == 1, main.requests.rendered)
        row = main.requests.list.itemWidget(main.requests.list.item(0))
        self.assertIsInstance(row, RequestRow)
        self.assertEqual(row.name_label.textFormat(), Qt.TextFormat.PlainText)
        self.assertEqual(row.name_label.text(), fake_name)
        self.assertEqual(row.email_label.text(), "mallory@example.org")  # beside the name
        self.assertTrue(row.email_label.isVisibleTo(main))
        self.assertTrue(row.chosen_label.isVisibleTo(main))  # "name chosen by them"
        self.assertIn("chosen by them", row.chosen_label.text())
        for label in row.findChildren(QLabel):
            self.assertEqual(label.textFormat(), Qt.TextFormat.PlainText, label.text())
        self.assertFalse(row.warning_label.isVisibleTo(main))
        # the notification names the email, not the chosen name
        self.assertIn(("Friend request", "mallory@example.org wants to chat with you."),
                      main.notifier.shown)
        screenshot(win, "18-rich-text-name")
        # --- the relay now claims another key for him: the request says so -------------
        hostile = HostileRelay(self.relay)
        forged = base64.b64encode(os.urandom(32)).decode()
        hostile.rewrite(uris.ACCOUNT_PUBLIC, lambda caller, answer, user_id: {
            **answer, "identity_key": forged} if user_id == mallory.me.user_id else answer)
        hostile.inject(bob.me.device_id, forged_envelope(
            mallory.me.user_id, "relaysdevice0001", 0, b"not olm"))
        yield self.log(bob).wait_for(ev.IdentityKeyChanged)
        yield until(lambda: main.requests.pending and main.requests.pending[0].key_changed,
                    main.requests.rendered)
        row = main.requests.list.itemWidget(main.requests.list.item(0))
        self.assertTrue(row.warning_label.isVisibleTo(main))
        self.assertIn("key changed since they asked", row.warning_label.text())
        screenshot(win, "19-request-key-changed")
        # --- every other place a peer's text reaches is plain text too -----------------
        chat = main.chat
        for label in (chat.title, chat.subtitle, chat.banner_text, chat.reply_label,
                      win.connection.label):
            self.assertEqual(label.textFormat(), Qt.TextFormat.PlainText)
        main.notifier.message(fake_name, "<i>hi</i>")
        title, body = main.notifier.shown[-1]
        self.assertNotIn("<b>", title)
        self.assertNotIn("<i>", body)
        self.assertEqual(body.replace("\u200b", ""), "<i>hi</i>")  # nothing else changed


class DeviceSetTests(UITestCase):

    @defer.inlineCallbacks
    def test_new_device_notice_linked_devices_and_a_contacts_new_device(self) -> Any:
        yield self.account_on_disk("alice", "alice@example.org")
        win = self.shell("alice")
        alice = yield self.unlock(win, "alice@example.org")
        main = win.main
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(bob)
        yield self.befriend(bob, alice)
        # Accepted through the core, not the panel: the request leaves the panel too.
        yield until(lambda: not main.requests.pending, main.requests.rendered)
        self.assertFalse(main.requests.isVisibleTo(win))
        yield alice.set_verified(bob.me.user_id, True)
        yield until(lambda: main.sessions.rowCount() == 1, *model_signals(main.sessions))
        main.open_chat(bob.me.user_id)
        chat = main.chat
        yield until(lambda: chat.peer == bob.me.user_id, chat.page_loaded)
        self.assertIn("✓ verified", chat.subtitle.text())
        # --- Bob signs in on a new device: a line in the conversation, and the verified
        # mark is taken back until the numbers are compared again
        bob_phone = yield self.login("bob-phone", "bob@example.org")
        yield self.online(bob_phone)
        yield self.log(alice).wait_for(ev.DeviceAdded)
        yield until(lambda: chat.model.rowCount() == 1, *model_signals(chat.model))
        line = chat.model.index(0)
        self.assertTrue(line.data(Roles.SYSTEM))
        self.assertEqual(line.data(Qt.ItemDataRole.DisplayRole), "bob signed in on a new device")
        yield until(lambda: "verified" not in chat.subtitle.text(), main.bridge.contacts_changed)
        self.assertEqual(main.sessions.index(0).data(Roles.LAST_TEXT),
                         "Signed in on a new device")
        self.assertEqual([a.text() for a in chat.context_menu(0).actions()], ["Delete for me"])
        dialog = main.show_profile(bob.me.user_id)
        self.assertTrue(dialog.recheck.isVisibleTo(dialog))
        self.assertIn("devices changed since you verified", dialog.recheck.text())
        self.assertFalse(dialog.verified.isChecked())
        screenshot(win, "20-contact-new-device")
        screenshot(dialog, "21-profile-recheck")
        QTest.mouseClick(dialog.verified, Qt.MouseButton.LeftButton)
        yield until(lambda: not dialog.recheck.isVisibleTo(dialog), dialog.verified_saved)
        self.assertTrue(alice.contacts[bob.me.user_id].verified)
        dialog.close()
        # --- Alice signs in on a phone: "a new device was added" — Remove it -----------
        bar = main.device_notices
        phone = yield self.login("alice-phone", "alice@example.org", PASSWORD)
        yield until(lambda: bar.notices, bar.rendered)
        self.assertTrue(bar.isVisibleTo(win))
        self.assertEqual([n.device_id for n in bar.notices], [phone.me.device_id])
        screenshot(win, "22-new-device-notice")
        QTest.mouseClick(bar.buttons(phone.me.device_id)["Remove it"], Qt.MouseButton.LeftButton)
        (ask,) = bar.findChildren(RemoveDeviceDialog)
        QTest.keyClicks(ask.password, "not the password")
        refused = until(lambda: bool(ask.error.text()) and ask.remove_button.isEnabled(),
                        ask.failed)
        QTest.mouseClick(ask.remove_button, Qt.MouseButton.LeftButton)
        yield refused
        self.assertIn("password", ask.error.text().lower())
        QTest.keyClicks(ask.password, PASSWORD)
        gone = until(lambda: not bar.notices, bar.rendered)
        QTest.mouseClick(ask.remove_button, Qt.MouseButton.LeftButton)
        yield gone
        self.assertFalse(bar.isVisibleTo(win))
        # --- a tablet: "It was me" --------------------------------------------------------
        tablet = yield self.login("alice-tablet", "alice@example.org", PASSWORD)
        yield until(lambda: bar.notices, bar.rendered)
        dismissed = until(lambda: not bar.notices, bar.rendered)
        QTest.mouseClick(bar.buttons(tablet.me.device_id)["It was me"],
                         Qt.MouseButton.LeftButton)
        yield dismissed
        # --- Account ▸ Linked devices: this laptop and the tablet; remove the tablet ----
        self.assertTrue(win.devices_action.isEnabled())
        devices = win.show_linked_devices()
        yield until(lambda: len(devices.devices) == 2, devices.loaded)
        this = devices.row(alice.me.device_id)
        self.assertIn("(this device)", this.name_label.text())
        self.assertFalse(this.remove_button.isVisibleTo(devices))
        other = devices.row(tablet.me.device_id)
        self.assertIn("added ", other.detail_label.text())
        self.assertIn("not connected yet", other.detail_label.text())
        screenshot(devices, "23-linked-devices")
        QTest.mouseClick(other.remove_button, Qt.MouseButton.LeftButton)
        (ask,) = devices.findChildren(RemoveDeviceDialog)
        QTest.keyClicks(ask.password, PASSWORD)
        QTest.keyClick(ask.password, Qt.Key.Key_Return)
        yield until(lambda: "was removed" in devices.status.text(), devices.loaded)
        self.assertEqual([d.device_id for d in devices.devices], [alice.me.device_id])
        devices.close()


class ThemeTests(unittest.TestCase):
    def test_error_messages_take_the_themes_error_colour(self) -> None:
        from PyQt6.QtGui import QPalette

        app = QApplication.instance()
        assert isinstance(app, QApplication)
        self.addCleanup(theme.apply, app, False)
        page = LockPage(reactor, self.mktemp(), "ws://127.0.0.1:1")
        self.addCleanup(page.deleteLater)
        error, plain = QLabel("wrong password", page), QLabel("a label", page)
        error.setObjectName("error")
        for dark, palette in ((False, theme.LIGHT), (True, theme.DARK)):
            theme.apply(app, dark=dark)
            for label in (error, plain):
                app.style().unpolish(label)
                app.style().polish(label)
            colour = error.palette().color(QPalette.ColorRole.WindowText).name()
            self.assertEqual(colour, palette.error)
            self.assertNotEqual(plain.palette().color(QPalette.ColorRole.WindowText).name(),
                                palette.error)
        self.assertNotEqual(theme.LIGHT.error, theme.DARK.error)  # readable on either


class TranslationTests(unittest.TestCase):
    def test_an_installed_translator_translates_every_window(self) -> None:
        class French(QTranslator):
            WORDS = {"Unlock": "Déverrouiller", "Strength: weak": "Solidité : faible"}

            def translate(self, context: str | None, source: str | None,
                          disambiguation: str | None = None, n: int = -1) -> str | None:
                return self.WORDS.get(source or "") if context == "securechat" else None

        french = French()
        S.use_translator(french)

        def back_to_english() -> None:
            QCoreApplication.removeTranslator(french)
            S.retranslate()
        self.addCleanup(back_to_english)
        page = LockPage(reactor, self.mktemp(), "ws://127.0.0.1:1")
        self.assertEqual(page.unlock_button.text(), "Déverrouiller")
        self.assertEqual(S.STRENGTH[1], "Solidité : faible")
        self.assertEqual(S.ADD_ACCOUNT, "Add account…")  # untranslated: the English
        back_to_english()
        english = LockPage(reactor, self.mktemp(), "ws://127.0.0.1:1")
        self.assertEqual(english.unlock_button.text(), "Unlock")


class ModelTests(unittest.TestCase):
    def test_the_window_pages_down_again(self) -> None:
        model = ChatModel()
        model.MAX_ROWS = 100
        page = [StoredMessage(f"{i:04d}", "s", "me", f"m{i}", "text", 1_700_000_000_000 + i,
                              MessageStatus.READ, True, None) for i in range(300)]
        model.reset("p", page[250:])
        for first in (200, 150, 100):
            model.prepend(page[first:first + 50])
        self.assertEqual((model.rowCount(), model.at_end), (100, False))
        self.assertEqual(model.message(0).text, "m100")
        self.assertFalse(model.add(page[299]))  # outside the window: comes with its page
        late = StoredMessage("0120x", "s", "other", "late", "text", 1_700_000_000_120,
                             MessageStatus.READ, True, None)  # delivered late, inside the window
        self.assertTrue(model.add(late, keep_newest=False))
        self.assertEqual(model.message(0).text, "m100")  # the top did not move
        self.assertEqual(model.message(21).text, "late")
        model.remove("0120x")

        def newer_page(limit: int = 50) -> list[StoredMessage]:
            """What the chat asks the core for: the page after the newest loaded."""
            newest = model.newest_key()
            assert newest is not None
            return [m for m in page if (m.timestamp, m.id) > newest][:limit]

        model.append(newer_page())  # m199 (dropped for "late") to m248
        self.assertEqual((model.message(0).text, model.message(99).text), ("m149", "m248"))
        model.append(newer_page(11))  # a short page: the newest are back
        self.assertTrue(model.at_end)
        self.assertEqual(model.message(model.rowCount() - 1).text, "m259")
        # full, and the user reads further up: a new message must not shift the text
        top = model.message(0).text
        newest = StoredMessage("9999", "s", "other", "new", "text", 1_800_000_000_000,
                               MessageStatus.READ, True, None)
        self.assertFalse(model.add(newest, keep_newest=False))
        self.assertEqual((model.message(0).text, model.at_end), (top, False))
        generation = model.generation
        model.reset("p", page[250:])
        self.assertEqual(model.generation, generation + 1)  # pages asked before are stale

    def test_session_order_and_initials(self) -> None:
        model = SessionListModel()
        self.assertEqual(initials("Alice Liddell"), "AL")
        self.assertEqual(initials("bob@example.org"), "BO")
        model.set_contacts([Contact("s1", "u1", "a@x.org", "Ann", None, "k", None),
                            Contact("s2", "u2", "b@x.org", "Ben", None, "k", "new")])
        model.set_last("u2", StoredMessage("m", "s2", "me", "hi", "text", 5, MessageStatus.PENDING,
                                           True, None))
        self.assertEqual([i.data(Roles.NAME) for i in rows(model)], ["Ben", "Ann"])
        self.assertEqual(model.index(0).data(Roles.LAST_TEXT), "You: hi")
        self.assertTrue(model.index(0).data(Roles.KEY_CHANGED))
        self.assertEqual(format_safety_number("1234567890" * 6).split("\n")[0],
                         "12345 67890 12345 67890")


class SessionListTests(unittest.TestCase):
    """The session list's order, row moves, unread total and removals, without a relay."""

    @staticmethod
    def contact(n: int, name: str) -> Contact:
        return Contact(f"s{n}", f"u{n}", f"{name.lower()}@x.org", name, None, "k", None)

    @staticmethod
    def message(n: int, timestamp: int) -> StoredMessage:
        return StoredMessage(f"m{n}-{timestamp}", f"s{n}", "other", f"hi {n}", "text",
                             timestamp, MessageStatus.READ, False, None)

    def test_order_moves_unread_total_and_removal(self) -> None:
        from PyQt6.QtCore import QPersistentModelIndex

        from securechat.client.model import ConversationSummary

        model = SessionListModel()
        names = {1: "Ann", 2: "ben", 3: "Cid", 4: "Dee"}
        totals: list[int] = []
        moves: list[tuple[int, int]] = []
        layouts: list[int] = []
        model.unread_changed.connect(totals.append)
        model.rowsMoved.connect(lambda _p, start, _e, _d, dest: moves.append((start, dest)))
        model.layoutChanged.connect(lambda *_: layouts.append(1))

        def order() -> list[str]:
            return [i.data(Roles.NAME) for i in rows(model)]

        def consistent() -> None:
            for i, index in enumerate(rows(model)):
                peer = index.data(Roles.PEER)
                self.assertEqual(model.row_for(peer), i)
                self.assertEqual(model.peer_for_sid("s" + peer[1:]), peer)
            self.assertEqual(model.unread_total,
                             sum(i.data(Roles.UNREAD) for i in rows(model)))

        model.set_contacts([self.contact(n, name) for n, name in names.items()])
        self.assertEqual(order(), ["Ann", "ben", "Cid", "Dee"])  # no messages: by name
        cid = QPersistentModelIndex(model.index(2))
        model.apply_summaries({"u2": ConversationSummary(self.message(2, 10), 2),
                               "u4": ConversationSummary(self.message(4, 20), 1),
                               "u9": ConversationSummary(self.message(9, 99), 7)})  # unknown
        self.assertEqual(order(), ["Dee", "ben", "Ann", "Cid"])  # most recent first
        self.assertEqual((model.unread_total, totals), (3, [3]))
        self.assertEqual(cid.row(), 3)
        consistent()
        layouts.clear()

        model.set_last("u1", self.message(1, 30))  # Ann's new message: up to the top
        self.assertEqual(order(), ["Ann", "Dee", "ben", "Cid"])
        self.assertEqual(moves, [(2, 0)])
        self.assertEqual(model.index(0).data(Roles.LAST_TEXT), "hi 1")
        model.update("u2", unread=5)  # no move
        self.assertEqual((model.unread_total, totals[-1], len(moves)), (6, 6, 1))
        model.set_last("u3", self.message(3, 30))  # a tie with Ann: by name, after her
        self.assertEqual(order(), ["Ann", "Cid", "Dee", "ben"])
        self.assertEqual((moves[-1], cid.row()), ((3, 1), 1))
        model.set_last("u1", None)  # Ann's last message deleted: down to the bottom
        self.assertEqual(order(), ["Cid", "Dee", "ben", "Ann"])
        self.assertEqual(moves[-1], (0, 4))  # Qt's destination: before the old row 4
        self.assertEqual(model.index(3).data(Roles.LAST_TEXT), S.NO_MESSAGES)
        model.update("u4", name="Aaron")  # a rename moves nothing across timestamps
        self.assertEqual(order(), ["Cid", "Aaron", "ben", "Ann"])
        self.assertEqual(layouts, [])  # single rows moved, the list was never re-laid out
        consistent()

        # ben (5 unread) is removed, Eve arrives, Cid is renamed
        model.set_contacts([self.contact(1, "Ann"), self.contact(3, "Cyd"),
                            self.contact(4, "Aaron"), self.contact(5, "Eve")])
        self.assertEqual(order(), ["Cyd", "Aaron", "Ann", "Eve"])
        self.assertEqual((model.row_for("u2"), model.peer_for_sid("s2")), (-1, None))
        self.assertIsNone(model.session("u2"))
        self.assertEqual((model.unread_total, totals[-1]), (1, 1))
        consistent()
        model.update("u2", unread=9)  # a late update for a removed contact: ignored
        self.assertEqual(model.unread_total, 1)
        model.set_contacts([])
        self.assertEqual((model.rowCount(), model.unread_total, totals[-1]), (0, 0, 0))


class NotifierAccountsAndErrorsTests(unittest.TestCase):
    def test_notifications_are_bounded_and_forgotten_on_lock(self) -> None:
        from securechat.ui.windows.main import MainPage

        notifier = Notifier()
        notifier.tray = None  # nothing on the desktop
        for i in range(Notifier.SHOWN_KEPT + 10):
            notifier.notify("title", f"body {i}")
        self.assertEqual(len(notifier.shown), Notifier.SHOWN_KEPT)
        self.assertEqual(notifier.shown[0], ("title", "body 10"))
        self.assertEqual(notifier.shown[-1], ("title", f"body {Notifier.SHOWN_KEPT + 9}"))
        page = MainPage(notifier)
        page.set_client(None, None)  # what locking does
        self.assertEqual(list(notifier.shown), [])
        page.deleteLater()

    def test_the_accounts_index_is_private(self) -> None:
        from securechat.protocol.keys import user_id_for_email

        data_dir = self.mktemp()
        accounts.remember(data_dir, "alice@example.org")
        os.makedirs(os.path.join(data_dir, user_id_for_email("alice@example.org")))
        self.assertEqual(os.stat(os.path.join(data_dir, accounts.INDEX)).st_mode & 0o777, 0o600)
        self.assertEqual(accounts.known_accounts(data_dir), ["alice@example.org"])

    def test_unexpected_failures_show_a_generic_message(self) -> None:
        from securechat.client.errors import ClientError, WrongPassword
        from securechat.ui.bridge import call

        shown: list[str] = []
        call(defer.fail(ClientError("That address is not registered.")), failed=shown.append)
        call(defer.fail(WrongPassword("Wrong password.")), failed=shown.append)
        call(defer.fail(KeyError("/home/alice/.securechat/u1/db")), failed=shown.append)
        self.assertEqual(shown, ["That address is not registered.", "Wrong password.",
                                 S.UNEXPECTED_ERROR])
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)  # logged in full

    def test_a_late_reply_for_a_locked_account_is_dropped(self) -> None:
        from securechat.client.model import ConversationSummary
        from securechat.ui.windows.main import MainPage

        class Fake:  # the little of a client and a bridge that the session list uses
            def __init__(self, unread: int) -> None:
                self.contacts = {"u1": SessionListTests.contact(1, "Ann")}
                self.unread = unread
                self.late: list[defer.Deferred[Any]] = []

            def summaries(self) -> defer.Deferred[Any]:
                return defer.succeed({"u1": ConversationSummary(None, self.unread)})

            def messages(self, _peer: str, _count: int) -> defer.Deferred[Any]:
                self.late.append(defer.Deferred())
                return self.late[-1]

            def unread_count(self, _peer: str) -> defer.Deferred[Any]:
                self.late.append(defer.Deferred())
                return self.late[-1]

            def is_online(self, _peer: str) -> bool:
                return False

        page = MainPage(Notifier())
        old, new = Fake(4), Fake(1)
        page.client, page.bridge = old, old  # type: ignore[assignment]
        page.reload_contacts()
        self.assertEqual(page.unread_total, 4)
        page.refresh_peer("u1")  # asked by the old account...
        page.client, page.bridge = new, new  # type: ignore[assignment]  # ...switched
        page.reload_contacts()
        self.assertEqual(page.unread_total, 1)
        old.late[0].callback([SessionListTests.message(1, 50)])
        old.late[1].callback(7)
        self.assertEqual(page.unread_total, 1)  # the old account's answers: dropped
        self.assertEqual(page.sessions.index(0).data(Roles.TIMESTAMP), 0)
        page.deleteLater()
