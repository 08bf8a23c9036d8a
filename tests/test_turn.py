"""TURN credentials in coturn's REST format, checked independently of the relay's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase

SECRET = "coturn static auth secret"


class TurnTests(RelayTestCase):
    use_clock = True
    config = RelayConfig(turn_secret=SECRET, turn_uris=("turn:127.0.0.1:3478",), turn_ttl=600)

    @defer.inlineCallbacks
    def test_credentials_follow_coturns_rest_format(self) -> Any:
        alice = yield self.account("alice@example.org")
        session, _ = yield self.online((yield self.device(alice)))
        self.clock.advance(1_800_000_000)
        creds = yield session.call(uris.TURN_CREDENTIALS)
        expiry, _, anonymous = creds["username"].partition(":")
        self.assertEqual(expiry, "1800000600")
        # Not the user id (security review M8): random, and new each time.
        self.assertNotIn(alice.user_id, creds["username"])
        self.assertRegex(anonymous, r"^[0-9a-f]{16}$")
        again = yield session.call(uris.TURN_CREDENTIALS)
        self.assertNotEqual(again["username"], creds["username"])
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), creds["username"].encode(), hashlib.sha1).digest()
        ).decode()
        self.assertEqual(creds["password"], expected)
        self.assertEqual(creds["ttl"], 600)
        self.assertEqual(creds["uris"], ["turn:127.0.0.1:3478"])


class TurnDisabledTests(RelayTestCase):
    @defer.inlineCallbacks
    def test_no_secret_means_a_clear_error(self) -> Any:
        alice = yield self.account("alice@example.org")
        session, _ = yield self.online((yield self.device(alice)))
        with self.assertRaises(ApplicationError) as caught:
            yield session.call(uris.TURN_CREDENTIALS)
        self.assertEqual(caught.exception.error, uris.ERR_TURN_DISABLED)
