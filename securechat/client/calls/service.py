"""`client.calls`: placing and taking calls, the call frames in and out, the call log.

Signaling (RTC_OFFER / RTC_ANSWER / RTC_ICE) and the control frames (CALL_RINGING,
CALL_BUSY, CALL_DECLINE, CALL_HANGUP) travel inside Olm to every device of the peer, so
the DTLS fingerprints in the SDP are authenticated end to end: a relay that changes one
breaks the envelope, never the call's keys. They are ephemeral: sent only while online,
live (`sc.message.send_live`: never stored on the relay), never queued in the outbox; an
offer older than the ring time rings nowhere: by the caller's `sent` time inside the
encryption (a relay can hold an offer back, and its own timestamp says what it likes),
allowing the two clocks to differ by up to CLOCK_SKEW. Frames about a call are taken
only from the peer's device that offered or answered it. When a call ends, the device
that took part logs it (`messages`, type 'call') and tells my other devices
(self-addressed SYNC_CALL_END) so they log it too.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.calls.media as media
import securechat.client.calls.turn as turn
from securechat.client.calls.call import RING_TIMEOUT, Call, as_deferred
from securechat.client.calls.model import (
    LOGGED,
    AlreadyInCall,
    CallError,
    CallLogged,
    CallOutcome,
    CallState,
    CallsUnavailable,
    IncomingCall,
)
from securechat.client.context import ClientContext
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError
from securechat.client.fanout import Fanout
from securechat.client.model import MessageStatus, Sender, StoredMessage
from securechat.client.outbox import Outbox
from securechat.protocol import frames
from securechat.protocol.frames import Frame

CALL_LOG_TYPE = "call"
# How far the caller's clock may be ahead of or behind mine (seconds) for an offer's
# `sent` time: an offer is refused once more than RING_TIMEOUT + CLOCK_SKEW old, or more
# than CLOCK_SKEW in the future.
CLOCK_SKEW = 120.0


def call_log_text(direction: str, mode: str, outcome: str, duration: int) -> str:
    """A call log row's `text` (the spec's JSON, with direction and outcome added)."""
    return json.dumps({"duration": duration, "mode": mode, "direction": direction,
                       "outcome": outcome}, separators=(",", ":"))


class Calls:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, fanout: Fanout,
                 outbox: Outbox, directory: DeviceDirectory) -> None:
        self._ctx = ctx
        self._fanout = fanout
        self._outbox = outbox
        self._directory = directory
        self.clock: Any = ctx.reactor  # IReactorTime for the call timers (tests: task.Clock)
        # IReactorTime for an offer's `sent` and its age: the wall clock (tests: a
        # task.Clock set to a later time, as after a relay held an offer back).
        self.wall_clock: Any = ctx.reactor
        self.stun_first_retransmission = media.STUN_FIRST_RETRANSMISSION
        self.calls: dict[str, Call] = {}  # not ended yet, by call id
        self._wall_start: dict[str, int] = {}  # call id -> when it began (ms, for the log)
        for frame_type, handle in ((frames.RTC_OFFER, self._offer),
                                   (frames.RTC_ANSWER, self._answer),
                                   (frames.RTC_ICE, self._ice),
                                   (frames.CALL_RINGING, self._ringing),
                                   (frames.CALL_BUSY, self._busy),
                                   (frames.CALL_DECLINE, self._decline),
                                   (frames.CALL_HANGUP, self._hang_up)):
            handlers.register(frame_type, handle, strangers="drop")
        handlers.register(frames.SYNC_CALL_END, self._synced, strangers="drop",
                          self_addressed=True)

    # --- the user's side ------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether this client can make calls: aiortc is installed and the reactor is
        Twisted's asyncio one (aiortc runs on asyncio)."""
        try:
            import aiortc  # noqa: F401
            from twisted.internet.asyncioreactor import AsyncioSelectorReactor
        except ImportError:
            return False
        return isinstance(self._ctx.reactor, AsyncioSelectorReactor)

    @property
    def current(self) -> Call | None:
        """The call in progress or ringing, if any."""
        return next(iter(self.calls.values()), None)

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def place(self, peer_user_id: str, mode: str = "audio",
              sources: media.MediaSources | None = None) -> Call:
        """Call a contact: the Call rings on every device of theirs once gathered.
        `call.ended` fires with its CallOutcome; CallStateChanged events follow it."""
        if mode not in frames.CALL_MODES:
            raise CallError("a call is audio or video")
        if not self.available:
            raise CallsUnavailable("calls need aiortc and the asyncio reactor")
        self._ctx.contact(peer_user_id)
        if not self._ctx.online:
            raise ClientError("not connected to the relay")
        if self.calls:
            raise AlreadyInCall()
        call = self._track(Call(self, peer_user_id, mode, outgoing=True))
        call.place(sources or media.MediaSources())
        return call

    def stop(self) -> None:
        """The client stops: every call here is hung up (the peer is told, if online)."""
        for call in list(self.calls.values()):
            call.hang_up()

    def _track(self, call: Call) -> Call:
        self.calls[call.call_id] = call
        self._wall_start[call.call_id] = int(self._ctx.reactor.seconds() * 1000)
        return call

    # --- what a Call needs (call.CallSide) -------------------------------------------------

    def send(self, call: Call, frame_type: str, data: dict[str, Any],
             to_own: bool = False) -> defer.Deferred[list[str] | None]:
        if frame_type == frames.RTC_OFFER:
            data = {**data, "sent": int(self.wall_clock.seconds() * 1000)}
        return self._send(call.peer_user_id, frame_type, data, to_own)

    def _send(self, peer: str, frame_type: str, data: dict[str, Any],
              to_own: bool = False) -> defer.Deferred[list[str] | None]:
        """Fires with the devices (the peer's, or my own copies) that were online to get
        the frame (None if the relay did not say)."""
        contact = self._ctx.contacts.get(peer)
        if contact is None or not self._ctx.online:
            return defer.fail(ClientError("not connected to the relay"))
        frame = Frame(frame_type, contact.sid, data)
        return self._ctx.outbound.run(self._deliver, peer, frame.encode(), to_own)

    @defer.inlineCallbacks
    def _deliver(self, peer: str, frame: bytes, to_own: bool) -> Any:
        rows, answer = yield self._fanout.deliver_answered(peer, frame, to_own, live=True)
        # As for typing frames: the ratchets advanced are kept before the next send.
        self._ctx.store.save_sessions(rows).addErrback(
            lambda f: self.log.failure("saving sessions after a call frame failed", f))
        delivered = answer.get("delivered") if isinstance(answer, dict) else None
        if not isinstance(delivered, list):
            return None  # a relay that does not say: nothing is concluded from it
        return [d for d in delivered if isinstance(d, str)]

    @defer.inlineCallbacks
    def media(self, call: Call, sources: media.MediaSources) -> Any:
        servers = yield turn.fetch(self._ctx)
        media.tune_stun(self.stun_first_retransmission)
        return media.CallMedia(servers, sources, call.mode, call._media_state,
                               call.remote_track, call.source_failed)

    def emit(self, event: object) -> None:
        self._ctx.events.emit(event)

    def finished(self, call: Call, outcome: CallOutcome) -> None:
        self.calls.pop(call.call_id, None)
        started = self._wall_start.pop(call.call_id, 0)
        if outcome not in LOGGED:
            return  # the device that took it logs it, and tells this one
        direction = "out" if call.outgoing else "in"
        row = self._log_row(call.call_id, call.peer_user_id, direction, call.mode,
                            outcome.value, started, call.duration)
        if row is None:
            return
        self._ctx.store.add_message(row).addCallback(
            lambda new: new and self.emit(CallLogged(row, call.peer_user_id))).addErrback(
            lambda f: self.log.failure("storing a call log row failed", f))
        if call.outgoing or outcome is not CallOutcome.MISSED:  # each device saw a miss
            self._sync(call, direction, outcome, started)

    def _sync(self, call: Call, direction: str, outcome: CallOutcome, started: int) -> None:
        me = self._ctx.me
        if not any(d != me.device_id for d in self._directory.devices.get(me.user_id, {})):
            return
        data = {"call_id": call.call_id, "peer": call.peer_user_id, "direction": direction,
                "mode": call.mode, "outcome": outcome.value, "started": started,
                "duration": call.duration}
        # Through the outbox: a device of mine that is offline logs it later.
        self._outbox.queue(me.user_id, Frame(frames.SYNC_CALL_END, "", data),
                           copy_to_own=False).addErrback(
            lambda f: self.log.failure("queueing SYNC_CALL_END failed", f))

    def _log_row(self, call_id: str, peer: str, direction: str, mode: str, outcome: str,
                 started: int, duration: int) -> StoredMessage | None:
        contact = self._ctx.contacts.get(peer)
        if contact is None:
            return None
        return StoredMessage(
            call_id, contact.sid, Sender.ME if direction == "out" else Sender.OTHER,
            call_log_text(direction, mode, outcome, duration), CALL_LOG_TYPE, started,
            int(MessageStatus.SENT), outcome != CallOutcome.MISSED, None)

    # --- frames in ------------------------------------------------------------------------

    def _from_peer(self, frame: Frame, origin: Origin) -> Call | None:
        """The live call this frame of the peer is about, if it comes from the device
        that call is with (any of the peer's devices until one answered)."""
        call = self.calls.get(frame.data["call_id"])
        if (call is None or origin.from_me or origin.sender != call.peer_user_id
                or (call.peer_device is not None and origin.device_id
                    and origin.device_id != call.peer_device)):
            return None
        return call

    def _my_copy(self, frame: Frame, origin: Origin) -> Call | None:
        """The call ringing here that another device of mine just took or declined."""
        call = self.calls.get(frame.data["call_id"])
        if call is None or not origin.from_me or origin.peer != call.peer_user_id:
            return None
        return call

    def _offer(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me or origin.contact is None:
            return Outcome()
        now = self.wall_clock.seconds()
        age = now - frame.data["sent"] / 1000  # by the caller's clock, not the relay's
        if not -CLOCK_SKEW <= age <= RING_TIMEOUT + CLOCK_SKEW or (
                origin.relay_ts is not None and now - origin.relay_ts / 1000 > RING_TIMEOUT):
            self.log.info("ignoring a stale call offer")
            return Outcome()
        data, peer, device = frame.data, origin.sender, origin.device_id
        return Outcome(notify=lambda: self._offered(data, peer, device))

    def _offered(self, data: dict[str, Any], peer: str, device: str) -> defer.Deferred[None]:
        call_id = data["call_id"]
        if call_id in self.calls:
            return defer.succeed(None)
        if not self.available:
            self.log.info("a call rang, but this client cannot take calls")
            return defer.succeed(None)
        if self.calls:
            self._send(peer, frames.CALL_BUSY, {"call_id": call_id}).addErrback(
                lambda f: self.log.info("busy not sent: {e}", e=type(f.value).__name__))
            return defer.succeed(None)
        call = self._track(Call(self, peer, data["mode"], outgoing=False, call_id=call_id,
                                remote_sdp=data["payload"]))
        call.peer_device = device or None
        call.offered()
        self.emit(IncomingCall(call_id, peer, call.mode))
        return defer.succeed(None)

    def _later(self, work: Any) -> Outcome:
        """Act once the frame's envelope is handled (nothing to store)."""
        def run() -> defer.Deferred[None]:
            work()
            return defer.succeed(None)
        return Outcome(notify=run)

    def _answer(self, frame: Frame, origin: Origin) -> Outcome:
        mine = self._my_copy(frame, origin)
        if mine is not None:
            return self._later(lambda: mine.elsewhere(CallOutcome.ANSWERED_ELSEWHERE))
        call = self.calls.get(frame.data["call_id"])
        if call is None or not call.outgoing or origin.sender != call.peer_user_id:
            return Outcome()
        device = origin.device_id
        if call.peer_device is not None and device != call.peer_device:
            # A second device answered too: the first one has the call.
            return self._later(lambda: self._send(
                call.peer_user_id, frames.CALL_HANGUP,
                {"call_id": call.call_id, "reason": "answered_elsewhere", "device": device}
            ).addErrback(lambda f: None))
        sdp = frame.data["payload"]
        return self._later(lambda: call.answered(sdp, device))

    def _ice(self, frame: Frame, origin: Origin) -> Outcome:
        call = self._from_peer(frame, origin)
        if call is None or call.media is None:
            return Outcome()
        line, m = frame.data["payload"], call.media
        return self._later(lambda: as_deferred(m.add_candidate(line)).addErrback(
            lambda f: self.log.info("a trickled candidate was refused")))

    def _ringing(self, frame: Frame, origin: Origin) -> Outcome:
        return Outcome()  # the peer's devices ring: the Call is RINGING already

    def _busy(self, frame: Frame, origin: Origin) -> Outcome:
        call = self._from_peer(frame, origin)
        if call is None or not call.outgoing:
            return Outcome()
        return self._later(call.busy)

    def _decline(self, frame: Frame, origin: Origin) -> Outcome:
        mine = self._my_copy(frame, origin)
        if mine is not None:
            return self._later(lambda: mine.elsewhere(CallOutcome.DECLINED_ELSEWHERE))
        call = self._from_peer(frame, origin)
        if call is None or not call.outgoing or call.state is not CallState.RINGING:
            return Outcome()
        return self._later(call.declined)

    def _hang_up(self, frame: Frame, origin: Origin) -> Outcome:
        call = self._from_peer(frame, origin)
        target = frame.data["device"]
        if call is None or (target is not None and target != self._ctx.me.device_id):
            return Outcome()
        if frame.data["reason"] == "answered_elsewhere":
            return self._later(lambda: call.elsewhere(CallOutcome.ANSWERED_ELSEWHERE))
        reason = frame.data["reason"]
        return self._later(lambda: call.hung_up(reason))

    def _synced(self, frame: Frame, origin: Origin) -> Outcome:
        if not origin.self_addressed:
            return Outcome()
        data = frame.data
        if data["direction"] not in ("in", "out") or data["outcome"] not in {
                o.value for o in LOGGED} or data["mode"] not in frames.CALL_MODES:
            return Outcome()
        row = self._log_row(data["call_id"], data["peer"], data["direction"], data["mode"],
                            data["outcome"], data["started"], data["duration"])
        if row is None:
            return Outcome()
        ringing = self.calls.get(data["call_id"])
        peer = data["peer"]

        def told() -> defer.Deferred[None]:
            if ringing is not None and not ringing.outgoing:
                ringing.elsewhere(CallOutcome.ANSWERED_ELSEWHERE)
            self.emit(CallLogged(row, peer))
            return defer.succeed(None)
        return Outcome(message=row, notify=told)

