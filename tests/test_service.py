"""The relay as users run it: `twistd securechat-relay`, over TCP and TLS."""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from mnemonic import Mnemonic
from twisted.internet import defer, protocol, reactor
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.filepath import FilePath
from twisted.trial import unittest

from securechat import testing
from securechat.bot import SyncingClient
from securechat.client import tls
from securechat.client.core import SecureChatClient
from securechat.client.wamp import Anonymous, JoinRefused, connect
from securechat.protocol import uris
from securechat.relay import devcert
from tests.clientsupport import FAST
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
                       "--email-verification", "--smtp-endpoint", "--smtp-from",
                       "--smtp-starttls", "--smtp-username", "--smtp-password-file",
                       "--min-scram-memory", "--min-scram-iterations",
                       "--trusted-proxy", "--proxy-protocol", "--max-sessions-per-address",
                       "--max-connections", "--anonymous-idle-timeout",
                       "--mailbox-sender-share", "--mailbox-stranger-count",
                       "--mailbox-stranger-bytes", "--storage-max-bytes",
                       "--max-calls-in-flight", "--max-subscriptions", "--max-registrations",
                       "--max-uri-length"):
            self.assertIn(option, text)

    @defer.inlineCallbacks
    def test_twistd_serves_and_keeps_accounts_across_a_restart(self) -> Any:
        db = self.mktemp() + ".sqlite"
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        args = ["--listen", f"tcp:{port}:interface=127.0.0.1", "--db", db,
                "--email-verification", "off", "--min-scram-memory", "8192",
                "--min-scram-iterations", "1"]
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
        self.assertIn("EMAIL VERIFICATION IS OFF", log)  # loud, for a development relay

    @defer.inlineCallbacks
    def test_twistd_refuses_to_start_with_neither_smtp_nor_verification_off(self) -> Any:
        proc = self.run_twistd("--listen", f"tcp:{free_port()}:interface=127.0.0.1",
                               "--db", self.mktemp() + ".sqlite")
        proc.listening.addErrback(lambda _: None)  # it never listens
        status = yield proc.ended
        self.assertNotIn(status, STOPPED_CLEANLY)
        text = proc.output.decode()
        self.assertIn("email verification needs an SMTP server", text)
        self.assertIn("--email-verification off", text)


class TLSRelayTestCase(RelayTestCase):
    """The relay on an ssl: endpoint with a development certificate for 127.0.0.1."""

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        tls_dir = FilePath(self.mktemp())
        cert, key = devcert.write_certificate(tls_dir.path, ["127.0.0.1"])
        self.cert_path = cert
        self.relay, _ = yield testing.start_relay(
            reactor, self.db_path, self.config,
            listen=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        self.addCleanup(self._stop, self.relay)
        self.port = self.relay.ports[0].getHost().port


class TLSTests(TLSRelayTestCase):
    @defer.inlineCallbacks
    def test_clients_join_over_tls_trusting_the_dev_certificate(self) -> Any:
        session = yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous(),
                                ca_file=self.cert_path)
        self.sessions.append(session)
        self.assertTrue(session.details.transport.is_secure)

    @defer.inlineCallbacks
    def test_a_client_that_does_not_trust_the_certificate_is_told_so(self) -> Any:
        with self.assertRaises(JoinRefused) as caught:
            yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous())
        self.assertEqual(caught.exception.reason, uris.ERR_UNTRUSTED_CERTIFICATE)
        self.assertEqual(caught.exception.message, "not signed by a trusted CA")

    @defer.inlineCallbacks
    def test_a_ca_file_that_did_not_sign_the_relays_certificate_is_refused(self) -> Any:
        other = FilePath(self.mktemp())
        other.makedirs()
        cert, _ = devcert.write_certificate(other.path, ["127.0.0.1"])
        with self.assertRaises(JoinRefused) as caught:
            yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous(), ca_file=cert)
        self.assertEqual(caught.exception.reason, uris.ERR_UNTRUSTED_CERTIFICATE)

    @defer.inlineCallbacks
    def test_a_certificate_for_another_host_is_refused(self) -> Any:
        other = FilePath(self.mktemp())
        cert, key = devcert.write_certificate(other.path, ["relay.example"])
        relay, _ = yield testing.start_relay(
            reactor, self.mktemp() + ".sqlite", self.config,
            listen=f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
        self.addCleanup(relay.stopService)
        port = relay.ports[0].getHost().port
        with self.assertRaises(JoinRefused) as caught:
            yield connect(reactor, f"wss://127.0.0.1:{port}", Anonymous(), ca_file=cert)
        self.assertEqual(caught.exception.reason, uris.ERR_UNTRUSTED_CERTIFICATE)
        self.assertIn("another host name", str(caught.exception))

    @defer.inlineCallbacks
    def test_an_unreadable_ca_file_is_a_clear_error(self) -> Any:
        with self.assertRaises(tls.BadCaFile) as caught:
            yield connect(reactor, f"wss://127.0.0.1:{self.port}", Anonymous(),
                          ca_file=self.mktemp())
        self.assertIn("cannot read the CA file", str(caught.exception))


class TLSEndToEndTests(TLSRelayTestCase):
    """A user's whole path over wss:// with the development certificate: the client
    core (register, open, online) and the CLI, with --ca-file and without."""

    @property
    def wss(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    @defer.inlineCallbacks
    def test_the_client_core_registers_and_goes_online_trusting_the_ca_file(self) -> Any:
        data_dir = self.mktemp()
        client, _ = yield SecureChatClient.register(
            reactor, data_dir, self.wss, "alice@example.org", "alice-password-1", cost=FAST,
            ca_file=self.cert_path)
        yield client.stop()
        client = yield SyncingClient.open(reactor, data_dir, self.wss, "alice@example.org",
                                          "alice-password-1", ca_file=self.cert_path)
        self.addCleanup(client.stop)
        client.start()
        yield client.caught_up()
        self.assertTrue(client.connection.session.details.transport.is_secure)

    @defer.inlineCallbacks
    def test_the_client_core_without_the_ca_file_is_told_why(self) -> Any:
        with self.assertRaises(JoinRefused) as caught:
            yield SecureChatClient.register(reactor, self.mktemp(), self.wss,
                                            "alice@example.org", "alice-password-1", cost=FAST)
        self.assertEqual(caught.exception.reason, uris.ERR_UNTRUSTED_CERTIFICATE)

    @defer.inlineCallbacks
    def test_the_cli_over_wss_with_and_without_ca_file(self) -> Any:
        home = self.mktemp()

        def cli(command: str, *args: str, ca_file: str | None = None,
                device: str = "laptop") -> Any:
            trust = ["--ca-file", ca_file] if ca_file else []
            return getProcessOutputAndValue(sys.executable, [
                "-m", "securechat.cli", "--relay", self.wss, *trust,
                "--data-dir", os.path.join(home, device),
                "--kdf-memory", "8192", "--timeout", "20", command,
                "--email", "alice@example.org", *args],
                env=dict(os.environ, SECURECHAT_PASSWORD="alice-password-1",
                         SECURECHAT_RECOVERY_PHRASE=Mnemonic("english").generate(128),
                         PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))

        out, err, code = yield cli("register", ca_file=self.cert_path)
        self.assertEqual(code, 0, err)
        self.assertIn(b"Registered alice@example.org", out)
        self.assertNotIn(b"warning", err)  # it caught up over wss:// too
        out, err, code = yield cli("add-friend", "--friend", "alice@example.org")
        self.assertEqual(code, 1)
        (line,) = err.decode().splitlines()
        self.assertIn("the relay's certificate is not trusted: pass --ca-file", line)
        out, err, code = yield cli("login", device="phone")  # the refusal comes at once
        self.assertEqual(code, 1)
        (line,) = err.decode().splitlines()
        self.assertIn("the relay's certificate is not trusted: pass --ca-file", line)


class DevcertTests(unittest.TestCase):
    def test_key_file_is_private_to_its_owner(self) -> None:
        _, key = devcert.write_certificate(self.mktemp(), ["localhost"])
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
