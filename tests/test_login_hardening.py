"""Password logins against a hostile relay (review H3, L2): no proof for parameters the
client did not agree to, and no ws:// off this machine unless the user asks for it.

The hostile relay is the real one, its SCRAM CHALLENGE rewritten in process
(tests.hostile_scram); every AUTHENTICATE it receives is recorded, so "refused before
a proof is sent" is checked where the proof would arrive.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer, reactor

from securechat.bot import open_client
from securechat.client.core import SecureChatClient
from securechat.client.errors import (
    InsecureRelayUrl,
    LoginParametersRefused,
    PasswordTooShort,
    RelayNotProven,
)
from securechat.client.relay_url import check_relay_url
from securechat.client.scram_pinning import (
    CEILING_ITERATIONS,
    CEILING_MEMORY_KIB,
    ScramParameters,
    load_pinned,
)
from securechat.client.wamp import connect
from securechat.protocol import scram, uris
from securechat.protocol.keys import user_id_for_email
from securechat.relay.auth import Welcome
from securechat.relay.authorization import Principal
from tests.clientsupport import FAST, ClientTestCase
from tests.hostile_scram import HostileScram, Tamper, downgrade, fresh_nonce, other_salt

EMAIL = "alice@example.org"
PASSWORD = "pw-" + "x" * 10


class LoginHardeningTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.hostile = HostileScram(self.relay)
        self.addCleanup(self.hostile.restore)

    def sign_in(self, floor: Any = FAST) -> defer.Deferred[Any]:
        """Sign in on a new device ("phone"), accepting the test cost unless told. A
        client that comes of it is stopped at the end, even one that should not exist."""
        kwargs = {} if floor is None else {"floor": floor}
        return SecureChatClient.login(reactor, self.device_dir("phone"), self.url, EMAIL,
                                      PASSWORD, FAST, recovery_phrase=self.phrases[EMAIL],
                                      **kwargs).addCallback(self._track)

    @defer.inlineCallbacks
    def refused_sign_in(self, floor: Any = FAST) -> Any:
        """A sign-in that must be refused before any proof: returns the refusal."""
        laptop_proofs = len(self.hostile.proofs)
        error = yield self.assertFailure(self.sign_in(floor), LoginParametersRefused)
        self.assertIn("refusing to send a password proof", str(error))
        self.assertEqual(len(self.hostile.proofs), laptop_proofs, "a proof reached the relay")
        self.assertFalse(os.path.exists(os.path.join(self.device_dir("phone"),
                                                     self.laptop.me.user_id)))
        return error

    @defer.inlineCallbacks
    def register_laptop(self) -> Any:
        self.laptop = yield self.register("laptop", EMAIL, PASSWORD)
        self.assertEqual(len(self.hostile.proofs), 1)  # it enrolled itself with a proof

    @defer.inlineCallbacks
    def test_a_downgraded_challenge_gets_no_proof_on_a_new_device(self) -> Any:
        yield self.register_laptop()
        self.hostile.tamper = downgrade
        error = yield self.refused_sign_in()
        self.assertIn("weaker password hashing (1 passes, 8 KiB)", str(error))
        self.assertEqual(len(self.hostile.challenges), 2)  # the laptop's, then the phone's

    @defer.inlineCallbacks
    def test_the_default_floor_refuses_less_than_the_default_costs(self) -> Any:
        yield self.register_laptop()  # at the test cost, t=1 and 8 MiB: below the default
        error = yield self.refused_sign_in(floor=None)
        self.assertIn(f"at least {scram.DEFAULT_ITERATIONS} passes, "
                      f"{scram.DEFAULT_MEMORY_KIB} KiB", str(error))

    @defer.inlineCallbacks
    def test_costs_above_the_ceiling_are_refused(self) -> Any:
        yield self.register_laptop()
        for too_much in ({"memory": CEILING_MEMORY_KIB + 1},
                         {"iterations": CEILING_ITERATIONS + 1}):
            self.hostile.tamper = lambda extra, too_much=too_much: {**extra, **too_much}
            error = yield self.refused_sign_in()
            self.assertIn("beyond what this client allows", str(error))

    @defer.inlineCallbacks
    def test_a_server_nonce_that_does_not_extend_ours_is_refused(self) -> Any:
        yield self.register_laptop()
        for tamper in (fresh_nonce,
                       lambda extra: {**extra, "nonce": self.client_nonce()}):
            self.hostile.tamper = tamper
            error = yield self.refused_sign_in()
            self.assertIn("its nonce does not extend ours", str(error))

    def client_nonce(self) -> str:
        """The nonce of the HELLO being answered now (the server nonce minus its part)."""
        return str(self.hostile.hellos[-1].authextra["nonce"])

    @defer.inlineCallbacks
    def test_a_normal_sign_in_works_and_pins_what_it_proved(self) -> Any:
        yield self.register_laptop()
        phone = yield self.sign_in()
        self.assertEqual(len(self.hostile.proofs), 3)  # the phone's login and enrollment
        sent = self.hostile.challenges[-1]
        registered = ScramParameters(sent["kdf"], sent["salt"], sent["iterations"],
                                     sent["memory"])
        self.assertEqual((yield load_pinned(phone.store)), registered)
        self.assertEqual((yield load_pinned(self.laptop.store)), registered)
        yield self.online(phone)

    @defer.inlineCallbacks
    def test_the_relay_cannot_switch_parameters_within_a_sign_in(self) -> Any:
        yield self.register_laptop()
        # The first login of the sign-in is honest; the second (enrolling the phone)
        # asks for another salt at the same costs.
        self.hostile.tamper, self.hostile.from_login = other_salt, 3
        yield self.online(self.laptop)
        error = yield self.assertFailure(self.sign_in(), LoginParametersRefused)
        self.assertIn("other password hashing parameters", str(error))
        self.assertEqual(len(self.hostile.proofs), 2)  # the laptop's, the phone's first
        devices = yield self.laptop.connection.session.call(uris.DEVICE_LIST,
                                                            self.laptop.me.user_id)
        self.assertEqual([d["device_id"] for d in devices], [self.laptop.me.device_id])
        self.assertFalse(os.path.exists(os.path.join(self.device_dir("phone"),
                                                     self.laptop.me.user_id)))

    @defer.inlineCallbacks
    def test_a_pinned_account_accepts_exactly_what_it_registered(self) -> Any:
        yield self.register_laptop()
        laptop = yield self.reopen(self.laptop, "laptop", PASSWORD)  # the pin is on disk
        credentials = yield laptop.password_credentials(PASSWORD)
        changes: list[Tamper] = [
            other_salt,
            downgrade,
            fresh_nonce,
            lambda extra: {**extra, "iterations": extra["iterations"] + 1},
            lambda extra: {**extra, "memory": extra["memory"] * 2},
            lambda extra: {**extra, "memory": extra["memory"] // 2},
            lambda extra: {**extra, "kdf": "argon2i-13"},
        ]
        errors = []
        for tamper in changes:
            self.hostile.tamper = tamper
            error = yield self.assertFailure(connect(reactor, self.url, credentials),
                                             LoginParametersRefused)
            self.assertIn("refusing to send a password proof", str(error))
            errors.append(str(error))
        self.assertIn("other password hashing parameters (salt or costs) than this account "
                      "registered from this device", errors[0])
        self.assertIn("its nonce does not extend ours", errors[2])
        self.assertIn("weaker password hashing (1 passes, 4096 KiB) than this account uses "
                      "(1 passes, 8192 KiB)", errors[5])
        self.assertEqual(len(self.hostile.proofs), 1)  # still only the laptop's enrollment
        self.hostile.tamper = None
        session = yield connect(reactor, self.url, credentials)
        self.assertEqual(session.details.authrole, uris.ROLE_ACCOUNT)
        self.assertEqual(len(self.hostile.proofs), 2)
        session.leave()
        yield session.disconnected

    @defer.inlineCallbacks
    def test_a_welcome_without_a_challenge_is_refused(self) -> Any:
        """A relay that skips the CHALLENGE and forges the only server signature it can
        (over nothing, with an empty key) does not get a session."""
        yield self.register_laptop()
        credentials = yield self.laptop.password_credentials(PASSWORD)
        user_id = self.laptop.me.user_id
        forged = scram.expected_server_signature(b"", b"")

        def welcome_at_once(msg: Any, peer: str = "") -> defer.Deferred[Any]:
            self.hostile.hellos.append(msg)
            return defer.succeed(Welcome(Principal(uris.ROLE_ACCOUNT, user_id, user_id),
                                         "scram", {"scram_server_signature": forged}))
        self.relay.router.authenticator.hello = welcome_at_once
        error = yield self.assertFailure(connect(reactor, self.url, credentials),
                                         RelayNotProven)
        self.assertIn("the relay did not ask for a password proof", str(error))
        self.assertEqual(self.hostile.hellos[-1].authmethods, ["scram"])  # it reached us

    # --- ws:// off this machine ---------------------------------------------------------

    def other_host_url(self) -> str:
        # 0.0.0.0 is not a loopback address, yet on Linux connecting to it reaches this
        # machine: the refusal cannot come from the network, and with the flag the
        # client really gets through to the relay.
        return self.url.replace("127.0.0.1", "0.0.0.0")

    @defer.inlineCallbacks
    def test_ws_off_loopback_is_refused_before_connecting(self) -> Any:
        url = self.other_host_url()
        attempts = [
            SecureChatClient.register(reactor, self.device_dir("a"), url, EMAIL, PASSWORD,
                                      "Alice", FAST),
            SecureChatClient.login(reactor, self.device_dir("a"), url, EMAIL, PASSWORD, FAST,
                                   floor=FAST),
            SecureChatClient.open(reactor, self.device_dir("a"), url, EMAIL, PASSWORD),
            SecureChatClient.open_with_pin(reactor, self.device_dir("a"), url, EMAIL,
                                           "482916"),
            open_client(reactor, self.device_dir("bot"), url, EMAIL, PASSWORD, cost=FAST,
                        floor=FAST),
        ]
        for attempt in attempts:
            error = yield self.assertFailure(attempt, InsecureRelayUrl)
            self.assertIn("--insecure-ws", str(error))
            self.assertIn("without encryption", str(error))
        self.assertEqual(self.hostile.hellos, [])  # nothing reached the relay
        self.assertFalse(os.path.exists(self.device_dir("a")))

    @defer.inlineCallbacks
    def test_insecure_ws_lets_the_client_through(self) -> Any:
        url = self.other_host_url()
        alice, phrase = yield SecureChatClient.register(reactor, self.device_dir("a"), url,
                                                        EMAIL, PASSWORD, "Alice", FAST,
                                                        insecure_ws=True)
        self._track(alice)
        phone = yield SecureChatClient.login(reactor, self.device_dir("b"), url, EMAIL,
                                             PASSWORD, FAST, floor=FAST, insecure_ws=True,
                                             recovery_phrase=phrase)
        self._track(phone)
        bot = yield open_client(reactor, self.device_dir("bot"), url, "bot@example.org",
                                "bot-password-1", cost=FAST, floor=FAST, insecure_ws=True)
        self._track(bot)
        yield self.online(alice, phone, bot)
        # alice's enrollment, the phone's login and enrollment, the bot's sign-in attempt
        # (an unknown account answers like a wrong password) and its enrollment
        self.assertEqual(len(self.hostile.proofs), 5)

    def test_which_relay_urls_need_the_flag(self) -> None:
        for url in ("wss://relay.example.org", "wss://relay.example.org:8443/ws",
                    "wss://203.0.113.7:443", "ws://127.0.0.1:8080", "ws://127.8.9.10:1",
                    "ws://[::1]:8080", "ws://localhost:8080", "ws://LOCALHOST.:8080",
                    "ws://[::ffff:127.0.0.1]:8080"):
            check_relay_url(url)  # no flag needed
        for url in ("ws://relay.example.org", "ws://10.0.0.2:8080", "ws://[2001:db8::1]:80",
                    "ws://127.0.0.1.example.org:80", "ws://localhost.example.org:80",
                    "ws://0.0.0.0:8080"):
            with self.assertRaises(InsecureRelayUrl):
                check_relay_url(url)
            check_relay_url(url, insecure_ws=True)
        for url in ("http://127.0.0.1:8080", "relay.example.org", "wss://", "ws://[::1:80",
                    "ws://127.0.0.1:99999"):
            with self.assertRaises(InsecureRelayUrl, msg=url) as cm:
                check_relay_url(url, insecure_ws=True)
            self.assertIn("is not a relay URL", str(cm.exception))

    # --- L3: bots choose a long enough password -----------------------------------------

    @defer.inlineCallbacks
    def test_a_bot_cannot_register_with_a_short_password(self) -> Any:
        error = yield self.assertFailure(
            open_client(reactor, self.device_dir("bot"), self.url, "bot@example.org",
                        "short-pw1", cost=FAST, floor=FAST), PasswordTooShort)
        self.assertIn("at least 10 characters", str(error))
        self.assertFalse(os.path.exists(os.path.join(self.device_dir("bot"),
                                                     user_id_for_email("bot@example.org"))))
        bot = yield open_client(reactor, self.device_dir("bot"), self.url, "bot@example.org",
                                "long-enough-1", cost=FAST, floor=FAST)
        self._track(bot)
