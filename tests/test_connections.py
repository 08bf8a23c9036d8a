"""Connection exhaustion (review M2): per-address and global caps counted from TCP
accept, anonymous sessions that do not linger, and trusted reverse proxies.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a client socket bound
to 127.0.0.2 is "another address" to the relay.
"""

from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import MsgPackSerializer
from twisted.internet import defer, endpoints, protocol, reactor, threads
from twisted.protocols import policies
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial import unittest

from securechat import testing
from securechat.client import wamp
from securechat.client.wamp import Anonymous, Credentials, JoinRefused, RelaySession
from securechat.protocol import uris
from securechat.relay import devcert, tap
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase

HERE, ELSEWHERE, PROXY = "127.0.0.1", "127.0.0.2", "127.0.0.3"


class _Silent(protocol.Protocol):
    """Connects and never says a word (a slowloris socket)."""

    def connectionMade(self) -> None:
        self.factory.connected.append(self)


class _ProxyHeader(policies.ProtocolWrapper):
    """Writes a PROXY protocol v1 header before the wrapped client speaks."""

    def makeConnection(self, transport: Any) -> None:
        transport.write(self.factory.header)
        super().makeConnection(transport)


class _ProxyHeaderFactory(policies.WrappingFactory):
    protocol = _ProxyHeader

    def __init__(self, wrapped: Any, header: bytes) -> None:
        super().__init__(wrapped)
        self.header = header


class ConnectionTestCase(RelayTestCase):
    use_clock = True  # the anonymous idle timeout runs on self.clock

    @property
    def port(self) -> int:
        return self.relay.ports[0].getHost().port

    def endpoint_from(self, source: str) -> Any:
        return endpoints.TCP4ClientEndpoint(reactor, HERE, self.port, bindAddress=(source, 0))

    def dial(self, source: str = HERE, credentials: Credentials | None = None,
             headers: dict[str, str] | None = None,
             proxy_header: bytes | None = None) -> defer.Deferred[RelaySession]:
        """Join from `source`, optionally with HTTP headers or a PROXY header first."""
        session = RelaySession(credentials or Anonymous())
        factory = WampWebSocketClientFactory(lambda: session, url=self.url, headers=headers,
                                             serializers=[MsgPackSerializer()])
        factory.protocol = wamp._ClientProtocol  # turns an early close into JoinRefused
        factory.pending_session = session
        factory.noisy = False
        if proxy_header is not None:
            factory = _ProxyHeaderFactory(factory, proxy_header)
        d = self.endpoint_from(source).connect(factory)
        d.addCallback(lambda _: session.joined)

        def joined(s: RelaySession) -> RelaySession:
            self.sessions.append(s)
            return s
        d.addCallback(joined)
        return d

    @defer.inlineCallbacks
    def refused_from(self, source: str = HERE, **kwargs: Any) -> Any:
        try:
            session = yield self.dial(source, **kwargs)
        except JoinRefused as e:
            self.assertEqual(e.reason, uris.ERR_CONNECTION_FAILED)
            return e
        self.fail(f"{session} joined from {source} but should have been refused")

    @defer.inlineCallbacks
    def silent_sockets(self, count: int, source: str = HERE) -> Any:
        factory = protocol.ClientFactory.forProtocol(_Silent)
        factory.connected = []
        for _ in range(count):
            yield self.endpoint_from(source).connect(factory)
        self.addCleanup(lambda: [p.transport.abortConnection() for p in factory.connected])
        return factory.connected

    def peers(self) -> list[str]:
        """The client address of every welcomed session, as the relay sees it."""
        return sorted(s.peer for s in self.relay.router.sessions.values())


class PerAddressCapTests(ConnectionTestCase):
    config = RelayConfig(max_sessions_per_address=4, max_pending_handshakes=3)

    @defer.inlineCallbacks
    def test_one_address_at_its_cap_does_not_lock_out_another(self) -> Any:
        account = yield self.account("alice@example.org")
        device = yield self.device(account)
        yield self.dial(HERE, device.key)
        for _ in range(3):
            yield self.dial(HERE)  # anonymous sessions count too
        refusal = yield self.refused_from(HERE)
        self.assertIn("too many connections from this address", str(refusal))
        refusal = yield self.refused_from(HERE, credentials=device.key)
        session = yield self.dial(ELSEWHERE)
        self.assertEqual(session.details.authrole, uris.ROLE_ANONYMOUS)
        self.assertEqual(self.peers().count(ELSEWHERE), 1)

    @defer.inlineCallbacks
    def test_sockets_that_never_upgrade_count_from_accept(self) -> Any:
        silent = yield self.silent_sockets(3)
        refusal = yield self.refused_from(HERE)  # three pending already
        self.assertIn("unauthenticated", str(refusal))
        yield self.dial(ELSEWHERE)
        silent[0].transport.loseConnection()
        # Welcomed sessions are not pending: three half-open sockets and one session
        # fill the cap of four.
        yield self.wait_for(lambda: self.relay.router.connections.per_address(HERE) == (2, 2))
        yield self.dial(HERE)
        yield self.silent_sockets(1)
        refusal = yield self.refused_from(HERE)
        self.assertIn("too many connections from this address", str(refusal))

    def wait_for(self, condition: Any) -> defer.Deferred[None]:
        """Fires once the relay (on this reactor) has made `condition` true; the relay
        learns of a closed socket only on its next turn."""
        d: defer.Deferred[None] = defer.Deferred()

        def check() -> None:
            if condition():
                d.callback(None)
            else:
                reactor.callLater(0, check)
        check()
        return d


class GlobalCapTests(ConnectionTestCase):
    config = RelayConfig(max_connections=3)

    @defer.inlineCallbacks
    def test_a_full_relay_refuses_newcomers_and_keeps_serving_its_users(self) -> Any:
        account = yield self.account("alice@example.org")
        device = yield self.device(account)
        session = yield self.dial(HERE, device.key)
        yield self.silent_sockets(2, ELSEWHERE)
        refusal = yield self.refused_from(PROXY)
        self.assertIn("connection limit", str(refusal))
        count = yield session.call(uris.PREKEYS_COUNT)
        self.assertEqual(count, 0)

    def test_the_cap_stays_below_the_file_descriptor_limit(self) -> None:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        default = RelayConfig()
        relay_cap = self.relay.router.connections.max_connections
        self.assertEqual(relay_cap, 3)  # configured below the limit: as configured
        from securechat.relay.connections import Connections
        self.assertEqual(Connections(default).max_connections, soft - default.fd_reserve)
        huge = RelayConfig(max_connections=soft * 10)
        self.assertEqual(Connections(huge).max_connections, soft - default.fd_reserve)


class AnonymousSessionTests(ConnectionTestCase):
    @defer.inlineCallbacks
    def test_an_idle_anonymous_session_is_closed(self) -> Any:
        session = yield self.dial()
        self.clock.advance(RelayConfig().anonymous_idle_timeout - 1)
        self.assertTrue(session.is_attached())
        self.clock.advance(2)
        details = yield session.left
        self.assertEqual(details.reason, uris.CLOSE_IDLE)

    @defer.inlineCallbacks
    def test_a_device_session_is_not_closed_for_being_idle(self) -> Any:
        account = yield self.account("alice@example.org")
        device = yield self.device(account)
        session = yield self.dial(HERE, device.key)
        self.clock.advance(RelayConfig().anonymous_idle_timeout * 10)
        count = yield session.call(uris.PREKEYS_COUNT)
        self.assertEqual(count, 0)

    @defer.inlineCallbacks
    def test_an_anonymous_session_ends_once_it_has_registered(self) -> Any:
        account, args = yield threads.deferToThread(testing.registration_args,
                                                    "bob@example.org", "pw " + "x" * 8)
        session = yield self.dial()
        answer = yield session.call(uris.ACCOUNT_REGISTER, *args)
        self.assertEqual(answer, {"user_id": account.user_id})
        details = yield session.left
        self.assertEqual(details.reason, uris.CLOSE_REGISTERED)
        # The account is there: its password signs in.
        enrolled = yield self.device(account)
        self.assertTrue(enrolled.device_id)


class ForwardedForTests(ConnectionTestCase):
    config = RelayConfig(trusted_proxies=(PROXY,), max_sessions_per_address=2)

    @defer.inlineCallbacks
    def test_a_trusted_proxy_names_the_client_by_its_last_untrusted_hop(self) -> Any:
        for _ in range(2):
            # The client wrote the first hop itself; the proxy appended the second.
            yield self.dial(PROXY, headers={"X-Forwarded-For": "192.0.2.99, 203.0.113.7"})
        self.assertEqual(self.peers(), ["203.0.113.7", "203.0.113.7"])
        refusal = yield self.refused_from(
            PROXY, headers={"X-Forwarded-For": f"198.51.100.1, 203.0.113.7, {PROXY}"})
        self.assertIn("too many connections from this address", str(refusal))
        # Other clients of the same proxy are not affected.
        yield self.dial(PROXY, headers={"X-Forwarded-For": "203.0.113.8"})
        self.assertIn("203.0.113.8", self.peers())

    @defer.inlineCallbacks
    def test_ipv6_clients_are_counted_per_64(self) -> Any:
        for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):
            yield self.dial(PROXY, headers={"X-Forwarded-For": host})
        yield self.refused_from(PROXY, headers={"X-Forwarded-For": "2001:db8:1:2::77"})
        yield self.dial(PROXY, headers={"X-Forwarded-For": "2001:db8:1:3::1"})

    @defer.inlineCallbacks
    def test_the_header_of_anyone_else_is_ignored(self) -> Any:
        yield self.dial(HERE, headers={"X-Forwarded-For": "203.0.113.7"})
        yield self.dial(HERE, headers={"X-Forwarded-For": "203.0.113.8"})
        self.assertEqual(self.peers(), [HERE, HERE])
        yield self.refused_from(HERE, headers={"X-Forwarded-For": "203.0.113.9"})


class ProxyProtocolTests(ConnectionTestCase):
    config = RelayConfig(trusted_proxies=(PROXY,), max_sessions_per_address=1)

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        self.relay, self.url = yield testing.start_relay(
            reactor, self.db_path, self.config, clock=self.clock,
            listen="haproxy:tcp:0:interface=127.0.0.1")
        self.addCleanup(self._stop, self.relay)

    @staticmethod
    def header(client: str) -> bytes:
        return f"PROXY TCP4 {client} 127.0.0.1 40000 443\r\n".encode()

    @defer.inlineCallbacks
    def test_the_proxy_header_of_a_trusted_proxy_names_the_client(self) -> Any:
        yield self.dial(PROXY, proxy_header=self.header("198.51.100.1"))
        self.assertEqual(self.peers(), ["198.51.100.1"])
        yield self.refused_from(PROXY, proxy_header=self.header("198.51.100.1"))
        yield self.dial(PROXY, proxy_header=self.header("198.51.100.2"))

    @defer.inlineCallbacks
    def test_anyone_else_sending_a_proxy_header_is_refused(self) -> Any:
        yield self.refused_from(HERE, proxy_header=self.header("198.51.100.1"))
        self.assertEqual(self.peers(), [])


class RegistrationByAddressTests(ConnectionTestCase):
    config = RelayConfig(trusted_proxies=(PROXY,), register_rate=0.001, register_burst=1)

    @defer.inlineCallbacks
    def register_from(self, client: str, email: str) -> Any:
        _, args = yield threads.deferToThread(testing.registration_args, email, "pw " + "x" * 8)
        session = yield self.dial(PROXY, headers={"X-Forwarded-For": client})
        try:
            return (yield session.call(uris.ACCOUNT_REGISTER, *args))
        except ApplicationError as e:
            return e.error

    @defer.inlineCallbacks
    def test_the_registration_limit_counts_an_ipv6_64_and_the_forwarded_client(self) -> Any:
        first = yield self.register_from("2001:db8:5:6::1", "a@example.org")
        self.assertIn("user_id", first)
        again = yield self.register_from("2001:db8:5:6:abcd::2", "b@example.org")
        self.assertEqual(again, uris.ERR_RATE_LIMITED)
        elsewhere = yield self.register_from("2001:db8:5:7::1", "c@example.org")
        self.assertIn("user_id", elsewhere)


class TLSCapTests(ConnectionTestCase):
    config = RelayConfig(max_connections=1)

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        tls_dir = FilePath(self.mktemp())
        self.cert_path, key = devcert.write_certificate(tls_dir.path, ["127.0.0.1"])
        self.relay, _ = yield testing.start_relay(
            reactor, self.db_path, self.config, clock=self.clock,
            listen=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={self.cert_path}")
        self.addCleanup(self._stop, self.relay)
        self.url = f"wss://127.0.0.1:{self.port}"

    @defer.inlineCallbacks
    def test_a_full_tls_relay_closes_newcomers_without_a_handshake(self) -> Any:
        yield self.silent_sockets(1, ELSEWHERE)
        with self.assertRaises(JoinRefused) as caught:
            yield wamp.connect(reactor, self.url, Anonymous(), ca_file=self.cert_path)
        self.assertEqual(caught.exception.reason, uris.ERR_CONNECTION_FAILED)


class OptionsTests(unittest.TestCase):
    def test_trusted_proxies_and_proxy_protocol_on_the_command_line(self) -> None:
        options = tap.Options()
        options.parseOptions(["--listen", "tcp:8080", "--trusted-proxy", "10.0.0.0/8",
                              "--trusted-proxy", "2001:db8::1", "--proxy-protocol",
                              "--max-sessions-per-address", "8",
                              "--email-verification", "off"])
        config = options["config"]
        self.assertEqual(config.trusted_proxies, ("10.0.0.0/8", "2001:db8::1"))
        self.assertEqual(config.max_sessions_per_address, 8)
        self.assertEqual(options["listen"], ["haproxy:tcp:8080"])

    def test_mailbox_shares_and_session_caps_on_the_command_line(self) -> None:
        options = tap.Options()
        options.parseOptions(["--email-verification", "off", "--mailbox-sender-share", "0.5",
                              "--mailbox-stranger-count", "7", "--storage-max-bytes", "1000",
                              "--max-subscriptions", "9", "--max-uri-length", "300"])
        config = options["config"]
        self.assertEqual((config.mailbox_sender_share, config.mailbox_stranger_count,
                          config.storage_max_bytes, config.max_subscriptions,
                          config.max_uri_length), (0.5, 7, 1000, 9, 300))

    def test_proxy_protocol_needs_a_trusted_proxy_and_addresses_must_parse(self) -> None:
        with self.assertRaises(usage.UsageError):
            tap.Options().parseOptions(["--proxy-protocol"])
        with self.assertRaises(usage.UsageError):
            tap.Options().parseOptions(["--trusted-proxy", "proxy.example"])
