"""Removed means removed (H6, L6): not welcomed mid-handshake, not heard from after."""

from __future__ import annotations

from typing import Any

from autobahn.wamp import types
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, endpoints, reactor

from securechat import testing
from securechat.client.wamp import DeviceKey, JoinRefused, RelaySession
from securechat.protocol import uris
from tests.support import RelayTestCase, envelope


class HeldChallengeSession(RelaySession):
    """A device that takes its time to answer the CHALLENGE: `challenged` fires when it
    has one, and it answers when the test fires `answer` (the thief of H6, keeping a
    handshake open while the owner removes the device)."""

    def __init__(self, key: DeviceKey) -> None:
        super().__init__(key)
        self.challenged: defer.Deferred[None] = defer.Deferred()
        self.answer: defer.Deferred[None] = defer.Deferred()

    @defer.inlineCallbacks
    def onChallenge(self, challenge: types.Challenge) -> Any:
        signature = yield super().onChallenge(challenge)
        self.challenged.callback(None)
        yield self.answer
        return signature


class RemovedDeviceTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.laptop = yield self.device(self.alice, "laptop")
        self.stolen = yield self.device(self.alice, "stolen")
        self.bob = yield self.account("bob@example.org")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")

    @defer.inlineCallbacks
    def start_held(self, device: Any) -> Any:
        session = HeldChallengeSession(device.key)
        from autobahn.twisted.websocket import WampWebSocketClientFactory
        from autobahn.wamp.serializer import MsgPackSerializer

        factory = WampWebSocketClientFactory(lambda: session, url=self.url,
                                             serializers=[MsgPackSerializer()])
        port = int(self.url.rsplit(":", 1)[1])
        yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory)
        yield session.challenged
        return session

    @defer.inlineCallbacks
    def owner_removes(self, device_id: str) -> Any:
        account = yield self.join(testing.password_login(self.alice))
        yield account.call(uris.DEVICE_REMOVE, device_id)

    @defer.inlineCallbacks
    def test_removing_a_device_aborts_its_pending_handshake(self) -> Any:
        thief = yield self.start_held(self.stolen)
        yield self.owner_removes("stolen")
        with self.assertRaises(JoinRefused) as caught:
            yield thief.joined
        self.assertEqual(caught.exception.reason, uris.CLOSE_DEVICE_REMOVED)
        yield thief.disconnected  # its answer (never sent) would come too late
        devices = yield (yield self.join(self.laptop.key)).call(uris.DEVICE_LIST)
        self.assertEqual([d["device_id"] for d in devices], ["laptop"])

    @defer.inlineCallbacks
    def test_the_device_is_read_again_when_it_answers_its_challenge(self) -> Any:
        thief = yield self.start_held(self.stolen)
        # Gone from the database by a path that did not abort the handshake (a removal
        # racing the answer): the answer alone must not get it in.
        yield self.relay.storage.remove_device(self.alice.user_id, "stolen")
        thief.answer.callback(None)
        with self.assertRaises(JoinRefused) as caught:
            yield thief.joined
        self.assertEqual(caught.exception.reason, uris.ERR_NO_SUCH_DEVICE)
        yield thief.disconnected

    @defer.inlineCallbacks
    def test_a_device_still_answering_is_welcomed_if_not_removed(self) -> Any:
        """The control: the held handshake itself is fine."""
        session = yield self.start_held(self.stolen)
        session.answer.callback(None)
        yield session.joined
        self.sessions.append(session)
        self.assertEqual(session.details.authid, "stolen")

    @defer.inlineCallbacks
    def test_a_removed_devices_send_is_refused(self) -> Any:
        thief, _ = yield self.online(self.stolen)
        yield thief.call(uris.MESSAGE_SEND, self.bob.user_id,
                         [envelope(self.bob_laptop), envelope(self.laptop)])
        # Removed under a session that is still open (the kick raced the send): the send
        # is checked against the current device list, not the session.
        yield self.relay.storage.remove_device(self.alice.user_id, "stolen")
        self.relay.router.directory.forget_devices(self.alice.user_id)
        with self.assertRaises(ApplicationError) as caught:
            yield thief.call(uris.MESSAGE_SEND, self.bob.user_id,
                             [envelope(self.bob_laptop), envelope(self.laptop)])
        self.assertEqual(caught.exception.error, uris.ERR_NO_SUCH_DEVICE)

    @defer.inlineCallbacks
    def test_a_stolen_device_cannot_remove_its_owners_devices(self) -> Any:
        thief, _ = yield self.online(self.stolen)
        with self.assertRaises(ApplicationError) as caught:
            yield thief.call(uris.DEVICE_REMOVE, "laptop")
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)
        # ...while the owner, with the password, removes the stolen one and it is cut off.
        yield self.owner_removes("stolen")
        details = yield thief.left
        self.assertEqual(details.reason, uris.CLOSE_DEVICE_REMOVED)
        refusal = yield self.refused(self.stolen.key)
        self.assertEqual(refusal.reason, uris.ERR_NO_SUCH_DEVICE)
