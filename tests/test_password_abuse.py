"""Password login under attack: no lockout (M6), no existence oracle (L1), verifier
floors (L3), and a relay database only its owner can read (L7)."""

from __future__ import annotations

import base64
import os
import stat
from typing import Any

from autobahn.wamp import types
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, endpoints, reactor, threads

from securechat import testing
from securechat.client.wamp import Anonymous, JoinRefused, Password, RelaySession, connect
from securechat.protocol import scram, uris
from securechat.protocol.keys import user_id_for_email
from securechat.relay.config import RelayConfig
from securechat.testing import TEST_LOGIN_FLOOR
from tests.support import RelayTestCase

OWNER_PASSWORD = "correct horse battery"


class LockoutTests(RelayTestCase):
    # The longest hold-back kept short so the test is quick, and the first backoff long
    # so that it cannot run out during the test; the rules are the same.
    config = RelayConfig(password_max_delay=0.5, password_backoff=600)

    def join_from(self, address: str, credentials: Any) -> defer.Deferred[Any]:
        """Connect from another loopback address (127.0.0.0/8 is all loopback)."""
        port = int(self.url.rsplit(":", 1)[1])
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port,
                                                bindAddress=(address, 0))
        return connect(reactor, self.url, credentials, endpoint=endpoint)

    @defer.inlineCallbacks
    def guesses_from(self, address: str, user_id: str, count: int) -> Any:
        reasons = []
        for i in range(count):
            try:
                session = yield self.join_from(address, Password(user_id, f"guess {i}",
                                                                   TEST_LOGIN_FLOOR))
            except JoinRefused as e:
                reasons.append(e.reason)
            else:
                self.sessions.append(session)
                self.fail("a wrong password joined")
        return reasons

    @defer.inlineCallbacks
    def test_an_attacker_who_knows_the_email_cannot_keep_the_owner_out(self) -> Any:
        alice = yield self.account("alice@example.org", OWNER_PASSWORD)
        # One address guesses until it is made to wait...
        reasons = yield self.guesses_from("127.0.0.1", alice.user_id, 12)
        free = self.config.password_free_failures
        self.assertEqual(reasons[:free + 1], [uris.ERR_WRONG_PASSWORD] * (free + 1))
        self.assertEqual(set(reasons[free + 1:]), {uris.ERR_RATE_LIMITED})
        # ...and more addresses drain the account's own bucket (answers now come later).
        for address in ("127.0.0.3", "127.0.0.4"):
            yield self.guesses_from(address, alice.user_id, free)
        # The owner, from their own address, still signs in.
        owner = yield self.join_from("127.0.0.2", owner_login(alice.user_id))
        self.sessions.append(owner)
        self.assertEqual(owner.details.authrole, uris.ROLE_ACCOUNT)
        # The guessing address is still waiting, even with the right password.
        with self.assertRaises(JoinRefused) as caught:
            yield self.join_from("127.0.0.1", owner_login(alice.user_id))
        self.assertEqual(caught.exception.reason, uris.ERR_RATE_LIMITED)

    @defer.inlineCallbacks
    def test_a_success_clears_the_addresss_backoff(self) -> Any:
        alice = yield self.account("alice@example.org", OWNER_PASSWORD)
        free = self.config.password_free_failures
        yield self.guesses_from("127.0.0.5", alice.user_id, free - 1)  # typos
        owner = yield self.join_from("127.0.0.5", owner_login(alice.user_id))
        self.sessions.append(owner)
        reasons = yield self.guesses_from("127.0.0.5", alice.user_id, free)
        self.assertEqual(reasons, [uris.ERR_WRONG_PASSWORD] * free)  # counted afresh


class ChallengeRecorder(RelaySession):
    """A SCRAM login that records the CHALLENGE it gets."""

    def __init__(self, credentials: Password) -> None:
        super().__init__(credentials)
        self.challenge: dict[str, Any] = {}

    def onChallenge(self, challenge: types.Challenge) -> Any:
        self.challenge = dict(challenge.extra)
        return super().onChallenge(challenge)


class EnumerationTests(RelayTestCase):
    @defer.inlineCallbacks
    def login(self, user_id: str, password: str) -> Any:
        """(challenge extra, refusal) of one SCRAM login that is expected to fail."""
        session = ChallengeRecorder(Password(user_id, password))
        from autobahn.twisted.websocket import WampWebSocketClientFactory
        from autobahn.wamp.serializer import MsgPackSerializer

        factory = WampWebSocketClientFactory(lambda: session, url=self.url,
                                             serializers=[MsgPackSerializer()])
        port = int(self.url.rsplit(":", 1)[1])
        yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        with self.assertRaises(JoinRefused) as caught:
            yield session.joined
        yield session.disconnected
        return session.challenge, caught.exception

    @defer.inlineCallbacks
    def test_an_unknown_account_looks_like_a_wrong_password(self) -> Any:
        # A real account at the client's default costs, as the app registers them.
        _, args = yield threads.deferToThread(
            testing.registration_args, "alice@example.org", OWNER_PASSWORD,
            scram.DEFAULT_MEMORY_KIB, scram.DEFAULT_ITERATIONS)
        anonymous = yield self.join(Anonymous())
        yield anonymous.call(uris.ACCOUNT_REGISTER, *args)
        real, wrong = yield self.login(user_id_for_email("alice@example.org"), "not it")
        nobody = user_id_for_email("nobody@example.org")
        fake, unknown = yield self.login(nobody, "not it")
        self.assertEqual(sorted(fake), sorted(real))
        for field in ("kdf", "iterations", "memory"):
            self.assertEqual(fake[field], real[field], field)
        self.assertEqual(len(base64.b64decode(fake["salt"])), len(base64.b64decode(real["salt"])))
        self.assertEqual((unknown.reason, unknown.message), (wrong.reason, wrong.message))
        self.assertEqual(unknown.reason, uris.ERR_WRONG_PASSWORD)
        # The stand-in's salt is the same at every HELLO, even after a restart (a salt
        # that changed would give it away), and differs between unknown accounts.
        again, _ = yield self.login(nobody, "other guess")
        yield self.restart_relay()
        restarted, _ = yield self.login(nobody, "other guess")
        self.assertEqual(again["salt"], fake["salt"])
        self.assertEqual(restarted["salt"], fake["salt"])
        other, _ = yield self.login(user_id_for_email("nobody2@example.org"), "x")
        self.assertNotEqual(other["salt"], fake["salt"])


class VerifierFloorTests(RelayTestCase):
    """L3: the relay refuses password verifiers cheaper than its floor (t=3, 64 MiB)."""

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        # As an operator runs it (default floors), verification off for brevity.
        self.relay, self.url = yield testing.start_relay(
            reactor, self.db_path, RelayConfig(email_verification=False), as_configured=True)
        self.addCleanup(self._stop, self.relay)

    @defer.inlineCallbacks
    def register(self, email: str, memory: int, iterations: int) -> Any:
        _, args = yield threads.deferToThread(testing.registration_args, email, "pw " * 4,
                                              memory, iterations)
        session = yield self.join(Anonymous())
        return (yield session.call(uris.ACCOUNT_REGISTER, *args))

    @defer.inlineCallbacks
    def test_cheap_verifiers_are_refused_and_the_defaults_accepted(self) -> Any:
        for memory, iterations in ((8192, 1), (scram.DEFAULT_MEMORY_KIB, 1),
                                   (32768, scram.DEFAULT_ITERATIONS)):
            with self.assertRaises(ApplicationError) as caught:
                yield self.register("alice@example.org", memory, iterations)
            self.assertEqual(caught.exception.error, uris.ERR_WEAK_VERIFIER)
            self.assertEqual(caught.exception.kwargs, {"min_iterations": 3, "min_memory": 65536})
        yield self.register("alice@example.org", scram.DEFAULT_MEMORY_KIB,
                            scram.DEFAULT_ITERATIONS)


class DatabaseModeTests(RelayTestCase):
    def modes(self) -> dict[str, int]:
        return {suffix: stat.S_IMODE(os.stat(self.db_path + suffix).st_mode)
                for suffix in ("", "-wal", "-shm") if os.path.exists(self.db_path + suffix)}

    @defer.inlineCallbacks
    def test_the_database_and_its_wal_are_readable_by_the_relay_only(self) -> Any:
        yield self.account("alice@example.org")  # a write: the WAL has content
        modes = self.modes()
        self.assertIn("-wal", modes)
        self.assertEqual(modes, dict.fromkeys(modes, 0o600))

    @defer.inlineCallbacks
    def test_a_database_made_readable_by_others_is_made_private_at_start(self) -> Any:
        yield self.account("alice@example.org")
        yield self.relay.stopService()
        os.chmod(self.db_path, 0o644)
        yield self.start_relay()
        yield self.account("bob@example.org")
        modes = self.modes()
        self.assertEqual(modes, dict.fromkeys(modes, 0o600))


def owner_login(user_id: str) -> Password:
    """The owner's right password, at the test accounts' cost."""
    return Password(user_id, OWNER_PASSWORD, TEST_LOGIN_FLOOR)
