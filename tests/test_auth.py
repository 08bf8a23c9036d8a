"""Every way into the relay, and every way of being refused."""

from __future__ import annotations

import base64
import os
from typing import Any

from autobahn.wamp import types
from autobahn.wamp.auth import AuthScram
from twisted.internet import defer, reactor

from securechat.client.wamp import (
    Anonymous,
    DeviceKey,
    JoinRefused,
    Password,
    RelaySession,
    connect,
)
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email
from securechat.testing import TEST_LOGIN_FLOOR as CHEAP  # accounts at the test cost
from tests.support import RelayTestCase


class AuthenticationTests(RelayTestCase):
    @defer.inlineCallbacks
    def test_anonymous_gets_the_anonymous_role(self) -> Any:
        session = yield self.join(Anonymous())
        self.assertEqual(session.details.authrole, uris.ROLE_ANONYMOUS)

    @defer.inlineCallbacks
    def test_password_login_with_the_right_password(self) -> Any:
        alice = yield self.account("alice@example.org", "hunter2hunter2")
        session = yield self.join(Password(alice.user_id, "hunter2hunter2", CHEAP))
        self.assertEqual(session.details.authrole, uris.ROLE_ACCOUNT)
        self.assertEqual(session.details.authid, alice.user_id)
        recovery = yield session.call(uris.ACCOUNT_RECOVERY)
        self.assertEqual(recovery["recovery_blob"], alice.recovery_blob)
        self.assertEqual(recovery["identity_key"], alice.identity_public)

    @defer.inlineCallbacks
    def test_wrong_password_is_refused(self) -> Any:
        alice = yield self.account("alice@example.org", "hunter2hunter2")
        refusal = yield self.refused(Password(alice.user_id, "hunter3hunter3", CHEAP))
        self.assertEqual(refusal.reason, uris.ERR_WRONG_PASSWORD)

    @defer.inlineCallbacks
    def test_unknown_account_is_refused_as_a_wrong_password(self) -> Any:
        # No "is this email registered?" oracle (L1): see tests.test_password_abuse.
        refusal = yield self.refused(Password(user_id_for_email("nobody@example.org"), "x"))
        self.assertEqual(refusal.reason, uris.ERR_WRONG_PASSWORD)

    @defer.inlineCallbacks
    def test_device_login_with_its_enrolled_key(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice, "laptop")
        session = yield self.join(laptop.key)
        self.assertEqual(session.details.authrole, uris.ROLE_DEVICE)
        self.assertEqual(session.details.authid, "laptop")
        self.assertEqual(session.details.authextra,
                         {"user_id": alice.user_id, "device_id": "laptop"})

    @defer.inlineCallbacks
    def test_any_device_may_look_up_an_accounts_public_identity_key(self) -> Any:
        alice = yield self.account("alice@example.org")
        bob = yield self.account("bob@example.org")
        session = yield self.join((yield self.device(alice)).key)
        public = yield session.call(uris.ACCOUNT_PUBLIC, bob.user_id)
        self.assertEqual(public, {"user_id": bob.user_id, "identity_key": bob.identity_public})

    @defer.inlineCallbacks
    def test_unenrolled_key_is_refused(self) -> Any:
        refusal = yield self.refused(DeviceKey.generate("ghost"))
        self.assertEqual(refusal.reason, uris.ERR_NO_SUCH_DEVICE)

    @defer.inlineCallbacks
    def test_key_of_another_device_is_refused(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice, "laptop")
        yield self.device(alice, "phone")
        refusal = yield self.refused(DeviceKey("phone", laptop.key.seed))
        self.assertEqual(refusal.reason, uris.ERR_WRONG_KEY)

    @defer.inlineCallbacks
    def test_signature_by_another_key_is_refused(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice, "laptop")
        impostor = _ForgingSession(laptop.key)
        refusal = yield self._join_expecting_refusal(impostor)
        self.assertEqual(refusal.reason, uris.ERR_WRONG_KEY)

    @defer.inlineCallbacks
    def test_repeated_wrong_passwords_are_throttled(self) -> Any:
        alice = yield self.account("alice@example.org", "hunter2hunter2")
        free = self.config.password_free_failures
        reasons = []
        for _ in range(free + 2):
            refusal = yield self.refused(Password(alice.user_id, "guess-guess", CHEAP))
            reasons.append(refusal.reason)
        # A few free guesses, one more that starts the backoff, then this address waits.
        self.assertEqual(reasons[:free + 1], [uris.ERR_WRONG_PASSWORD] * (free + 1))
        self.assertEqual(reasons[free + 1], uris.ERR_RATE_LIMITED)
        # Even the right password waits now, from this address: guessing gains nothing
        # (the owner elsewhere is not affected: tests.test_password_abuse).
        refusal = yield self.refused(Password(alice.user_id, "hunter2hunter2", CHEAP))
        self.assertEqual(refusal.reason, uris.ERR_RATE_LIMITED)

    @defer.inlineCallbacks
    def test_autobahns_own_scram_client_logs_in(self) -> Any:
        """Interoperability: autobahn's AuthScram, not ours, against our relay."""
        alice = yield self.account("alice@example.org", "hunter2hunter2")
        session = _AutobahnScramSession(alice.user_id, "hunter2hunter2")
        yield self._connect(session)
        yield session.joined
        self.sessions.append(session)
        self.assertEqual(session.details.authrole, uris.ROLE_ACCOUNT)

    @defer.inlineCallbacks
    def test_wrong_realm_is_refused(self) -> Any:
        session = _RealmSession("elsewhere")
        refusal = yield self._join_expecting_refusal(session)
        self.assertEqual(refusal.reason, uris.WAMP_NO_SUCH_REALM)

    @defer.inlineCallbacks
    def test_unsupported_authmethod_is_refused(self) -> Any:
        session = _MethodSession(["ticket"])
        refusal = yield self._join_expecting_refusal(session)
        self.assertEqual(refusal.reason, uris.WAMP_NO_AUTH_METHOD)

    # --- helpers -----------------------------------------------------------------

    def _connect(self, session: RelaySession) -> defer.Deferred[Any]:
        from autobahn.twisted.websocket import WampWebSocketClientFactory
        from autobahn.wamp.serializer import JsonSerializer
        from twisted.internet import endpoints

        factory = WampWebSocketClientFactory(lambda: session, url=self.url,
                                             serializers=[JsonSerializer()])
        port = int(self.url.rsplit(":", 1)[1])
        return endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)

    @defer.inlineCallbacks
    def _join_expecting_refusal(self, session: RelaySession) -> Any:
        yield self._connect(session)
        try:
            yield session.joined
        except JoinRefused as e:
            return e
        self.sessions.append(session)
        self.fail("joined but should have been refused")


class _ForgingSession(RelaySession):
    """Claims a device's public key but signs with a different private key."""

    def onChallenge(self, challenge: types.Challenge) -> Any:
        return DeviceKey.generate("x").seed.hex() + challenge.extra["challenge"] + "00" * 32


class _AutobahnScramSession(RelaySession):
    def __init__(self, user_id: str, password: str) -> None:
        super().__init__(Password(user_id, password))
        self._auth = AuthScram(authid=user_id, password=password)

    def onConnect(self) -> None:
        self.join(uris.REALM, ["scram"], self.credentials.user_id,
                  authextra=self._auth.authextra)

    def onChallenge(self, challenge: types.Challenge) -> Any:
        return self._auth.on_challenge(self, challenge).decode("ascii")

    def onWelcome(self, welcome: Any) -> str | None:
        return self._auth.on_welcome(self, welcome.authextra)


class _RealmSession(RelaySession):
    def __init__(self, realm: str) -> None:
        super().__init__(Anonymous())
        self._realm = realm

    def onConnect(self) -> None:
        self.join(self._realm, ["anonymous"])


class _MethodSession(RelaySession):
    def __init__(self, methods: list[str]) -> None:
        super().__init__(Anonymous())
        self._methods = methods

    def onConnect(self) -> None:
        self.join(uris.REALM, self._methods, "someone",
                  authextra={"nonce": base64.b64encode(os.urandom(16)).decode()})


del connect  # imported for readers of this module: the tests use RelayTestCase.join
