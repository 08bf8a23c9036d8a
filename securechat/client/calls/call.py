r"""One call's lifecycle, on each device that takes part.

    outgoing:  idle --place--> dialing --offer_ready--> ringing --answered--> connecting
    incoming:  idle --offered--> incoming --answer--> connecting
               connecting --media_connected--> connected --media_lost--> interrupted
               interrupted --media_connected--> connected
    ends:      ringing   --declined / busy / ring_timeout / hang_up / failed--> ended
               ringing   --unreachable--> ended (the offer reached no device of the callee)
               incoming  --decline / hang_up / hung_up / ring_timeout / elsewhere--> ended
               connecting --connect_timeout / failed / hang_up / hung_up / elsewhere--> ended
               connected, interrupted --hang_up / hung_up / failed--> ended
               interrupted --grace_over--> ended ("Call ended": the media did not return)

`dialing` fetches TURN credentials and gathers before anything is sent; a local
description without a relay candidate fails the call at once ("TURN authentication or
reachability failed"). `incoming` rings on every device of the callee: the device that
answers (or declines) sends its frame to my own devices too, and they stop ringing
(`elsewhere`). The relay answers an offer with the callee's devices that were online to
get it: none, and the call ends at once as `unreachable` rather than ringing for nobody
(the offer is never stored: a device that comes online later cannot ring). Every state
that waits on the peer or the network has a timer on the injectable `clock`: ringing
45 s (missed), connecting (connect timeout), interrupted (grace). aiortc has no ICE
restart: a drop is survived when ICE consent recovers by itself within the grace period.
The table at the bottom is the whole machine; inputs a state does not list are ignored
there (a late answer, a frame after the end).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from automat import MethodicalMachine
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client.calls.media import CallMedia, MediaSources
from securechat.client.calls.model import (
    CallError,
    CallOutcome,
    CallState,
    CallStateChanged,
    RemoteTrack,
)
from securechat.protocol import frames

RING_TIMEOUT = 45.0  # seconds before an unanswered call is missed
CONNECT_TIMEOUT = 15.0  # seconds from the answer to media flowing
GRACE = 10.0  # seconds without media before "Call ended"


class CallSide(Protocol):
    """What a call needs from client.calls.service."""

    clock: Any

    def send(self, call: Call, frame_type: str, data: dict[str, Any],
             to_own: bool = False) -> defer.Deferred[list[str] | None]: ...
    def media(self, call: Call, sources: MediaSources) -> defer.Deferred[CallMedia]: ...
    def emit(self, event: object) -> None: ...
    def finished(self, call: Call, outcome: CallOutcome) -> None: ...


def as_deferred(coroutine: Coroutine[Any, Any, Any]) -> defer.Deferred[Any]:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coroutine))


class Call:
    """A call with one contact. Outgoing: made by `client.calls.place`; incoming: given
    by an IncomingCall event. `answer`, `decline`, `hang_up` are the user's buttons."""

    _machine = MethodicalMachine()
    log = Logger()

    def __init__(self, side: CallSide, peer_user_id: str, mode: str, outgoing: bool,
                 call_id: str | None = None, remote_sdp: str | None = None) -> None:
        self._side = side
        self.call_id = call_id or str(uuid.uuid4())
        self.peer_user_id = peer_user_id
        self.mode = mode
        self.outgoing = outgoing
        self.state = CallState.DIALING if outgoing else CallState.INCOMING
        self.outcome: CallOutcome | None = None
        self.reason: str | None = None
        self.started_at = side.clock.seconds()  # when it rang (for the log)
        self.connected_at: float | None = None
        self.ended_at: float | None = None
        self.peer_device: str | None = None  # the device that answered (or I answer)
        self.media: CallMedia | None = None
        self.muted = False
        self.camera_on = mode == "video"
        self._remote_sdp = remote_sdp
        self._timer: IDelayedCall | None = None
        self.ended: defer.Deferred[CallOutcome] = defer.Deferred()

    @property
    def duration(self) -> int:
        """Whole seconds connected (0 if never)."""
        if self.connected_at is None:
            return 0
        end = self.ended_at if self.ended_at is not None else self._side.clock.seconds()
        return int(end - self.connected_at)

    # --- the user's buttons ---------------------------------------------------------------

    def answer(self, sources: MediaSources | None = None) -> None:
        self._sources = sources or MediaSources()
        self._answer()

    def decline(self) -> None:
        self._decline()

    def hang_up(self) -> None:
        self.hang_up_input()

    def set_muted(self, muted: bool) -> None:
        """The microphone off (or on again): the peer hears nothing meanwhile."""
        self.muted = muted
        if self.media is not None:
            self.media.set_sending("audio", not muted)

    def set_camera(self, on: bool) -> None:
        self.camera_on = on
        if self.media is not None:
            self.media.set_sending("video", on)

    # --- inputs ---------------------------------------------------------------------------

    @_machine.input()
    def place(self, sources: MediaSources) -> None:
        "Dial: TURN credentials, gathering, then the offer."

    @_machine.input()
    def offered(self) -> None:
        "An offer arrived: ring here."

    @_machine.input()
    def offer_ready(self, sdp: str) -> None:
        "The local offer is gathered (with relay candidates)."

    @_machine.input()
    def answered(self, sdp: str, device_id: str) -> None:
        "The peer's device answered."

    @_machine.input()
    def _answer(self) -> None:
        "The user answers here."

    @_machine.input()
    def answer_ready(self, sdp: str) -> None:
        "My answer is gathered (with relay candidates)."

    @_machine.input()
    def _decline(self) -> None:
        "The user declines here."

    @_machine.input()
    def declined(self) -> None:
        "The peer declined."

    @_machine.input()
    def busy(self) -> None:
        "The peer is in another call."

    @_machine.input()
    def unreachable(self) -> None:
        "The offer reached none of the peer's devices: none is online."

    @_machine.input()
    def ring_timeout(self) -> None:
        "Nobody answered in time."

    @_machine.input()
    def connect_timeout(self) -> None:
        "Answered, but the media did not flow in time."

    @_machine.input()
    def media_connected(self) -> None:
        "ICE and DTLS are up."

    @_machine.input()
    def media_lost(self) -> None:
        "ICE lost the path (disconnected or failed)."

    @_machine.input()
    def grace_over(self) -> None:
        "The media did not come back in time."

    @_machine.input()
    def hang_up_input(self) -> None:
        "The user hangs up here."

    @_machine.input()
    def hung_up(self, reason: str) -> None:
        "The peer hung up (or gave up)."

    @_machine.input()
    def elsewhere(self, outcome: CallOutcome) -> None:
        "Another device of mine answered or declined."

    @_machine.input()
    def failed(self, reason: str) -> None:
        "Something broke: TURN, media, signaling."

    # --- states ---------------------------------------------------------------------------

    @_machine.state(initial=True)
    def idle(self) -> None:
        "Made, nothing done."

    @_machine.state()
    def dialing(self) -> None:
        "Preparing the offer."

    @_machine.state()
    def ringing(self) -> None:
        "Offer sent; the peer rings."

    @_machine.state()
    def incoming(self) -> None:
        "Ringing here."

    @_machine.state()
    def connecting(self) -> None:
        "Answered; ICE/DTLS through TURN."

    @_machine.state()
    def connected(self) -> None:
        "Media flows."

    @_machine.state()
    def interrupted(self) -> None:
        "Media stopped; within the grace period."

    @_machine.state()
    def ended_(self) -> None:
        "Over."

    # --- outputs --------------------------------------------------------------------------

    def _report(self, state: CallState) -> None:
        self.state = state
        self._side.emit(CallStateChanged(self.call_id, self.peer_user_id, state,
                                         self.outcome, self.reason))

    def _start_timer(self, seconds: float, then: Callable[[], None]) -> None:
        self._stop_timer()
        self._timer = self._side.clock.callLater(seconds, then)

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _send(self, frame_type: str, data: dict[str, Any], to_own: bool = False
              ) -> defer.Deferred[list[str] | None]:
        def not_sent(failure: Failure) -> None:
            self.log.info("a {type} frame was not sent: {e}", type=frame_type,
                          e=type(failure.value).__name__)
            if frame_type in (frames.RTC_OFFER, frames.RTC_ANSWER):
                self.failed(f"signaling failed ({type(failure.value).__name__})")
        return self._side.send(self, frame_type, {"call_id": self.call_id, **data}, to_own
                               ).addErrback(not_sent)

    def _media_state(self, state: str) -> None:
        if state == "connected":
            self.media_connected()
        elif state in ("disconnected", "failed", "closed"):
            # "closed" too: aioice closes the connection itself when consent expires.
            # (Closed by us, the call has ended and ignores it.)
            self.media_lost()

    def _media_work(self, sources: MediaSources,
                    work: Callable[[CallMedia], Coroutine[Any, Any, Any]],
                    then: Callable[[Any], None]) -> None:
        """Media made (TURN credentials first), `work` on it, `then` its result; any
        failure fails the call with a clear reason."""
        def made(media: CallMedia) -> defer.Deferred[Any]:
            self.media = media
            if self.state is CallState.ENDED:  # hung up meanwhile
                return as_deferred(media.close())
            return as_deferred(work(media)).addCallback(then)

        def broke(failure: Failure) -> None:
            error = failure.value
            reason = str(error) if isinstance(error, CallError) else \
                f"media failed ({type(error).__name__})"
            self.log.info("call media failed: {reason}", reason=reason)
            self.failed(reason)
        self._side.media(self, sources).addCallback(made).addErrback(broke)

    @_machine.output()
    def _prepare_offer(self, sources: MediaSources) -> None:
        self._report(CallState.DIALING)
        self._media_work(sources, lambda m: m.offer(), self.offer_ready)

    @_machine.output()
    def _send_offer(self, sdp: str) -> None:
        def delivered(devices: list[str] | None) -> None:
            if devices == []:  # None: not sent (failed already), or the relay did not say
                self.unreachable()
        # (The service adds `sent`, the wall clock: see Calls._offer.)
        self._send(frames.RTC_OFFER, {"payload": sdp, "mode": self.mode}
                   ).addCallback(delivered)

    @_machine.output()
    def _ring(self) -> None:
        self._start_timer(RING_TIMEOUT, self.ring_timeout)
        self._report(CallState.INCOMING if not self.outgoing else CallState.RINGING)

    @_machine.output()
    def _tell_ringing(self) -> None:
        self._send(frames.CALL_RINGING, {})

    @_machine.output()
    def _accept_answer(self, sdp: str, device_id: str) -> None:
        self.peer_device = device_id
        self._start_timer(CONNECT_TIMEOUT, self.connect_timeout)
        self._report(CallState.CONNECTING)
        assert self.media is not None
        as_deferred(self.media.accept(sdp)).addErrback(
            lambda f: self.failed(f"the answer was refused ({type(f.value).__name__})"))

    @_machine.output()
    def _prepare_answer(self) -> None:
        self._start_timer(CONNECT_TIMEOUT, self.connect_timeout)
        self._report(CallState.CONNECTING)
        remote = self._remote_sdp or ""
        self._media_work(self._sources, lambda m: m.answer(remote), self.answer_ready)

    @_machine.output()
    def _send_answer(self, sdp: str) -> None:
        # To my own devices too: they stop ringing.
        self._send(frames.RTC_ANSWER, {"payload": sdp}, to_own=True)

    @_machine.output()
    def _send_decline(self) -> None:
        self._send(frames.CALL_DECLINE, {}, to_own=True)

    def _hang_up_frame(self, reason: str) -> None:
        self._send(frames.CALL_HANGUP, {"reason": reason, "device": None})

    @_machine.output()
    def _send_hang_up(self) -> None:
        self._hang_up_frame("hangup")

    @_machine.output()
    def _send_gave_up(self) -> None:
        self._hang_up_frame("timeout")

    @_machine.output()
    def _send_failure(self) -> None:
        self._hang_up_frame("failed")

    @_machine.output()
    def _now_connected(self) -> None:
        self._stop_timer()
        if self.connected_at is None:
            self.connected_at = self._side.clock.seconds()
        self._report(CallState.CONNECTED)

    @_machine.output()
    def _start_grace(self) -> None:
        self._start_timer(GRACE, self.grace_over)
        self._report(CallState.INTERRUPTED)

    def _end(self, outcome: CallOutcome, reason: str | None = None) -> None:
        self._stop_timer()
        self.outcome, self.reason = outcome, reason
        self.ended_at = self._side.clock.seconds()
        self._report(CallState.ENDED)
        if self.media is not None:
            self.media.stop_sources()  # now: the devices are free once the call has ended
            as_deferred(self.media.close()).addErrback(
                lambda f: self.log.failure("closing a call's media failed", f))
        self._side.finished(self, outcome)
        self.ended.callback(outcome)

    @_machine.output()
    def _end_completed(self) -> None:
        self._end(CallOutcome.COMPLETED if self.connected_at is not None
                  else CallOutcome.CANCELLED)

    @_machine.output()
    def _end_missed(self) -> None:
        self._end(CallOutcome.MISSED)

    @_machine.output()
    def _end_unreachable(self) -> None:
        self._end(CallOutcome.UNREACHABLE)

    @_machine.output()
    def _end_declined(self) -> None:
        self._end(CallOutcome.DECLINED)

    @_machine.output()
    def _end_busy(self) -> None:
        self._end(CallOutcome.BUSY)

    @_machine.output()
    def _end_failed(self, reason: str) -> None:
        self._end(CallOutcome.FAILED, reason)

    @_machine.output()
    def _end_timed_out(self) -> None:
        self._end(CallOutcome.FAILED, "the call could not connect in time")

    @_machine.output()
    def _end_network(self) -> None:
        self._end(CallOutcome.NETWORK, "Call ended: the connection was lost")

    @_machine.output()
    def _end_by_peer(self, reason: str) -> None:
        if self.connected_at is not None:
            self._end(CallOutcome.COMPLETED)
        elif not self.outgoing:
            self._end(CallOutcome.MISSED)  # the caller gave up before I answered
        else:
            self._end(CallOutcome.FAILED, "the other side could not take the call")

    @_machine.output()
    def _end_elsewhere(self, outcome: CallOutcome) -> None:
        self._end(outcome)

    def source_failed(self, kind: str) -> None:
        """The microphone or camera broke or went away: the spec's "Stream failure"
        ends the call and tells the peer."""
        device = "microphone" if kind == "audio" else "camera"
        self.failed(f"stream failure: the {device} stopped")

    def remote_track(self, track: Any) -> None:
        self._side.emit(RemoteTrack(self.call_id, track.kind, track))

    # --- the table ------------------------------------------------------------------------

    _TABLE = [
        # (state, input, next state, outputs)
        (idle, place, dialing, [_prepare_offer]),
        (idle, offered, incoming, [_ring, _tell_ringing]),
        (dialing, offer_ready, ringing, [_send_offer, _ring]),
        (dialing, failed, ended_, [_end_failed]),
        (dialing, hang_up_input, ended_, [_end_completed]),
        (ringing, answered, connecting, [_accept_answer]),
        (ringing, declined, ended_, [_end_declined]),
        (ringing, busy, ended_, [_end_busy]),
        (ringing, ring_timeout, ended_, [_send_gave_up, _end_missed]),
        (ringing, unreachable, ended_, [_end_unreachable]),
        (ringing, hang_up_input, ended_, [_send_hang_up, _end_completed]),
        (ringing, hung_up, ended_, [_end_by_peer]),
        (ringing, failed, ended_, [_send_failure, _end_failed]),
        (incoming, _answer, connecting, [_prepare_answer]),
        (incoming, _decline, ended_, [_send_decline, _end_declined]),
        (incoming, hang_up_input, ended_, [_send_decline, _end_declined]),
        (incoming, ring_timeout, ended_, [_end_missed]),
        (incoming, hung_up, ended_, [_end_by_peer]),
        (incoming, elsewhere, ended_, [_end_elsewhere]),
        (connecting, elsewhere, ended_, [_end_elsewhere]),  # both answered: the caller chose
        (connecting, answer_ready, connecting, [_send_answer]),
        (connecting, media_connected, connected, [_now_connected]),
        (connecting, connect_timeout, ended_, [_send_failure, _end_timed_out]),
        (connecting, failed, ended_, [_send_failure, _end_failed]),
        (connecting, hang_up_input, ended_, [_send_hang_up, _end_completed]),
        (connecting, hung_up, ended_, [_end_by_peer]),
        (connected, media_lost, interrupted, [_start_grace]),
        (connected, hang_up_input, ended_, [_send_hang_up, _end_completed]),
        (connected, hung_up, ended_, [_end_by_peer]),
        (connected, failed, ended_, [_send_failure, _end_failed]),
        (interrupted, media_connected, connected, [_now_connected]),
        (interrupted, grace_over, ended_, [_send_gave_up, _end_network]),
        (interrupted, hang_up_input, ended_, [_send_hang_up, _end_completed]),
        (interrupted, hung_up, ended_, [_end_by_peer]),
        (interrupted, failed, ended_, [_send_failure, _end_failed]),
    ]
    _STATES = (idle, dialing, ringing, incoming, connecting, connected, interrupted, ended_)
    _INPUTS = (place, offered, offer_ready, answered, _answer, answer_ready, _decline,
               declined, busy, unreachable, ring_timeout, connect_timeout, media_connected,
               media_lost, grace_over, hang_up_input, hung_up, elsewhere, failed)
    for _state, _input, _next, _outputs in _TABLE:
        _state.upon(_input, enter=_next, outputs=_outputs)
    # Whatever a state does not list is ignored there: a late or repeated frame, a
    # timer that lost a race, a button pressed twice.
    _listed = {(id(s), id(i)) for s, i, _, _ in _TABLE}
    for _state in _STATES:
        for _input in _INPUTS:
            if (id(_state), id(_input)) not in _listed:
                _state.upon(_input, enter=_state, outputs=[])
    del _state, _input, _next, _outputs, _listed
