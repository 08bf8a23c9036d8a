"""TURN credentials in coturn's REST format, checked independently of the relay's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import subprocess
import sys
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.trial import unittest

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase

SECRET = "coturn static auth secret"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


class TurnConfCommandTests(unittest.TestCase):
    """`securechat-turnconf` (python -m securechat.relay.turnconf) as a real process."""

    def run_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "securechat.relay.turnconf", *args],
                              capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=ROOT))

    def test_writes_a_config_with_a_new_secret_readable_only_by_its_owner(self) -> None:
        directory = os.path.abspath(self.mktemp())
        secret_file, conf = os.path.join(directory, "secret"), os.path.join(directory, "c")
        done = self.run_command("--secret-file", secret_file, "--out", conf, "--port", "3479")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "turn:127.0.0.1:3479?transport=udp")
        with open(secret_file) as f:
            secret = f.read().strip()
        self.assertGreaterEqual(len(secret), 32)
        with open(conf) as f:
            lines = f.read().splitlines()
        for line in ("use-auth-secret", f"static-auth-secret={secret}", "no-tls", "no-dtls",
                     "no-cli", "listening-ip=127.0.0.1", "listening-port=3479"):
            self.assertIn(line, lines)
        self.assertNotIn("allow-loopback-peers", lines)  # only when asked: never in production
        # A caller cannot make it relay into the private network it sits in.
        for line in ("denied-peer-ip=10.0.0.0-10.255.255.255",
                     "denied-peer-ip=192.168.0.0-192.168.255.255",
                     "allowed-peer-ip=127.0.0.1"):
            self.assertIn(line, lines)
        for path in (secret_file, conf):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
        # Run again: the same secret (the relay keeps using it), loopback peers on request.
        again = self.run_command("--secret-file", secret_file, "--out", conf, "--loopback")
        self.assertEqual(again.returncode, 0, again.stderr)
        with open(conf) as f:
            text = f.read()
        self.assertIn(f"static-auth-secret={secret}\n", text)
        self.assertIn("allow-loopback-peers\n", text)

    def test_a_bad_port_range_is_refused(self) -> None:
        directory = os.path.abspath(self.mktemp())
        done = self.run_command("--secret-file", os.path.join(directory, "s"), "--out",
                                os.path.join(directory, "c"), "--min-port", "50000",
                                "--max-port", "40000")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--min-port and --max-port must be a range of ports", done.stderr)
