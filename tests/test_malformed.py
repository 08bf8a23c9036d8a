"""Malformed input aborts only the session that sent it; everyone else carries on."""

from __future__ import annotations

import json
from typing import Any

import cbor2
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, endpoints, reactor

from securechat.client.wamp import Anonymous
from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase

HELLO = [1, "securechat", {"roles": {"caller": {}}, "authmethods": ["anonymous"]}]


class RawClient(WebSocketClientProtocol):
    """A WebSocket client that sends whatever bytes a test gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: defer.Deferred[None] = defer.Deferred()
        self.closed: defer.Deferred[tuple[bool, int | None, str | None]] = defer.Deferred()
        self.received: list[Any] = []

    def onOpen(self) -> None:
        self.opened.callback(None)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.received.append(cbor2.loads(payload) if isBinary else json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.opened.called:
            self.opened.errback(ConnectionError(reason))
        self.closed.callback((wasClean, code, reason))


class MalformedInputTests(RelayTestCase):
    config = RelayConfig(max_message_bytes=64 * 1024)

    @defer.inlineCallbacks
    def raw(self, protocol: str = "wamp.2.json") -> Any:
        factory = WebSocketClientFactory(self.url, protocols=[protocol])
        factory.protocol = RawClient
        port = int(self.url.rsplit(":", 1)[1])
        client = yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        yield client.opened
        return client

    @defer.inlineCallbacks
    def assertAbortedFor(self, payloads: list[bytes], message: str,
                         protocol: str = "wamp.2.json", binary: bool = False) -> Any:
        """Send the payloads on a fresh connection; expect a protocol-violation ABORT."""
        bystander = yield self.join(Anonymous())
        client = yield self.raw(protocol)
        for payload in payloads:
            client.sendMessage(payload, isBinary=binary)
        yield client.closed
        reply = client.received[-1]
        self.assertIn(reply[0], (3, 6))  # ABORT, or GOODBYE if a HELLO got a WELCOME
        self.assertEqual(reply[2], uris.WAMP_PROTOCOL_VIOLATION)
        self.assertIn(message, reply[1]["message"])
        # The relay still serves everyone else, old sessions and new.
        refusal = yield bystander.call(uris.ACCOUNT_REGISTER, "x", "y", {}, "z").addErrback(
            lambda f: f.value.error)
        self.assertEqual(refusal, uris.ERR_INVALID_ARGUMENT)
        other = yield self.join(Anonymous())
        self.assertTrue(other.is_attached())

    def test_text_that_is_not_json(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b"this is not json"], "undecodable json")

    @defer.inlineCallbacks
    def test_text_that_is_not_utf8_closes_with_1007(self) -> Any:
        client = yield self.raw()
        client.sendMessage(b"\xff\xfe not utf-8")
        _, code, _ = yield client.closed
        self.assertEqual(code, 1007)  # "invalid frame payload data"

    def test_json_that_is_not_a_wamp_message(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b'{"hello": "world"}'], "must be a non-empty array")

    def test_unknown_message_type(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b"[99, {}]"], "unknown WAMP message type 99")

    def test_message_type_only_routers_send(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b"[36, 1, 2, {}]"], "EVENT is sent by routers")

    def test_wrong_field_types_in_hello(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b'[1, 123, {"roles": {}}]'], "HELLO.realm has the wrong type")

    def test_wrong_field_types_after_welcome(self) -> defer.Deferred[Any]:
        return self._after_welcome(b'[48, "one", {}, "sc.account.register"]',
                                   "CALL.request has the wrong type")

    def test_too_many_fields(self) -> defer.Deferred[Any]:
        return self._after_welcome(b'[32, 1, {}, "sc.x", [], {}]', "SUBSCRIBE must have 4 to 4")

    def test_second_hello_on_one_connection(self) -> defer.Deferred[Any]:
        hello = json.dumps(HELLO).encode()
        return self._after_welcome(hello, "HELLO is not allowed in an established session")

    def test_call_before_hello(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b'[48, 1, {}, "sc.account.register"]'],
                                     "CALL is not allowed before the session is established")

    def test_hello_flood(self) -> defer.Deferred[Any]:
        hello = json.dumps(HELLO).encode()
        return self.assertAbortedFor([hello] * 50, "not allowed")

    def test_binary_frame_on_json(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b"[1]"], "binary WebSocket message on a text serializer",
                                     binary=True)

    def test_cbor_that_is_not_cbor(self) -> defer.Deferred[Any]:
        return self.assertAbortedFor([b"\xff\xff\xff"], "undecodable cbor",
                                     protocol="wamp.2.cbor", binary=True)

    @defer.inlineCallbacks
    def test_oversized_message_closes_with_1009_and_others_carry_on(self) -> Any:
        bystander = yield self.join(Anonymous())
        client = yield self.raw()
        client.sendMessage(b"[" + b" " * (64 * 1024) + b"]")
        _, code, _ = yield client.closed
        self.assertEqual(code, 1009)  # "message too big"
        refusal = yield bystander.call(uris.ACCOUNT_REGISTER, "x", "y", {}, "z").addErrback(
            lambda f: f.value.error)
        self.assertEqual(refusal, uris.ERR_INVALID_ARGUMENT)

    @defer.inlineCallbacks
    def test_unknown_subprotocol_is_refused_at_the_handshake(self) -> Any:
        with self.assertRaises(ConnectionError):
            yield self.raw("wamp.2.xml")

    @defer.inlineCallbacks
    def _after_welcome(self, payload: bytes, message: str) -> Any:
        bystander = yield self.join(Anonymous())
        client = yield self.raw()
        client.sendMessage(json.dumps(HELLO).encode())
        client.sendMessage(payload)
        yield client.closed
        self.assertEqual(client.received[0][0], 2)  # WELCOME
        goodbye = client.received[-1]
        self.assertEqual(goodbye[0], 6)  # GOODBYE
        self.assertEqual(goodbye[2], uris.WAMP_PROTOCOL_VIOLATION)
        self.assertIn(message, goodbye[1]["message"])
        self.assertTrue(bystander.is_attached())


class HelloTimeoutTests(RelayTestCase):
    use_clock = True

    @defer.inlineCallbacks
    def test_a_connection_that_never_authenticates_is_closed(self) -> Any:
        factory = WebSocketClientFactory(self.url, protocols=["wamp.2.json"])
        factory.protocol = RawClient
        port = int(self.url.rsplit(":", 1)[1])
        client = yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        yield client.opened
        yield self.join(Anonymous())  # by now the relay has seen the silent connection open
        self.clock.advance(self.config.hello_timeout)
        yield client.closed
        self.assertEqual(client.received[-1][:3],
                         [3, {"message": "no successful authentication in time"},
                          uris.ERR_AUTH_TIMEOUT])


class DeadPeerTests(RelayTestCase):
    # autobahn quantizes its timers to whole seconds: keep these >= 1 s apart.
    config = RelayConfig(ping_interval=1, ping_timeout=2)

    @defer.inlineCallbacks
    def test_a_peer_that_stops_answering_pings_is_dropped(self) -> Any:
        bystander = yield self.join(Anonymous())
        client = yield self.raw_welcomed()
        closed = next(s for s in self.relay.router.sessions.values()
                      if s.id != bystander._session_id).closed
        client.transport.pauseProducing()  # reads nothing more, so never pongs
        yield closed
        self.assertNotIn(client, self.relay.router.sessions.values())
        self.assertTrue(bystander.is_attached())
        client.transport.resumeProducing()
        yield client.closed

    @defer.inlineCallbacks
    def raw_welcomed(self) -> Any:
        factory = WebSocketClientFactory(self.url, protocols=["wamp.2.json"])
        factory.protocol = RawClient
        port = int(self.url.rsplit(":", 1)[1])
        client = yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        yield client.opened
        client.welcomed = defer.Deferred()
        received = client.onMessage

        def on_message(payload: bytes, is_binary: bool) -> None:
            received(payload, is_binary)
            if not client.welcomed.called:
                client.welcomed.callback(None)

        client.onMessage = on_message
        client.sendMessage(json.dumps(HELLO).encode())
        yield client.welcomed
        return client


class RegistrationLimitTests(RelayTestCase):
    use_clock = True
    config = RelayConfig(register_rate=0.1, register_burst=2)

    @defer.inlineCallbacks
    def test_anonymous_registration_is_rate_limited_per_address(self) -> Any:
        yield self.account("a@example.org")
        yield self.account("b@example.org")
        with self.assertRaises(ApplicationError) as caught:
            yield self.account("c@example.org")
        self.assertEqual(caught.exception.error, uris.ERR_RATE_LIMITED)
        self.assertEqual(caught.exception.kwargs, {"retry_after": 10.0})
        self.clock.advance(10)
        yield self.account("c@example.org")
