"""What one session may hold in the relay (review finding H5, and L4's cost and log flooding).

Each attack of the review runs against the real relay; the figures checked are the
relay's own accounting (bodies its storage loaded, tokens a call took, log lines
written), never the process's RSS, which the abuse benchmark measures instead.
"""

from __future__ import annotations

import os
from typing import Any

from autobahn.twisted.websocket import WebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, endpoints, reactor
from twisted.logger import globalLogPublisher

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase, envelope
from tests.test_malformed import RawClient

BIG = 200 * 1024  # a large envelope body: two fit in a page, a third does not


class MailboxFetchMemoryTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.laptop = yield self.device(self.alice, "alice-laptop")
        self.phone = yield self.device(self.alice, "alice-phone")
        self.sender, _ = yield self.online(self.laptop)

    @defer.inlineCallbacks
    def fill_phone(self, count: int, size: int = BIG) -> Any:
        """The review's attack: one account fills its own second device's mailbox."""
        for i in range(count):
            body = bytes([i % 256]) * size
            yield self.sender.call(uris.MESSAGE_SEND, self.alice.user_id,
                                   [envelope(self.phone, body)])

    def connected(self, device_id: str) -> bool:
        return any(s.principal.device_id == device_id
                   for s in self.relay.router.sessions.values())

    @defer.inlineCallbacks
    def test_pipelined_fetches_of_a_large_mailbox_load_one_page_of_bodies_each(self) -> Any:
        yield self.fill_phone(20)  # 4 MB: before, each fetch loaded all of it
        phone = yield self.join(self.phone.key)
        stats = self.relay.router.delivery.stats
        pages = yield defer.gatherResults([phone.call(uris.MAILBOX_FETCH) for _ in range(12)])
        budget = self.config.max_message_bytes // 2
        for page in pages:
            self.assertEqual(len(page["envelopes"]), 2)
            self.assertTrue(page["more"])
        # The storage loaded exactly the bodies it sent: two per fetch, never the mailbox.
        self.assertEqual(stats.pages, 12)
        self.assertEqual(stats.most_envelopes, 2)
        self.assertEqual(stats.largest_page, 2 * BIG)
        self.assertLessEqual(stats.largest_page, budget)
        self.assertEqual(stats.bytes_read, 12 * 2 * BIG)

    @defer.inlineCallbacks
    def test_draining_a_mailbox_reads_each_body_once(self) -> Any:
        yield self.fill_phone(9)
        phone = yield self.join(self.phone.key)
        stats = self.relay.router.delivery.stats
        received = []
        while True:
            page = yield phone.call(uris.MAILBOX_FETCH)
            received += [e["body"][0] for e in page["envelopes"]]
            yield phone.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
            if not page["more"]:
                break
        self.assertEqual(received, list(range(9)))  # in order, each once
        self.assertEqual(stats.bytes_read, 9 * BIG)  # O(n): no body read twice

    @defer.inlineCallbacks
    def test_a_page_never_passes_the_limit_asked_for(self) -> Any:
        yield self.fill_phone(5, size=10)
        phone = yield self.join(self.phone.key)
        page = yield phone.call(uris.MAILBOX_FETCH, 3)
        self.assertEqual([e["body"] for e in page["envelopes"]],
                         [bytes([i]) * 10 for i in range(3)])
        self.assertTrue(page["more"])
        page = yield phone.call(uris.MAILBOX_FETCH, 5)
        self.assertEqual(len(page["envelopes"]), 5)
        self.assertFalse(page["more"])

    @defer.inlineCallbacks
    def test_a_device_that_stops_reading_is_dropped_and_keeps_its_envelopes(self) -> Any:
        # The live push to a device that reads nothing must not pile up in the relay:
        # past max_send_buffer_bytes queued for it the connection is dropped.
        self.config = RelayConfig(max_send_buffer_bytes=256 * 1024)
        self.relay.router.config = self.config
        phone, _ = yield self.online(self.phone)
        phone._transport.transport.pauseProducing()  # the phone reads nothing from now on
        sent = 0
        while self.connected("alice-phone"):
            yield self.fill_phone(1)
            sent += 1
            self.assertLess(sent, 400, "the relay kept queueing for a peer that reads nothing")
        phone._transport.transport.resumeProducing()  # and now it learns it was dropped
        yield phone.disconnected
        # The sender was not affected, and the phone finds everything in its mailbox.
        yield self.sender.call(uris.PRESENCE_SESSIONS)
        again = yield self.join(self.phone.key)
        fetched = 0
        while True:
            page = yield again.call(uris.MAILBOX_FETCH)
            fetched += len(page["envelopes"])
            yield again.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
            if not page["more"]:
                break
        self.assertEqual(fetched, sent)


class SessionCapTests(RelayTestCase):
    config = RelayConfig(max_subscriptions=5, max_registrations=3, max_calls_in_flight=4,
                         max_invocations_pending=2, max_uri_length=100)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.laptop_device = yield self.device(self.alice, "alice-laptop")
        self.laptop, _ = yield self.online(self.laptop_device)  # one subscription: its inbox
        self.ns = uris.user_namespace(self.alice.user_id)

    @defer.inlineCallbacks
    def assertRefused(self, d: defer.Deferred[Any], uri: str) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield d
        self.assertEqual(caught.exception.error, uri)
        return caught.exception

    @defer.inlineCallbacks
    def test_a_subscription_flood_is_refused_past_the_cap_and_the_session_goes_on(self) -> Any:
        subs = []
        for i in range(4):
            subs.append((yield self.laptop.subscribe(lambda *a: None, f"{self.ns}t{i}")))
        refusal = yield self.assertRefused(
            self.laptop.subscribe(lambda *a: None, f"{self.ns}t-too-many"),
            uris.ERR_TOO_MANY_SUBSCRIPTIONS)
        self.assertEqual(refusal.kwargs["max_subscriptions"], 5)
        # Still usable: calls work, and a freed slot can be used again.
        yield self.laptop.call(uris.PRESENCE_SESSIONS)
        yield subs[0].unsubscribe()
        yield self.laptop.subscribe(lambda *a: None, f"{self.ns}t-again")

    @defer.inlineCallbacks
    def test_registrations_are_capped_per_session(self) -> Any:
        for i in range(3):
            yield self.laptop.register(lambda i=i: i, f"{self.ns}p{i}")
        yield self.assertRefused(self.laptop.register(lambda: 0, f"{self.ns}p-too-many"),
                                 uris.ERR_TOO_MANY_REGISTRATIONS)
        self.assertEqual((yield self.laptop.call(f"{self.ns}p2")), 2)

    @defer.inlineCallbacks
    def test_calls_in_flight_are_capped_at_once_and_the_session_goes_on(self) -> Any:
        held: list[defer.Deferred[Any]] = []

        def hang() -> defer.Deferred[Any]:
            held.append(defer.Deferred())
            return held[-1]

        for name in ("bot-a", "bot-b"):  # two callees that answer only when told
            bot, _ = yield self.online((yield self.device(self.alice, name)))
            yield bot.register(hang, f"{self.ns}{name}")
        calls = [self.laptop.call(self.ns + "bot-a") for _ in range(2)]
        # bot-a has two unanswered invocations: another caller is told it is busy.
        phone, _ = yield self.online((yield self.device(self.alice, "phone")))
        yield self.assertRefused(phone.call(self.ns + "bot-a"), uris.ERR_CALLEE_BUSY)
        # With four calls of its own unanswered, the laptop's fifth is refused at once.
        calls += [self.laptop.call(self.ns + "bot-b") for _ in range(2)]
        refusal = yield self.assertRefused(self.laptop.call(uris.PRESENCE_SESSIONS),
                                           uris.ERR_TOO_MANY_CALLS)
        self.assertEqual(refusal.kwargs["max_calls"], 4)
        while len(held) < 4:  # every invocation has reached its bot
            yield phone.call(uris.PRESENCE_SESSIONS)
        for d in held:
            d.callback("done")
        self.assertEqual((yield defer.gatherResults(calls)), ["done"] * 4)
        yield self.laptop.call(uris.PRESENCE_SESSIONS)  # answered: the session carries on

    @defer.inlineCallbacks
    def test_over_long_uris_are_refused_in_every_request(self) -> Any:
        long = self.ns + "x" * 40  # the namespace is 70 characters
        yield self.assertRefused(self.laptop.call(long), uris.ERR_URI_TOO_LONG)
        yield self.assertRefused(self.laptop.subscribe(lambda: None, long),
                                 uris.ERR_URI_TOO_LONG)
        yield self.assertRefused(self.laptop.register(lambda: None, long),
                                 uris.ERR_URI_TOO_LONG)
        yield self.assertRefused(
            self.laptop.publish(long, options=PublishOptions(acknowledge=True)),
            uris.ERR_URI_TOO_LONG)
        yield self.laptop.call(uris.PRESENCE_SESSIONS)  # the session carries on

    @defer.inlineCallbacks
    def test_an_over_long_realm_aborts_the_handshake(self) -> Any:
        client = yield self.raw()
        client.sendMessage(b'[1, "' + b"r" * 101 + b'", {"roles": {"caller": {}}}]')
        yield client.closed
        abort = client.received[-1]
        self.assertEqual(abort[0], 3)  # ABORT
        self.assertEqual(abort[2], uris.WAMP_PROTOCOL_VIOLATION)
        self.assertIn("longer than 100", abort[1]["message"])

    @defer.inlineCallbacks
    def raw(self) -> Any:
        factory = WebSocketClientFactory(self.url, protocols=["wamp.2.json"])
        factory.protocol = RawClient
        port = int(self.url.rsplit(":", 1)[1])
        client = yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        yield client.opened
        return client


class CostAndLoggingTests(RelayTestCase):
    use_clock = True  # the session's token bucket does not refill during the test
    config = RelayConfig(session_rate=100.0, session_burst=1000.0, call_cost_items=10)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.laptop, _ = yield self.online((yield self.device(self.alice, "alice-laptop")))

    @defer.inlineCallbacks
    def test_a_large_presence_declaration_costs_by_its_length(self) -> Any:
        contacts = [os.urandom(32).hex() for _ in range(5000)]  # 501 tokens of 1000
        yield self.laptop.call(uris.PRESENCE_DECLARE, contacts)
        with self.assertRaises(ApplicationError) as caught:
            yield self.laptop.call(uris.PRESENCE_DECLARE, contacts)
        self.assertEqual(caught.exception.error, uris.ERR_RATE_LIMITED)
        self.assertGreater(caught.exception.kwargs["retry_after"], 0.0)
        # Small calls still go through on what is left.
        yield self.laptop.call(uris.PRESENCE_DECLARE, contacts[:10])
        yield self.laptop.call(uris.PRESENCE_SESSIONS)

    @defer.inlineCallbacks
    def test_refusals_are_logged_once_a_minute_per_session(self) -> Any:
        lines: list[dict[str, Any]] = []

        def observe(event: dict[str, Any]) -> None:
            if event.get("log_namespace", "").startswith("securechat.relay") and \
                    "refused" in event.get("log_format", ""):
                lines.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        for _ in range(50):
            yield self.laptop.call(uris.ACCOUNT_REGISTER).addErrback(
                lambda f: f.trap(ApplicationError))
        self.assertEqual(len(lines), 1)
        self.clock.advance(self.config.refusal_log_interval)
        yield self.laptop.call(uris.ACCOUNT_REGISTER).addErrback(
            lambda f: f.trap(ApplicationError))
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[1]["unlogged"], 49)
