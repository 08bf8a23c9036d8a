"""Calls between real clients through a real relay and a real coturn on 127.0.0.1: two
aiortc peers, relay-only media (synthetic tones and video), signaling inside Olm.

These run on Twisted's asyncio reactor (scripts/run_trial.py gives tests.test_call* a
trial process of their own). Timers that would take a user's patience (45 s of ringing)
run on a task.Clock given to `client.calls.clock`; media runs in real time.
"""

from __future__ import annotations

import array
import asyncio
import json
import time
from typing import Any

from twisted.internet import defer, task

from securechat.client import (
    CallLogged,
    CallOutcome,
    CallState,
    CallStateChanged,
    IncomingCall,
    MediaSources,
    PatternTrack,
    ToneTrack,
    events,
)
from securechat.client.calls.call import GRACE, RING_TIMEOUT
from securechat.client.calls.service import CLOCK_SKEW
from securechat.protocol import uris
from tests.clientsupport import ClientTestCase
from tests.hostile import HostileRelay
from tests.turnserver import with_turn

CALL_WAIT = 20.0  # seconds: a bound on waits for a real connection, never a sleep


class FrameCounter:
    """A sink for remote tracks: counts the frames that arrive; `reached(n)` fires once
    n have."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.peaks: list[int] = []  # per audio frame: its loudest sample
        self._waiters: list[tuple[str, int, defer.Deferred[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def __call__(self, track: Any) -> None:
        self._tasks.append(asyncio.ensure_future(self._pull(track)))

    async def _pull(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "audio":
                self.peaks.append(max(abs(s) for s in array.array("h", bytes(frame.planes[0]))))
            self.frames[track.kind] += 1
            for waiter in list(self._waiters):
                kind, n, d = waiter
                if self.frames[kind] >= n:
                    self._waiters.remove(waiter)
                    d.callback(None)

    def reached(self, n: int, kind: str = "audio") -> defer.Deferred[None]:
        if self.frames[kind] >= n:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._waiters.append((kind, n, d))
        return d.addTimeout(CALL_WAIT, _reactor())


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class CallTestCase(ClientTestCase):
    relay_turn_secret: str | None = None  # None: coturn's own secret

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.turn = yield with_turn(self, self.relay_turn_secret)
        yield super().setUp()

    def state(self, client: Any, state: CallState, since: int = 0) -> defer.Deferred[Any]:
        return self.log(client).wait_for(
            CallStateChanged, lambda e: e.state == state, since=since
        ).addTimeout(CALL_WAIT, _reactor())

    @defer.inlineCallbacks
    def ring(self, caller: Any, callee: Any, mode: str = "audio",
             sources: MediaSources | None = None) -> Any:
        """caller calls callee; fires (the caller's Call, the callee's Call) once it rings."""
        call = caller.calls.place(callee.me.user_id, mode, sources)
        incoming = yield self.log(callee).wait_for(IncomingCall).addTimeout(
            CALL_WAIT, _reactor())
        self.assertEqual(incoming.call_id, call.call_id)
        self.assertEqual(incoming.peer_user_id, caller.me.user_id)
        return call, callee.calls.get(incoming.call_id)

    @defer.inlineCallbacks
    def connected_call(self, caller: Any, callee: Any, mode: str = "audio") -> Any:
        """A call answered and connected both ways with synthetic media: (caller's call,
        callee's call, {client: (the track it sends, the counter of what it gets)})."""
        media = {}
        for client in (caller, callee):
            sources = MediaSources(ToneTrack(), PatternTrack() if mode == "video" else None,
                                   FrameCounter())
            media[id(client)] = sources
        marks = [self.log(c).mark() for c in (caller, callee)]
        call, theirs = yield self.ring(caller, callee, mode, media[id(caller)])
        theirs.answer(media[id(callee)])
        yield self.state(caller, CallState.CONNECTED, marks[0])
        yield self.state(callee, CallState.CONNECTED, marks[1])
        return call, theirs, media

    @defer.inlineCallbacks
    def call_log(self, client: Any, peer: Any) -> Any:
        rows = yield client.messages(peer.me.user_id)
        return [(m.id, m.sender, json.loads(m.text)) for m in rows if m.type == "call"]


class CallTests(CallTestCase):
    @defer.inlineCallbacks
    def test_audio_flows_both_ways_through_the_turn_relay_and_hang_up_ends_both(
            self) -> Any:
        yield self.alice_and_bob(phone="phone")
        call, theirs, media = yield self.connected_call(self.alice, self.bob)
        # Only relay candidates, on both ends of the pair ICE chose.
        self.assertEqual(call.media.selected_pair(), ("relay", "relay"))
        self.assertEqual(theirs.media.selected_pair(), ("relay", "relay"))
        alice_media, bob_media = media[id(self.alice)], media[id(self.bob)]
        yield bob_media.sink.reached(100)
        yield alice_media.sink.reached(100)
        for receiver, sender in ((bob_media, alice_media), (alice_media, bob_media)):
            received, sent = receiver.sink.frames["audio"], sender.audio.frames
            self.assertGreaterEqual(received / sent, 0.9, f"{received} of {sent} frames")

        alice_logged = self.log(self.alice).mark()
        phone_logged = self.log(self.phone).mark()
        theirs.hang_up()  # Bob hangs up: Alice's side ends too
        outcome = yield call.ended.addTimeout(CALL_WAIT, _reactor())
        self.assertEqual(outcome, CallOutcome.COMPLETED)
        self.assertEqual(theirs.outcome, CallOutcome.COMPLETED)

        # The call log, on both sides and on Alice's phone (SYNC_CALL_END).
        yield self.log(self.alice).wait_for(CallLogged, since=alice_logged)
        yield self.log(self.phone).wait_for(CallLogged, since=phone_logged).addTimeout(
            CALL_WAIT, _reactor())
        for client, peer, sender, direction in ((self.alice, self.bob, "me", "out"),
                                                (self.phone, self.bob, "me", "out"),
                                                (self.bob, self.alice, "other", "in")):
            rows = yield self.call_log(client, peer)
            self.assertEqual(len(rows), 1, client.me.device_id)
            call_id, who, text = rows[0]
            self.assertEqual((call_id, who, text["direction"], text["mode"],
                              text["outcome"]), (call.call_id, sender, direction, "audio",
                                                 "completed"))
            self.assertGreaterEqual(text["duration"], 0)
        # Alice's phone never rang for her own call.
        self.assertEqual(self.log(self.phone).of(IncomingCall), [])

    @defer.inlineCallbacks
    def test_muted_the_peer_hears_silence_until_unmuted(self) -> Any:
        yield self.alice_and_bob()
        call, theirs, media = yield self.connected_call(self.alice, self.bob)
        heard = media[id(self.bob)].sink
        yield heard.reached(20)
        call.set_muted(True)
        muted_at = heard.frames["audio"]
        yield heard.reached(muted_at + 60)
        # Past what was in flight, Bob hears silence; the call goes on.
        self.assertLess(max(heard.peaks[muted_at + 20:]), 300)
        call.set_muted(False)
        unmuted_at = heard.frames["audio"]
        yield heard.reached(unmuted_at + 60)
        self.assertGreater(min(heard.peaks[unmuted_at + 20:]), 2000)
        self.assertEqual(theirs.state, CallState.CONNECTED)
        call.hang_up()
        yield theirs.ended

    @defer.inlineCallbacks
    def test_a_microphone_that_stops_ends_the_call_and_tells_the_peer(self) -> Any:
        yield self.alice_and_bob()
        microphone = ToneTrack()
        call = self.alice.calls.place(self.bob.me.user_id, "audio",
                                      MediaSources(microphone, live=True))
        incoming = yield self.log(self.bob).wait_for(IncomingCall)
        theirs = self.bob.calls.get(incoming.call_id)
        theirs.answer(MediaSources(ToneTrack()))
        yield self.state(self.alice, CallState.CONNECTED)
        microphone.stop()  # unplugged
        self.assertEqual((yield call.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.FAILED)
        self.assertEqual(call.reason, "stream failure: the microphone stopped")
        yield theirs.ended.addTimeout(CALL_WAIT, _reactor())  # Bob was told

    @defer.inlineCallbacks
    def test_video_frames_arrive(self) -> Any:
        yield self.alice_and_bob()
        call, theirs, media = yield self.connected_call(self.alice, self.bob, "video")
        yield media[id(self.bob)].sink.reached(10, "video")
        yield media[id(self.alice)].sink.reached(10, "video")
        call.hang_up()
        self.assertEqual((yield theirs.ended), CallOutcome.COMPLETED)

    @defer.inlineCallbacks
    def test_the_first_device_to_answer_wins_and_the_others_stop_ringing(self) -> Any:
        yield self.alice_and_bob()
        bob_laptop = yield self.login("bob-laptop", "bob@example.org")
        yield self.online(bob_laptop)
        yield self.wait_until(bob_laptop, lambda: self.alice.me.user_id in
                              bob_laptop.contacts)
        laptop_rings = self.log(bob_laptop).wait_for(IncomingCall)
        call, theirs = yield self.ring(self.alice, self.bob,
                                       sources=MediaSources(ToneTrack()))
        incoming = yield laptop_rings.addTimeout(CALL_WAIT, _reactor())
        on_laptop = bob_laptop.calls.get(incoming.call_id)
        self.assertEqual(on_laptop.state, CallState.INCOMING)

        theirs.answer(MediaSources(ToneTrack()))
        self.assertEqual((yield on_laptop.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.ANSWERED_ELSEWHERE)
        yield self.state(self.alice, CallState.CONNECTED)
        logged = self.log(bob_laptop).mark()
        call.hang_up()
        self.assertEqual((yield theirs.ended), CallOutcome.COMPLETED)
        # The laptop logs the call the phone took (SYNC_CALL_END), not a missed one.
        yield self.log(bob_laptop).wait_for(CallLogged, since=logged).addTimeout(
            CALL_WAIT, _reactor())
        rows = yield self.call_log(bob_laptop, self.alice)
        self.assertEqual([(r[0], r[2]["outcome"]) for r in rows],
                         [(call.call_id, "completed")])

    @defer.inlineCallbacks
    def test_what_a_call_sent_is_stopped_when_it_ends(self) -> Any:
        """A microphone or camera must not stay open (capturing) after the call."""
        yield self.alice_and_bob()
        call, theirs, media = yield self.connected_call(self.alice, self.bob, "video")
        call.hang_up()
        yield theirs.ended.addTimeout(CALL_WAIT, _reactor())
        for client in (self.alice, self.bob):
            sources = media[id(client)]
            self.assertEqual((sources.audio.readyState, sources.video.readyState),
                             ("ended", "ended"))

    @defer.inlineCallbacks
    def test_declined(self) -> Any:
        yield self.alice_and_bob()
        call, theirs = yield self.ring(self.alice, self.bob)
        theirs.decline()
        self.assertEqual((yield call.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.DECLINED)
        self.assertIsNone(self.alice.calls.current)
        rows = yield self.call_log(self.alice, self.bob)
        self.assertEqual([r[2]["outcome"] for r in rows], ["declined"])

    @defer.inlineCallbacks
    def test_busy_when_already_in_a_call(self) -> Any:
        yield self.alice_and_bob()
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        yield self.befriend(carol, self.bob)
        first, ringing = yield self.ring(self.alice, self.bob)
        second = carol.calls.place(self.bob.me.user_id)
        self.assertEqual((yield second.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.BUSY)
        # Bob's ringing call from Alice goes on.
        self.assertEqual(self.bob.calls.current.call_id, first.call_id)
        self.assertEqual([e.peer_user_id for e in self.log(self.bob).of(IncomingCall)],
                         [self.alice.me.user_id])
        first.hang_up()
        self.assertEqual((yield ringing.ended), CallOutcome.MISSED)

    @defer.inlineCallbacks
    def test_a_blocked_contact_cannot_ring_me(self) -> Any:
        yield self.alice_and_bob()
        yield self.bob.block(self.alice.me.user_id)
        self.alice.calls.clock = clock = task.Clock()
        relay = HostileRelay(self.relay)  # only to see Bob's acks
        acked = relay.answered(uris.MAILBOX_ACK)
        call = self.alice.calls.place(self.bob.me.user_id)
        yield self.state(self.alice, CallState.RINGING)
        # Bob takes the offer off the relay and drops it: nothing rings, nothing answers.
        while True:
            caller, _ = yield acked.addTimeout(CALL_WAIT, _reactor())
            if caller.principal.device_id == self.bob.me.device_id:
                break
            acked = relay.answered(uris.MAILBOX_ACK)
        self.assertIsNone(self.bob.calls.current)
        clock.advance(45)
        self.assertEqual(call.outcome, CallOutcome.MISSED)
        self.assertEqual(self.log(self.bob).of(IncomingCall), [])

    @defer.inlineCallbacks
    def test_missed_after_45_seconds_of_ringing(self) -> Any:
        yield self.alice_and_bob()
        self.alice.calls.clock = alices = task.Clock()
        self.bob.calls.clock = bobs = task.Clock()
        call, theirs = yield self.ring(self.alice, self.bob)
        yield self.state(self.alice, CallState.RINGING)
        bobs.advance(44)
        alices.advance(44)
        self.assertEqual(theirs.state, CallState.INCOMING)
        logged = self.log(self.bob).mark()
        bobs.advance(1)
        alices.advance(1)
        self.assertEqual(theirs.outcome, CallOutcome.MISSED)
        self.assertEqual(call.outcome, CallOutcome.MISSED)
        yield self.log(self.bob).wait_for(CallLogged, since=logged)
        rows = yield self.bob.messages(self.alice.me.user_id)
        missed = [m for m in rows if m.type == "call"]
        self.assertEqual(json.loads(missed[0].text)["outcome"], "missed")
        self.assertFalse(missed[0].is_read)  # shown as a missed call, unread

    @defer.inlineCallbacks
    def test_a_callee_with_no_device_online_is_unreachable_at_once(self) -> Any:
        yield self.alice_and_bob(phone="phone")
        yield self.bob.stop()  # Bob's only device goes offline
        self.alice.calls.clock = clock = task.Clock()  # nothing waits for the 45 s
        logged = self.log(self.phone).mark()
        call = self.alice.calls.place(self.bob.me.user_id, "audio", MediaSources(ToneTrack()))
        self.assertEqual((yield call.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.UNREACHABLE)
        self.assertEqual(clock.seconds(), 0)  # it never rang out its time
        states = [e.state for e in self.log(self.alice).of(CallStateChanged)]
        self.assertEqual(states[-2:], [CallState.RINGING, CallState.ENDED])
        # Logged as such, here and on Alice's phone.
        yield self.log(self.phone).wait_for(CallLogged, since=logged).addTimeout(
            CALL_WAIT, _reactor())
        for client in (self.alice, self.phone):
            rows = yield self.call_log(client, self.bob)
            self.assertEqual([(r[0], r[2]["direction"], r[2]["outcome"]) for r in rows],
                             [(call.call_id, "out", "unreachable")])

    @defer.inlineCallbacks
    def test_the_relay_restarting_mid_call_does_not_end_it(self) -> Any:
        yield self.alice_and_bob()
        call, theirs, media = yield self.connected_call(self.alice, self.bob)
        yield self.relay.stopService()
        yield self.start_relay_again()
        # Media went on through coturn all along.
        counter = media[id(self.bob)].sink
        yield counter.reached(counter.frames["audio"] + 50)
        self.assertEqual((call.state, theirs.state),
                         (CallState.CONNECTED, CallState.CONNECTED))
        call.hang_up()  # and signaling works on the new connection
        self.assertEqual((yield theirs.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.COMPLETED)


class NetworkDropTests(CallTestCase):
    @defer.inlineCallbacks
    def test_media_lost_ends_the_call_after_the_grace_period(self) -> Any:
        # aioice checks consent every 5 s and gives up after 6 failures: 30 s before a
        # drop shows. Checked every 0.1 s and given up after 2 here, to see it sooner.
        import aioice.ice

        self.patch(aioice.ice, "CONSENT_INTERVAL", 0.1)
        self.patch(aioice.ice, "CONSENT_FAILURES", 2)
        yield self.alice_and_bob()
        clocks = {}
        for client in (self.alice, self.bob):
            client.calls.clock = clocks[id(client)] = task.Clock()
        marks = [self.log(c).mark() for c in (self.alice, self.bob)]
        call, theirs, _ = yield self.connected_call(self.alice, self.bob)
        yield self.turn.stop()  # the TURN server goes: no media either way
        yield self.state(self.alice, CallState.INTERRUPTED, marks[0])
        yield self.state(self.bob, CallState.INTERRUPTED, marks[1])
        clocks[id(self.alice)].advance(GRACE - 1)
        self.assertEqual(call.state, CallState.INTERRUPTED)  # still hoping
        clocks[id(self.alice)].advance(1)
        clocks[id(self.bob)].advance(GRACE)
        self.assertEqual((call.outcome, call.reason),
                         (CallOutcome.NETWORK, "Call ended: the connection was lost"))
        self.assertIn(theirs.outcome, (CallOutcome.NETWORK, CallOutcome.COMPLETED))


class WrongTurnSecretTests(CallTestCase):
    relay_turn_secret = "not coturn's secret"

    @defer.inlineCallbacks
    def test_a_wrong_turn_secret_ends_the_call_with_a_clear_error(self) -> Any:
        yield self.alice_and_bob()
        call = self.alice.calls.place(self.bob.me.user_id)
        self.assertEqual((yield call.ended.addTimeout(CALL_WAIT, _reactor())),
                         CallOutcome.FAILED)
        self.assertEqual(call.reason, "TURN authentication or reachability failed")
        self.assertEqual(self.log(self.bob).of(IncomingCall), [])  # nothing was sent


class HostileRelayCallTests(CallTestCase):
    @defer.inlineCallbacks
    def test_signaling_tampered_with_by_the_relay_is_rejected_and_never_rings(self) -> Any:
        yield self.alice_and_bob()
        self.alice.calls.clock = clock = task.Clock()
        bob = self.bob.me.user_id
        hostile = HostileRelay(self.relay)

        def tamper(fn: Any) -> Any:
            def call(caller: Any, recipient: str, envelopes: list[Any], *a: Any,
                     **k: Any) -> Any:
                if recipient == bob:  # a relay swapping the SDP's DTLS fingerprint, say
                    envelopes = [{**e, "body": _flipped(e["body"])} for e in envelopes]
                return fn(caller, recipient, envelopes, *a, **k)
            return call
        hostile._wrap(uris.MESSAGE_SEND_LIVE, tamper)  # call frames are ephemeral
        rejected = self.log(self.bob).wait_for(events.EnvelopeRejected)
        call = self.alice.calls.place(bob, "audio", MediaSources(ToneTrack()))
        yield self.state(self.alice, CallState.RINGING)
        yield rejected.addTimeout(CALL_WAIT, _reactor())
        self.assertEqual(self.log(self.bob).of(IncomingCall), [])
        clock.advance(45)
        self.assertEqual(call.outcome, CallOutcome.MISSED)


class HeldOfferTests(CallTestCase):
    """A hostile relay holds Alice's offer back and delivers it late, stamped as just
    taken: Bob goes by the `sent` time inside the encryption."""

    @defer.inlineCallbacks
    def held_offer_rings(self, held_for: float) -> Any:
        """Alice calls Bob; the relay holds the offer `held_for` seconds (Bob's clock
        moved on that much), then delivers it. Fires with whether Bob's device rang."""
        yield self.alice_and_bob()
        self.alice.calls.clock = task.Clock()
        relay = HostileRelay(self.relay)
        held = relay.hold_live(self.bob.me.user_id)
        taken = relay.answered(uris.MESSAGE_SEND_LIVE)
        call = self.alice.calls.place(self.bob.me.user_id, "audio", MediaSources(ToneTrack()))
        yield taken.addTimeout(CALL_WAIT, _reactor())
        self.assertEqual(call.state, CallState.RINGING)  # "delivered", the relay said
        [(device, offer)] = held
        later = time.time() + held_for
        self.bob.calls.wall_clock = bobs = task.Clock()
        bobs.advance(later)
        acked = relay.answered(uris.MAILBOX_ACK)
        mark = self.log(self.bob).mark()
        self.assertEqual(relay.inject(device, {**offer, "ts": int(later * 1000)}), 1)
        while True:  # until Bob has handled it (and acks it)
            caller, _ = yield acked.addTimeout(CALL_WAIT, _reactor())
            if caller.principal.device_id == self.bob.me.device_id:
                break
            acked = relay.answered(uris.MAILBOX_ACK)
        return any(isinstance(e, IncomingCall) for e in self.log(self.bob).events[mark:])

    @defer.inlineCallbacks
    def test_an_offer_held_past_the_ring_time_and_the_skew_never_rings(self) -> Any:
        rang = yield self.held_offer_rings(RING_TIMEOUT + CLOCK_SKEW + 5)
        self.assertFalse(rang)
        self.assertIsNone(self.bob.calls.current)

    @defer.inlineCallbacks
    def test_an_offer_delivered_within_the_ring_time_rings(self) -> Any:
        rang = yield self.held_offer_rings(5)
        self.assertTrue(rang)


def _flipped(body: Any) -> Any:
    middle = len(body) // 2
    if isinstance(body, str):
        return body[:middle] + ("A" if body[middle] != "A" else "B") + body[middle + 1:]
    return body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1:]
