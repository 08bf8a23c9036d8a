"""A few thousand fuzz cases against the real relay (the campaign is bench/fuzz_router.py).

Deterministic (one seed), on every serializer and in every session state; afterwards
the relay still serves an honest client, logged no error, and holds nothing of the
fuzz connections (sessions, subscriptions, registrations, handshakes).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.logger import globalLogPublisher

from bench.fuzzcases import CaseGenerator, campaign
from securechat.protocol import uris
from tests.support import RelayTestCase, envelope

SEED = 20261130
CASES = 5000


class FuzzTests(RelayTestCase):
    @defer.inlineCallbacks
    def test_fuzzed_frames_leave_the_relay_serving_and_holding_nothing(self) -> Any:
        errors: list[dict[str, Any]] = []

        def observe(event: dict[str, Any]) -> None:
            if event.get("log_failure") is not None or event.get("isError"):
                errors.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        fuzz = yield self.account("fuzz@example.org")
        devices = []
        for i in range(3):
            devices.append((yield self.device(fuzz, f"fuzz-{i}")))
        honest = yield self.account("honest@example.org")
        sender_device = yield self.device(honest, "honest-sender")
        receiver_device = yield self.device(honest, "honest-receiver")
        sender, _ = yield self.online(sender_device)
        _, inbox = yield self.online(receiver_device)

        gen = CaseGenerator(SEED, fuzz.user_id, self.config.max_message_bytes)
        stats = yield defer.ensureDeferred(
            campaign(reactor, self.url, gen, devices, cases=CASES, seconds=120))
        self.assertGreaterEqual(stats.cases, CASES)
        self.assertEqual(stats.stuck, 0, stats)
        self.assertEqual(stats.join_failures, 0, stats)
        self.assertGreater(stats.probes_answered, 0, stats)

        # The honest client is still served.
        yield sender.call(uris.MESSAGE_SEND, honest.user_id,
                          [envelope(receiver_device, b"still here")])
        got = yield inbox.next()
        self.assertEqual(got["body"], b"still here")
        self.assertEqual(errors, [])
        # Nothing of the fuzz connections is left in the router.
        router = self.relay.router
        self.assertEqual({s.principal.device_id for s in router.sessions.values()},
                         {"honest-sender", "honest-receiver"})
        self.assertEqual(len(router._connected), 2)
        # ...nor in the connection counts: the two honest ones, both welcomed.
        self.assertEqual(router.connections.total, 2)
        self.assertEqual(router.connections.per_address("127.0.0.1"), (2, 0))
        self.assertEqual(set(router.broker._by_topic),
                         {uris.inbox_topic("honest-sender"), uris.inbox_topic("honest-receiver")})
        self.assertEqual(router.dealer._by_uri, {})
        for session in router.sessions.values():
            self.assertEqual((session.calls, session.invocations, session.calls_in_flight),
                             ({}, {}, 0))
