"""Presence is per device and mutual: only users who declared each other see each other."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.protocol import uris
from tests.support import Inbox, RelayTestCase


class PresenceTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.carol = yield self.account("carol@example.org")
        self.devices = {}
        for account, name in ((self.alice, "alice-1"), (self.alice, "alice-2"),
                              (self.bob, "bob-1"), (self.carol, "carol-1")):
            self.devices[name] = yield self.device(account, name)

    @defer.inlineCallbacks
    def connect(self, name: str) -> Any:
        session = yield self.join(self.devices[name].key)
        presence = Inbox()
        yield session.subscribe(presence.received, uris.presence_topic(name))
        return session, presence

    @defer.inlineCallbacks
    def barrier(self, session: Any) -> Any:
        """A round trip: every event the relay sent before it has arrived."""
        yield session.call(uris.PRESENCE_SESSIONS)

    @defer.inlineCallbacks
    def test_presence_only_between_users_who_declared_each_other(self) -> Any:
        alice, alice_events = yield self.connect("alice-1")
        bob, bob_events = yield self.connect("bob-1")
        carol, carol_events = yield self.connect("carol-1")
        # Alice declares Bob and Carol; Carol declares nobody.
        listing = yield alice.call(uris.PRESENCE_DECLARE, [self.bob.user_id, self.carol.user_id])
        self.assertEqual(listing, [])  # nobody declared Alice back yet
        # Bob declares Alice: now mutual, both sides learn at once.
        listing = yield bob.call(uris.PRESENCE_DECLARE, [self.alice.user_id])
        self.assertEqual(listing, [{"user_id": self.alice.user_id, "devices": ["alice-1"]}])
        event = yield alice_events.next()
        self.assertEqual(event, {"event": uris.PEER_ONLINE, "user_id": self.bob.user_id,
                                 "device_id": "bob-1"})
        # Bob going offline is told to Alice, never to Carol.
        yield bob.leave()
        event = yield alice_events.next()
        self.assertEqual(event, {"event": uris.PEER_OFFLINE, "user_id": self.bob.user_id,
                                 "device_id": "bob-1"})
        yield self.barrier(carol)
        self.assertEqual(carol_events.events, [])
        self.assertEqual(bob_events.events, [])  # Bob learnt of Alice from his session list

    @defer.inlineCallbacks
    def test_each_device_comes_and_goes_separately(self) -> Any:
        alice1, _ = yield self.connect("alice-1")
        bob, bob_events = yield self.connect("bob-1")
        yield alice1.call(uris.PRESENCE_DECLARE, [self.bob.user_id])
        yield bob.call(uris.PRESENCE_DECLARE, [self.alice.user_id])
        alice2, alice2_events = yield self.connect("alice-2")
        self.assertEqual((yield bob_events.next())["device_id"], "alice-2")
        # Alice's own devices see each other without declaring anything.
        sessions = yield alice2.call(uris.PRESENCE_SESSIONS)
        self.assertEqual(sessions, [
            {"user_id": self.alice.user_id, "devices": ["alice-1"]},
            {"user_id": self.bob.user_id, "devices": ["bob-1"]},
        ] if self.alice.user_id < self.bob.user_id else [
            {"user_id": self.bob.user_id, "devices": ["bob-1"]},
            {"user_id": self.alice.user_id, "devices": ["alice-1"]},
        ])
        yield alice1.leave()
        self.assertEqual((yield bob_events.next()),
                         {"event": uris.PEER_OFFLINE, "user_id": self.alice.user_id,
                          "device_id": "alice-1"})
        self.assertEqual((yield alice2_events.next()),
                         {"event": uris.PEER_OFFLINE, "user_id": self.alice.user_id,
                          "device_id": "alice-1"})

    @defer.inlineCallbacks
    def test_undeclaring_a_contact_ends_presence_both_ways(self) -> Any:
        alice, alice_events = yield self.connect("alice-1")
        bob, bob_events = yield self.connect("bob-1")
        yield alice.call(uris.PRESENCE_DECLARE, [self.bob.user_id])
        yield bob.call(uris.PRESENCE_DECLARE, [self.alice.user_id])
        yield alice_events.next()  # Bob online
        self.assertEqual((yield alice.call(uris.PRESENCE_DECLARE, [])), [])
        self.assertEqual((yield bob_events.next())["event"], uris.PEER_OFFLINE)
        self.assertEqual((yield bob.call(uris.PRESENCE_SESSIONS)), [])
