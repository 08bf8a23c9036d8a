"""The connection lifecycle on a fake clock: backoff, "Retry now", stop, fatal refusals.

The dial function is the machine's edge to the network; here each dial hands back a
Deferred the test fires, so the states can be walked without a relay.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.internet import defer, task
from twisted.trial import unittest

from securechat.client.connection import Backoff, ConnectionMachine
from securechat.client.events import ConnectionStateChanged
from securechat.client.wamp import JoinRefused
from securechat.protocol import uris


class FakeSession:
    """What the machine needs of a joined session: `left`, `is_attached`, `leave`."""

    def __init__(self) -> None:
        self.left: defer.Deferred[Any] = defer.Deferred()
        self.attached = True

    def is_attached(self) -> bool:
        return self.attached

    def leave(self) -> None:
        self.attached = False


class ConnectionMachineTests(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = task.Clock()
        self.dials: list[defer.Deferred[Any]] = []
        self.states: list[ConnectionStateChanged] = []
        self.onlines: list[Any] = []
        self.catch_up_at_once = True  # the catch-up (mailbox, outbox) has nothing to do
        self.machine = ConnectionMachine(
            self.clock, self._dial, self._online, self._event,
            Backoff(base=1.0, cap=8.0, rng=random.Random(7)))

    def _online(self, session: Any) -> None:
        self.onlines.append(session)
        if self.catch_up_at_once:
            self.machine.caught_up()

    def _event(self, event: object) -> None:
        if isinstance(event, ConnectionStateChanged):
            self.states.append(event)

    def _dial(self) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self.dials.append(d)
        return d

    def test_failed_dials_back_off_and_retry_now_skips_the_wait(self) -> None:
        self.machine.start()
        self.dials[-1].errback(ConnectionRefusedError("refused"))
        waiting = self.states[-1]
        self.assertEqual(waiting.state, "offline")
        self.assertGreater(waiting.retry_in, 0)
        self.assertEqual(len(self.dials), 1)
        self.machine.retry_now()  # the user's "Retry now": no waiting for the timer
        self.assertEqual(len(self.dials), 2)
        self.assertEqual(self.states[-1].state, "connecting")
        self.clock.advance(60)  # the cancelled timer must not dial again
        self.assertEqual(len(self.dials), 2)
        session = FakeSession()
        self.dials[-1].callback(session)
        self.assertEqual(self.states[-1].state, "online")
        self.assertEqual(self.onlines, [session])
        self.machine.retry_now()  # online: nothing to hurry
        self.assertEqual(len(self.dials), 2)

    def test_syncing_until_caught_up_then_online(self) -> None:
        self.catch_up_at_once = False
        self.machine.start()
        session = FakeSession()
        self.dials[-1].callback(session)
        self.assertEqual(self.states[-1].state, "syncing")
        self.assertFalse(self.machine.is_caught_up)
        self.machine.caught_up()
        self.assertEqual(self.states[-1].state, "online")
        self.assertTrue(self.machine.is_caught_up)
        session.left.callback(type("Details", (), {"reason": "wamp.close.transport_lost"}))
        self.assertFalse(self.machine.is_caught_up)
        self.machine.caught_up()  # a catch-up that ended after its session: ignored
        self.assertEqual(self.states[-1].state, "offline")

    def test_a_lost_session_reconnects_after_the_backoff(self) -> None:
        self.machine.start()
        session = FakeSession()
        self.dials[-1].callback(session)
        session.left.callback(type("Details", (), {"reason": "wamp.close.transport_lost"}))
        self.assertIsNone(self.machine.session)
        delay = self.states[-1].retry_in
        self.clock.advance(delay - 0.01)
        self.assertEqual(len(self.dials), 1)
        self.clock.advance(0.02)
        self.assertEqual(len(self.dials), 2)

    def test_a_removed_device_stops_for_good(self) -> None:
        self.machine.start()
        self.dials[-1].errback(JoinRefused(uris.CLOSE_DEVICE_REMOVED, "removed"))
        self.assertEqual(self.states[-1].state, "failed")
        self.machine.retry_now()
        self.clock.advance(3600)
        self.assertEqual(len(self.dials), 1)

    def test_stop_while_waiting_cancels_the_retry(self) -> None:
        self.machine.start()
        self.dials[-1].errback(ConnectionRefusedError("refused"))
        self.machine.stop()
        self.assertEqual((self.states[-1].state, self.states[-1].reason), ("offline", "stopped"))
        self.clock.advance(3600)
        self.assertEqual(len(self.dials), 1)
