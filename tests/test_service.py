"""The relay as users run it: `twistd securechat-relay`, over TCP and TLS."""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from twisted.internet import defer, endpoints, protocol, reactor, ssl
from twisted.python.filepath import FilePath
from twisted.trial import unittest

from securechat.client.wamp import Anonymous, JoinRefused, connect
from securechat.protocol import uris
from securechat.relay import devcert, testing
from tests.support import RelayTestCase

# twistd stops the reactor on SIGTERM, then (Twisted >= 24) ends by that same signal.
STOPPED_CLEANLY = ((0, None), (None, signal.SIGTERM))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TwistdProcess(protocol.ProcessProtocol):
    """Runs twistd; `listening` fires when the relay logs that it listens."""

    def __init__(self) -> None:
        self.output = b""
        self.listening: defer.Deferred[None] = defer.Deferred()
        self.ended: defer.Deferred[tuple[int | None, int | None]] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if b"relay listening on" in self.output and not self.listening.called:
            self.listening.callback(None)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        if not self.listening.called:
            self.listening.errback(RuntimeError(self.output.decode(errors="replace")))
        self.ended.callback((reason.value.exitCode, reason.value.signal))


class TwistdTests(unittest.TestCase):
    def run_twistd(self, *args: str) -> TwistdProcess:
        proc = TwistdProcess()
        reactor.spawnProcess(proc, TWISTD, [TWISTD, "-n", "--pidfile=", "securechat-relay", *args],
                             env=os.environ.copy())
        return proc

    @defer.inlineCallbacks
    def test_help_lists_every_option(self) -> Any:
        proc = self.run_twistd("--help")
        proc.listening.addErrback(lambda _: None)  # it never listens: it only prints
        yield proc.ended
        text = proc.output.decode()
        for option in ("--listen", "--db", "--max-message-bytes", "--mailbox-ttl",
                       "--turn-secret-file", "--turn-uri", "--session-rate", "--max-devices",
                       "--trusted-proxy", "--proxy-protocol", "--max-sessions-per-address",
                       "--max-connections", "--anonymous-idle-timeout"):
            self.assertIn(option, text)

    @defer.inlineCallbacks
    def test_twistd_serves_and_keeps_accounts_across_a_restart(self) -> Any:
        db = self.mktemp() + ".sqlite"
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        args = ["--listen", f"tcp:{port}:interface=127.0.0.1", "--db", db]
        proc = self.run_twistd(*args)
        yield proc.listening
        account = yield testing.register_account(reactor, url, "alice@example.org", "pw-12345678")
        proc.transport.signalProcess("TERM")
        self.assertIn((yield proc.ended), STOPPED_CLEANLY)
        proc = self.run_twistd(*args)
        yield proc.listening
        device = yield testing.enroll_device(reactor, url, account)  # the account survived
        session = yield testing.connect_device(reactor, url, device)
        self.assertEqual(session.details.authid, device.device_id)
        yield testing.leave(session)
        proc.transport.signalProcess(signal.SIGTERM)
        self.assertIn((yield proc.ended), STOPPED_CLEANLY)
        log = proc.output.decode()
        self.assertIn("authenticated as", log)
        self.assertNotIn("pw-12345678", log)


class TLSTests(RelayTestCase):
    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        tls_dir = FilePath(self.mktemp())
        cert, key = devcert.write_certificate(tls_dir.path, ["127.0.0.1"])
        self.cert_pem = FilePath(cert).getContent()
        self.relay, _ = yield testing.start_relay(
            reactor, self.db_path, self.config,
            listen=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        self.addCleanup(self._stop, self.relay)
        self.port = self.relay.ports[0].getHost().port

    @defer.inlineCallbacks
    def test_clients_join_over_tls_trusting_the_dev_certificate(self) -> Any:
        trust = ssl.optionsForClientTLS(
            "127.0.0.1", trustRoot=ssl.Certificate.loadPEM(self.cert_pem))
        endpoint = endpoints.wrapClientTLS(
            trust, endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", self.port))
        session = yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous(),
                                endpoint=endpoint)
        self.sessions.append(session)
        self.assertTrue(session.details.transport.is_secure)

    @defer.inlineCallbacks
    def test_a_client_that_does_not_trust_the_certificate_cannot_connect(self) -> Any:
        endpoint = endpoints.wrapClientTLS(
            ssl.optionsForClientTLS("127.0.0.1"),
            endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", self.port))
        with self.assertRaises(JoinRefused) as caught:
            yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous(),
                          endpoint=endpoint)
        self.assertEqual(caught.exception.reason, uris.ERR_CONNECTION_FAILED)


class DevcertTests(unittest.TestCase):
    def test_key_file_is_private_to_its_owner(self) -> None:
        _, key = devcert.write_certificate(self.mktemp(), ["localhost"])
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
