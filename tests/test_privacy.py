"""What the relay logs and stores: never passwords, keys or message contents."""

from __future__ import annotations

import sqlite3
from typing import Any

from twisted.internet import defer
from twisted.logger import formatEvent, globalLogPublisher

from securechat.client.wamp import Password
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email
from securechat.testing import TEST_LOGIN_FLOOR
from tests.support import RelayTestCase, envelope

PASSWORD = "correct horse battery staple"
SECRET_BODY = b"the-ciphertext-nobody-should-log"


class PrivacyTests(RelayTestCase):
    @defer.inlineCallbacks
    def test_logs_name_events_but_never_secrets(self) -> Any:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)

        alice = yield self.account("alice@example.org", PASSWORD)
        bob = yield self.account("bob@example.org")
        laptop = yield self.device(alice)
        bob_device = yield self.device(bob)
        yield self.refused(Password(alice.user_id, "a wrong password", TEST_LOGIN_FLOOR))
        sender, _ = yield self.online(laptop)
        yield sender.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device, SECRET_BODY)])

        text = "\n".join(formatEvent(e) + repr(sorted(e)) for e in events)
        self.assertIn("authenticated as", text)
        self.assertIn(uris.ERR_WRONG_PASSWORD, text)
        for secret in (PASSWORD, "a wrong password", SECRET_BODY.decode(), laptop.key.seed.hex(),
                       "alice@example.org"):
            self.assertNotIn(secret, text)

    @defer.inlineCallbacks
    def test_the_relay_never_learns_an_email_or_password(self) -> Any:
        yield self.account("alice@example.org", PASSWORD)
        yield self.relay.stopService()
        dump = "\n".join(sqlite3.connect(self.db_path).iterdump())
        self.assertNotIn("alice@example.org", dump)
        self.assertNotIn(PASSWORD, dump)
        self.assertIn(user_id_for_email("Alice@Example.org "), dump)
