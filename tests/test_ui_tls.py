"""The desktop client and a wss:// relay with the development certificate: the CA
file passed to the windows, remembered per relay URL, and a clear message without it.

Runs on the Qt reactor (scripts/run_trial.py starts tests.test_ui* that way).
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer, reactor
from twisted.python.filepath import FilePath
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtTest import QTest

from securechat import testing
from securechat.client import local_accounts as accounts
from securechat.client.core import SecureChatClient
from securechat.relay import devcert
from securechat.ui import strings as S
from securechat.ui.relay_trust import ca_file_for
from securechat.ui.windows.shell import ShellWindow
from tests.clientsupport import FAST
from tests.test_ui import PASSWORD, UITestCase, until


class DesktopOverTLSTests(UITestCase):
    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        tls_dir = FilePath(self.mktemp())
        self.cert_path, key = devcert.write_certificate(tls_dir.path, ["127.0.0.1"])
        self.relay, _ = yield testing.start_relay(
            reactor, self.db_path, self.config,
            listen=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={self.cert_path}")
        self.addCleanup(self._stop, self.relay)
        self.url = f"wss://127.0.0.1:{self.relay.ports[0].getHost().port}"

    def tls_shell(self, name: str, ca_file: str | None) -> ShellWindow:
        window = ShellWindow(reactor, self.device_dir(name), self.url, FAST, self.settings,
                             ca_file=ca_file)
        window.show()
        self.windows.append(window)
        return window

    @defer.inlineCallbacks
    def test_unlocking_goes_online_over_wss_with_the_ca_file(self) -> Any:
        client, _ = yield SecureChatClient.register(
            reactor, self.device_dir("alice"), self.url, "alice@example.org", PASSWORD,
            "Alice", FAST, ca_file=self.cert_path)
        yield client.stop()
        accounts.remember(self.device_dir("alice"), "alice@example.org")
        window = self.tls_shell("alice", self.cert_path)
        client = yield self.unlock(window, "alice@example.org")
        self.assertTrue(client.connection.session.details.transport.is_secure)

    @defer.inlineCallbacks
    def test_registering_without_the_ca_file_says_the_certificate_is_not_trusted(self) -> Any:
        page = self.tls_shell("bob", None).onboarding
        QTest.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
        QTest.keyClicks(page.reg_email, "bob@example.org")
        QTest.keyClicks(page.reg_password, PASSWORD)
        QTest.keyClicks(page.reg_confirm, PASSWORD)
        QTest.mouseClick(page.register_button, Qt.MouseButton.LeftButton)
        yield until(lambda: page.reg_error.text() == S.UNTRUSTED_CERTIFICATE, page.failed)


class RememberedCaFileTests(unittest.TestCase):
    def test_the_ca_file_is_remembered_per_relay_url(self) -> None:
        settings = QSettings(os.path.abspath(self.mktemp() + ".ini"),
                             QSettings.Format.IniFormat)
        url, other = "wss://relay.example:8443", "wss://elsewhere.example"
        self.assertIsNone(ca_file_for(settings, url, None))
        self.assertEqual(ca_file_for(settings, url, "dev-tls/cert.pem"),
                         os.path.abspath("dev-tls/cert.pem"))
        self.assertEqual(ca_file_for(settings, url, None), os.path.abspath("dev-tls/cert.pem"))
        self.assertIsNone(ca_file_for(settings, other, None))
        self.assertIsNone(ca_file_for(settings, url, ""))  # forgotten
        self.assertIsNone(ca_file_for(settings, url, None))
