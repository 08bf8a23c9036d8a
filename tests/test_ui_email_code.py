"""The onboarding asks for the mailed code when the relay verifies emails (H1)."""

from __future__ import annotations

from typing import Any

import attrs
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from twisted.internet import defer, reactor

from securechat.relay.config import RelayConfig, SmtpSettings
from tests.mailserver import code_in, start_mail_server
from tests.test_ui import PASSWORD, UITestCase, until

CODE_PAGE, MNEMONIC_PAGE = 5, 3


class EmailCodeOnboardingTests(UITestCase):
    config = RelayConfig(email_verification=True)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.mailbox, port = yield start_mail_server(reactor)
        self.addCleanup(port.stopListening)
        self.config = attrs.evolve(self.config, smtp=SmtpSettings(
            f"tcp:host=127.0.0.1:port={port.getHost().port}", "relay@chat.example.org"))
        yield super().setUp()

    @defer.inlineCallbacks
    def test_register_asks_for_the_code_and_a_wrong_one_can_be_corrected(self) -> Any:
        window = self.shell("alice")
        page = window.onboarding
        QTest.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.reg_email, "alice@example.org")
        QTest.keyClicks(page.reg_password, PASSWORD)
        QTest.keyClicks(page.reg_confirm, PASSWORD)
        QTest.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
        yield until(lambda: page.stack.currentIndex() == CODE_PAGE, page.stack.currentChanged)
        self.assertIn("alice@example.org", page.code_body.text())
        code = code_in((yield self.mailbox.next_mail("alice@example.org")))
        # A typo: said so, and the page stays for another try.
        QTest.keyClicks(page.email_code, f"{(int(code) + 1) % 10 ** 8:08d}")
        QTest.mouseClick(page.code_button, Qt.MouseButton.LeftButton)
        yield until(lambda: page.code_button.isEnabled() and bool(page.code_error.text()),
                    page.failed)
        self.assertIn("not the code", page.code_error.text())
        self.assertEqual(page.stack.currentIndex(), CODE_PAGE)
        page.email_code.clear()
        QTest.keyClicks(page.email_code, code)
        QTest.mouseClick(page.code_button, Qt.MouseButton.LeftButton)
        yield until(lambda: page.stack.currentIndex() == MNEMONIC_PAGE,
                    page.stack.currentChanged)
        _, word = page.mnemonic_word
        QTest.keyClicks(page.confirm_word, word)
        alice = yield self.signed_in(
            window, lambda: QTest.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton))
        self.assertEqual(alice.me.email, "alice@example.org")
