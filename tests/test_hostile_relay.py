"""Attacks of a hostile relay (or a MITM on ws://) on the end-to-end layer, each of
which must fail visibly: the real relay and real clients, with the relay's answers
rewritten and envelopes injected in-process (tests/hostile.py)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor

from securechat import testing
from securechat.client import events as ev
from securechat.client.core import SecureChatClient
from securechat.client.keys import session_id
from securechat.client.olm import ALG, CRYPTO_VERSION
from securechat.client.wamp import connect
from securechat.protocol import frames, uris
from securechat.protocol.frames import Binding, Frame
from securechat.relay.config import RelayConfig
from tests.clientsupport import ClientTestCase
from tests.hostile import CannotDecrypt, HostileRelay, RawDevice, envelopes_to, forged_envelope


class HostileRelayTestCase(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.hostile = HostileRelay(self.relay)
        self.alice = yield self.register("alice", "alice@example.org")
        self.bob = yield self.register("bob", "bob@example.org")
        yield self.online(self.alice, self.bob)

    @defer.inlineCallbacks
    def chat(self, sender: SecureChatClient, receiver: SecureChatClient, text: str) -> Any:
        mark = self.log(receiver).mark()
        yield sender.send_text(receiver.me.user_id, text)
        received = yield self.log(receiver).wait_for(
            ev.MessageReceived, lambda e: e.message.text == text, since=mark)
        return received

    def curve_key(self, client: SecureChatClient) -> str:
        return client._ctx.olm.identity_key


class SessionBindingTests(HostileRelayTestCase):
    @defer.inlineCallbacks
    def test_a_device_of_another_account_under_a_contacts_device_id_cannot_speak_for_them(
            self) -> Any:
        """Review C1: Mallory's device listed under Bob's device id. Before the fix, Alice
        showed Mallory's message as Bob's and encrypted her reply to Mallory."""
        yield self.befriend(self.alice, self.bob)
        yield self.chat(self.alice, self.bob, "hi bob")
        yield self.chat(self.bob, self.alice, "hi alice")
        mallory = yield testing.register_account(reactor, self.url, "mallory@example.org",
                                                 "mallory-password")
        evil = yield RawDevice.enroll(reactor, self.url, mallory)
        bobs_id = self.bob.me.device_id
        # The relay lists Mallory's device under Bob's device id, with a certificate
        # that verifies (Mallory's own account key signs it).
        self.hostile.rewrite(uris.DEVICE_LIST, lambda caller, answer, user_id=None: (
            [evil.certificate_for(mallory.user_id, bobs_id, mallory)]
            if user_id == mallory.user_id else answer))
        session = yield connect(reactor, self.url, evil.device.key)
        self.addCleanup(testing.leave, session)
        (bundle,) = yield session.call(uris.PREKEYS_CLAIM, self.alice.me.user_id,
                                       [self.alice.me.device_id])
        evil.start_session(self.alice.me.device_id, bundle["identity_key"],
                           bundle["one_time_key"]["key"])
        alice_device = self.alice.me.device_id
        to_alice = (self.alice.me.user_id, alice_device, self.curve_key(self.alice))

        # 1. A harmless frame from "Mallory's device D": Alice makes a session with it.
        typing = Frame(frames.TYPING, "x", {"typing": True})
        kind, body = evil.encrypt(alice_device, typing, Binding(
            mallory.user_id, bobs_id, evil.device.identity_key, *to_alice))
        mark = self.log(self.alice).mark()
        first = forged_envelope(mallory.user_id, bobs_id, kind, body)
        self.assertEqual(self.hostile.inject(alice_device, first), 1)
        # 2. "Bob's device D" says something, in Mallory's session.
        sid = session_id("alice@example.org", "bob@example.org")
        forged = Frame(frames.MSG, sid, {"id": "forged-1", "text": "It's Bob. Door code?",
                                          "timestamp": 1, "replyTo": None})
        kind, body = evil.encrypt(alice_device, forged, Binding(
            self.bob.me.user_id, bobs_id, self.curve_key(self.bob), *to_alice))
        second = forged_envelope(self.bob.me.user_id, bobs_id, kind, body)
        self.hostile.inject(alice_device, second)
        rejected = yield self.log(self.alice).wait_for(
            ev.EnvelopeRejected, lambda e: e.envelope_id == second["id"], since=mark)
        self.assertIn("decryption failed", rejected.reason)
        history = yield self.alice.messages(self.bob.me.user_id)
        self.assertNotIn("It's Bob. Door code?", [m.text for m in history])
        self.assertFalse([e for e in self.log(self.alice).events[mark:]
                          if isinstance(e, ev.MessageReceived)])

        # 3. Alice's reply to Bob is encrypted for Bob's real key: Mallory cannot read
        # it, and Bob can.
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        yield self.chat(self.alice, self.bob, "door code is 4711")
        to_d = envelopes_to(sent, bobs_id)[-1]
        with self.assertRaises(CannotDecrypt):
            evil.decrypt({**to_d, "from_device": alice_device}, self.curve_key(self.alice))

    @defer.inlineCallbacks
    def test_a_frame_whose_inner_sender_disagrees_with_the_envelope_is_rejected(self) -> Any:
        """Defence in depth (as Matrix's m.olm.v1): the frame names its sender and
        recipient inside the ciphertext, and a frame that names someone else than the
        envelope's sender is rejected even though its session is valid."""
        yield self.befriend(self.alice, self.bob)
        mallory = yield testing.register_account(reactor, self.url, "mallory@example.org",
                                                 "mallory-password")
        evil = yield RawDevice.enroll(reactor, self.url, mallory)
        session = yield connect(reactor, self.url, evil.device.key)
        self.addCleanup(testing.leave, session)
        (bundle,) = yield session.call(uris.PREKEYS_CLAIM, self.alice.me.user_id)
        evil.start_session(self.alice.me.device_id, bundle["identity_key"],
                           bundle["one_time_key"]["key"])
        sid = session_id("alice@example.org", "bob@example.org")
        frame = Frame(frames.MSG, sid, {"id": "m-1", "text": "I am Bob", "timestamp": 1,
                                        "replyTo": None})
        kind, body = evil.encrypt(self.alice.me.device_id, frame, Binding(
            self.bob.me.user_id, self.bob.me.device_id, self.curve_key(self.bob),
            self.alice.me.user_id, self.alice.me.device_id, self.curve_key(self.alice)))
        mark = self.log(self.alice).mark()
        yield session.call(uris.MESSAGE_SEND, self.alice.me.user_id, [{
            "device_id": self.alice.me.device_id, "v": CRYPTO_VERSION, "alg": ALG,
            "type": kind, "body": body}])
        rejected = yield self.log(self.alice).wait_for(ev.EnvelopeRejected, since=mark)
        self.assertIn("sender does not match", rejected.reason)
        history = yield self.alice.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history], [])


class ReplayTests(HostileRelayTestCase):
    @defer.inlineCallbacks
    def test_a_replayed_fallback_key_message_is_rejected_and_the_conversation_goes_on(
            self) -> Any:
        """Review M3: the relay hands out Alice's fallback key, then replays the pre-key
        message made with it. Before the fix the replay was accepted again and rolled
        the session back, wedging the pair for good."""
        self.hostile.rewrite(uris.PREKEYS_CLAIM, self._fallback_only)
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        mark = self.log(self.alice).mark()
        yield self.bob.add_friend("alice@example.org")
        yield self.log(self.alice).wait_for(ev.FriendRequestReceived, since=mark)
        (request,) = envelopes_to(sent, self.alice.me.device_id)
        self.assertEqual(request["type"], 0)  # a pre-key message, made with the fallback key
        yield self.alice.accept_friend(self.bob.me.user_id)
        yield self.log(self.bob).wait_for(ev.FriendRequestAnswered)
        yield self.chat(self.alice, self.bob, "meet at 5")
        yield self.chat(self.bob, self.alice, "ok, 5")

        mark = self.log(self.alice).mark()
        replay = forged_envelope(self.bob.me.user_id, self.bob.me.device_id,
                                 request["type"], request["body"])
        self.hostile.inject(self.alice.me.device_id, replay)
        rejected = yield self.log(self.alice).wait_for(
            ev.EnvelopeRejected, lambda e: e.envelope_id == replay["id"], since=mark)
        self.assertIn("replay", rejected.reason)
        self.assertEqual(self.log(self.alice).of(ev.FriendRequestReceived)[1:], [])
        # Both directions still work.
        yield self.chat(self.bob, self.alice, "still here?")
        yield self.chat(self.alice, self.bob, "yes")

    @defer.inlineCallbacks
    def test_a_device_listed_again_cannot_bring_back_a_replay(self) -> Any:
        """The relay drops Bob's device from one device list (Alice forgets its sessions)
        and lists it again, then replays Bob's first pre-key message: what sessions were
        made with that device is remembered, so the replay is still refused."""
        self.hostile.rewrite(uris.PREKEYS_CLAIM, self._fallback_only)
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        mark = self.log(self.alice).mark()
        yield self.bob.add_friend("alice@example.org")
        yield self.log(self.alice).wait_for(ev.FriendRequestReceived, since=mark)
        (request,) = envelopes_to(sent, self.alice.me.device_id)
        yield self.alice.accept_friend(self.bob.me.user_id)
        yield self.log(self.bob).wait_for(ev.FriendRequestAnswered)
        yield self.chat(self.bob, self.alice, "first")
        bob = (self.bob.me.user_id, self.bob.me.device_id)
        hidden = [True]
        self.hostile.rewrite(uris.DEVICE_LIST, lambda caller, answer, user_id=None: (
            [] if hidden[0] and user_id == bob[0] else answer))
        # Something no session decrypts makes Alice read Bob's devices again: none.
        mark = self.log(self.alice).mark()
        garbage = forged_envelope(*bob, 1, b"\x00" * 48)
        self.hostile.inject(self.alice.me.device_id, garbage)
        yield self.log(self.alice).wait_for(ev.DeviceRemoved, since=mark)
        hidden[0] = False
        replay = forged_envelope(*bob, request["type"], request["body"])
        self.hostile.inject(self.alice.me.device_id, replay)
        rejected = yield self.log(self.alice).wait_for(
            ev.EnvelopeRejected, lambda e: e.envelope_id == replay["id"], since=mark)
        self.assertIn("replay", rejected.reason)
        self.assertEqual(len(self.log(self.alice).of(ev.FriendRequestReceived)), 1)

    def _fallback_only(self, caller: Any, bundles: list[dict[str, Any]], user_id: Any,
                       device_ids: Any = None) -> Any:
        """A relay that hands out the fallback key instead of a one-time key."""
        d = self.relay.storage._run(lambda c: dict(
            (row[0], {"key_id": row[1], "key": row[2], "fallback": True,
                       "signature": row[3]})
             for row in c.execute("SELECT device_id, key_id, key, signature FROM "
                                  "fallback_keys")))
        return d.addCallback(lambda fallbacks: [
            {**b, "one_time_key": fallbacks.get(b["device_id"], b["one_time_key"])}
            for b in bundles])


class PrekeyTests(HostileRelayTestCase):
    config = RelayConfig(claim_burst=100)  # the drain test claims more than a client would
    @defer.inlineCallbacks
    def test_a_substituted_one_time_key_is_refused_and_the_message_waits(self) -> Any:
        """Review M4: one-time keys are signed by their device; a relay that hands out a
        key of its own choosing gets no session, and the request waits in the outbox."""
        mallory = yield testing.register_account(reactor, self.url, "mallory@example.org",
                                                 "mallory-password")
        evil = yield RawDevice.enroll(reactor, self.url, mallory)
        evil_keys, _ = evil.signed_prekeys(1)
        (evil_key,) = evil_keys.values()
        self.hostile.rewrite(uris.PREKEYS_CLAIM, lambda caller, bundles, *a, **k: [
            {**b, "one_time_key": {"key_id": "AAAAAQ", "key": evil_key["key"],
                                   "fallback": False, "signature": evil_key["signature"]}}
            for b in bundles])
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        yield self.alice.add_friend("bob@example.org")
        yield self.alice.flush_outbox()
        self.assertEqual(envelopes_to(sent, self.bob.me.device_id), [])
        self.hostile.restore()
        mark = self.log(self.bob).mark()
        yield self.alice.flush_outbox()
        yield self.log(self.bob).wait_for(ev.FriendRequestReceived, since=mark)


    @defer.inlineCallbacks
    def test_a_device_whose_one_time_keys_run_low_tops_up_at_once(self) -> Any:
        """Review M4: a stranger drains Bob's one-time keys; the relay tells Bob, who
        publishes new ones while online instead of waiting for his next connect."""
        account = yield testing.register_account(reactor, self.url, "eve@example.org",
                                                 "eve-password")
        eve = yield testing.enroll_device(reactor, self.url, account)
        session = yield testing.connect_device(reactor, self.url, eve)
        self.addCleanup(testing.leave, session)
        before = yield self.relay.storage.count_prekeys(self.bob.me.device_id)
        topped_up = self.hostile.answered(uris.PREKEYS_PUBLISH)
        for _ in range(before - 19):  # one under the low-water mark
            yield session.call(uris.PREKEYS_CLAIM, self.bob.me.user_id)
        caller, answer = yield topped_up
        self.assertEqual(caller.principal.device_id, self.bob.me.device_id)
        self.assertGreaterEqual(answer["count"], 20)


class RecoveryTests(HostileRelayTestCase):
    @defer.inlineCallbacks
    def test_a_pair_that_cannot_decrypt_recovers_by_itself(self) -> Any:
        """Bob's device lost its session with Alice (a restored or damaged state): the
        first message it cannot read makes it start a fresh session, and the pair talks
        again without anyone doing anything."""
        yield self.befriend(self.alice, self.bob)
        yield self.chat(self.alice, self.bob, "one")
        yield self.chat(self.bob, self.alice, "two")
        alice = (self.alice.me.user_id, self.alice.me.device_id)
        self.bob._ctx.olm.forget(*alice)
        yield self.bob.store.run(lambda c: c.execute("DELETE FROM olm_peer_sessions"))
        mark_alice, mark_bob = self.log(self.alice).mark(), self.log(self.bob).mark()
        yield self.alice.send_text(self.bob.me.user_id, "lost in the old session")
        yield self.log(self.bob).wait_for(ev.EnvelopeRejected, since=mark_bob)
        yield self.log(self.alice).wait_for(ev.SessionReset, since=mark_alice)
        yield self.chat(self.alice, self.bob, "found")
        yield self.chat(self.bob, self.alice, "and back")

    @defer.inlineCallbacks
    def test_a_device_id_enrolled_again_with_new_keys_gets_a_fresh_session(self) -> Any:
        """Review C1's side effect (a bot with a fixed device id re-enrolled): peers drop
        the old sessions and reach the new keys."""
        yield self.befriend(self.alice, self.bob)
        bob_account = testing.TestAccount(
            "bob@example.org", "pw-" + "x" * 10, self.bob.me.user_id,
            self.bob._ctx.secrets.identity, b"")
        first = yield RawDevice.enroll(reactor, self.url, bob_account, "b0b0b0b0b0b0b0b0")
        yield self._publish(first)
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        yield self.alice.send_text(self.bob.me.user_id, "to the first keys")
        yield self.alice.flush_outbox()
        (envelope,) = envelopes_to(sent, "b0b0b0b0b0b0b0b0")
        self.assertIn(b"to the first keys", first.decrypt(
            {**envelope, "from_device": self.alice.me.device_id}, self.curve_key(self.alice)))
        # The device is removed and enrolled again under the same id with new keys.
        yield self.bob.stop()
        self.clients.remove(self.bob)
        yield testing.leave((yield self._remove(bob_account, "b0b0b0b0b0b0b0b0")))
        again = yield RawDevice.enroll(reactor, self.url, bob_account, "b0b0b0b0b0b0b0b0")
        yield self._publish(again)
        # Its first message tells Alice (whose list still has the old key) that it
        # changed: she looks at Bob's devices again and takes the new key.
        session = yield connect(reactor, self.url, again.device.key)
        self.addCleanup(testing.leave, session)
        (bundle,) = yield session.call(uris.PREKEYS_CLAIM, self.alice.me.user_id)
        again.start_session(self.alice.me.device_id, bundle["identity_key"],
                            bundle["one_time_key"]["key"])
        sid = session_id("alice@example.org", "bob@example.org")
        kind, body = again.encrypt(self.alice.me.device_id, Frame(frames.DUMMY, sid, {}),
                                   Binding(self.bob.me.user_id, "b0b0b0b0b0b0b0b0",
                                           again.device.identity_key, self.alice.me.user_id,
                                           self.alice.me.device_id, self.curve_key(self.alice)))
        mark = self.log(self.alice).mark()
        yield session.call(uris.MESSAGE_SEND, self.alice.me.user_id, [{
            "device_id": self.alice.me.device_id, "v": CRYPTO_VERSION, "alg": ALG,
            "type": kind, "body": body}])
        yield self.log(self.alice).wait_for(ev.SessionReset, since=mark)
        del sent[:]
        yield self.alice.send_text(self.bob.me.user_id, "to the new keys")
        yield self.alice.flush_outbox()
        (envelope,) = envelopes_to(sent, "b0b0b0b0b0b0b0b0")
        self.assertIn(b"to the new keys", again.decrypt(
            {**envelope, "from_device": self.alice.me.device_id}, self.curve_key(self.alice)))

    @defer.inlineCallbacks
    def _publish(self, device: RawDevice) -> Any:
        session = yield connect(reactor, self.url, device.device.key)
        yield session.call(uris.PREKEYS_PUBLISH, *device.signed_prekeys(5))
        yield testing.leave(session)

    @defer.inlineCallbacks
    def _remove(self, account: testing.TestAccount, device_id: str) -> Any:
        session = yield connect(reactor, self.url, testing.password_login(account))
        yield session.call(uris.DEVICE_REMOVE, device_id)
        return session

