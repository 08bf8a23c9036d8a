"""A base TestCase that runs a real relay on a loopback port for each test."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from securechat import testing
from securechat.client.wamp import Credentials, JoinRefused, RelaySession, connect
from securechat.protocol.envelope import outgoing
from securechat.relay.config import RelayConfig
from securechat.relay.service import RelayService


class RelayTestCase(unittest.TestCase):
    """Starts a relay (optionally on a `task.Clock` for its policies) before each test."""

    config = RelayConfig()
    use_clock = False  # True: TTLs and rate limits run on self.clock, advanced by the test

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.clock = task.Clock() if self.use_clock else None
        self.db_path = os.path.join(self.mktemp() + ".sqlite")
        os.makedirs(os.path.dirname(os.path.abspath(self.db_path)), exist_ok=True)
        self.sessions: list[RelaySession] = []
        yield self.start_relay()

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        self.relay, self.url = yield testing.start_relay(
            reactor, self.db_path, self.config, clock=self.clock)
        self.addCleanup(self._stop, self.relay)

    def _stop(self, relay: RelayService) -> Any:
        if relay.running:
            return relay.stopService()
        return None

    @defer.inlineCallbacks
    def restart_relay(self) -> Any:
        """Stop the relay (closing every session) and start a new one on the same file."""
        yield self.relay.stopService()
        yield defer.gatherResults([s.disconnected for s in self.sessions])
        yield self.start_relay()

    @defer.inlineCallbacks
    def tearDown(self) -> Any:
        for session in self.sessions:
            if session.is_attached():
                session.leave()
        yield defer.gatherResults([s.disconnected for s in self.sessions])

    # --- clients ---------------------------------------------------------------

    @defer.inlineCallbacks
    def join(self, credentials: Credentials, serializer: str = "msgpack") -> Any:
        session = yield connect(reactor, self.url, credentials, serializer)
        self.sessions.append(session)
        return session

    @defer.inlineCallbacks
    def refused(self, credentials: Credentials, serializer: str = "msgpack") -> Any:
        """Try to join; return the JoinRefused (the test fails if the join succeeds)."""
        try:
            session = yield connect(reactor, self.url, credentials, serializer)
        except JoinRefused as e:
            return e
        self.sessions.append(session)
        self.fail(f"{credentials!r} joined but should have been refused")

    def account(self, email: str, password: str = "pw " + "x" * 8) -> defer.Deferred[Any]:
        return testing.register_account(reactor, self.url, email, password)

    def device(self, account: testing.TestAccount, device_id: str | None = None) -> Any:
        return testing.enroll_device(reactor, self.url, account, device_id)

    @defer.inlineCallbacks
    def online(self, device: testing.TestDevice, serializer: str = "msgpack") -> Any:
        """Join as the device; returns (session, inbox) where inbox collects envelopes."""
        session = yield self.join(device.key, serializer)
        inbox = Inbox()
        yield session.subscribe(inbox.received, f"sc.inbox.{device.device_id}")
        return session, inbox

    def assertRefusedWith(self, failure_or_error: Any, uri: str) -> None:
        error = getattr(failure_or_error, "value", failure_or_error)
        self.assertEqual(getattr(error, "error", getattr(error, "reason", None)), uri, error)


class Inbox:
    """Collects events from one topic; `next()` waits for the next one."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._waiting: list[defer.Deferred[Any]] = []
        self._taken = 0

    def received(self, event: Any) -> None:
        self.events.append(event)
        while self._waiting and self._taken < len(self.events):
            self._waiting.pop(0).callback(self.events[self._taken])
            self._taken += 1

    def next(self) -> defer.Deferred[Any]:
        if self._taken < len(self.events):
            self._taken += 1
            return defer.succeed(self.events[self._taken - 1])
        d: defer.Deferred[Any] = defer.Deferred()
        self._waiting.append(d)
        return d


def envelope(device: testing.TestDevice, body: bytes | str = b"ciphertext") -> dict[str, Any]:
    return outgoing(device.device_id, 1, "olm.v1", 1, body)
