"""The "typing…" indicator, both ways, with its timing rules in one place.

Sending: `composing(peer, draft)` at each edit of the draft sends "typing" at most
every TYPING_REFRESH seconds (never for a blank draft), and "stopped" after
TYPING_IDLE seconds without an edit; sending the message ends it on the other side
by itself. Receiving: a peer's "typing" lapses after PEER_TYPING_LAPSE seconds
without a refresh, and ends when their message arrives. Ephemeral both ways: only
sent while online, never queued or stored.
"""

from __future__ import annotations

from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.events as ev
from securechat.client.context import ClientContext
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError
from securechat.client.fanout import Fanout
from securechat.protocol import frames
from securechat.protocol.frames import Frame

TYPING_REFRESH = 3.0  # seconds: "typing" is sent again at most this often
TYPING_IDLE = 4.0  # seconds without an edit: "stopped typing"
PEER_TYPING_LAPSE = 6.0  # seconds a peer's "typing" lasts without a refresh


class TypingIndicator:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, fanout: Fanout) -> None:
        self._ctx = ctx
        self._fanout = fanout
        self.clock: Any = ctx.reactor  # IReactorTime (tests use a task.Clock)
        self._sent: set[str] = set()  # peers told I am typing
        self._refresh_after: dict[str, float] = {}  # peer -> when "typing" may go again
        self._idle: dict[str, IDelayedCall] = {}  # peer -> the "stopped" timer
        self._typing_to_me: dict[str, IDelayedCall] = {}  # peer -> when it lapses
        handlers.register(frames.TYPING, self._frame, strangers="drop")
        ctx.events.subscribe(self._message_received, ev.MessageReceived)

    # --- my side ---------------------------------------------------------------------------

    def composing(self, peer_user_id: str, draft: str) -> None:
        """The user edited the draft to `peer_user_id` (call at every edit)."""
        if peer_user_id not in self._ctx.contacts or peer_user_id in self._ctx.blocked:
            return
        if not draft.strip():
            self.stopped(peer_user_id)
            return
        self._cancel(self._idle, peer_user_id)
        self._idle[peer_user_id] = self.clock.callLater(
            TYPING_IDLE, self.stopped, peer_user_id)
        now = self.clock.seconds()
        if now >= self._refresh_after.get(peer_user_id, 0.0):
            self._refresh_after[peer_user_id] = now + TYPING_REFRESH
            self._sent.add(peer_user_id)
            self.send(peer_user_id, True).addErrback(self._not_sent)

    def stopped(self, peer_user_id: str) -> defer.Deferred[None]:
        """The user stopped typing (idle, cleared the draft, left the chat): the peer
        stops seeing "typing…" if they were shown it."""
        self._cancel(self._idle, peer_user_id)
        self._refresh_after.pop(peer_user_id, None)
        if peer_user_id not in self._sent:
            return defer.succeed(None)
        self._sent.discard(peer_user_id)
        return self.send(peer_user_id, False).addErrback(self._not_sent)

    def _not_sent(self, failure: Failure) -> None:
        self.log.info("typing indicator not sent: {e}", e=type(failure.value).__name__)

    def message_sent(self, peer_user_id: str) -> None:
        """A message ends "typing" on the other side by itself: nothing to send."""
        self._cancel(self._idle, peer_user_id)
        self._refresh_after.pop(peer_user_id, None)
        self._sent.discard(peer_user_id)

    @defer.inlineCallbacks
    def send(self, peer_user_id: str, typing: bool = True) -> Any:
        """Send one typing frame now, if online (ephemeral: never queued)."""
        contact = self._ctx.contact(peer_user_id)
        if not self._ctx.online:
            return
        frame = Frame(frames.TYPING, contact.sid, {"typing": typing})
        try:
            yield self._ctx.outbound.run(self._deliver, peer_user_id, frame.encode())
        except (ClientError, ApplicationError, TransportLost, Disconnected) as e:
            self.log.info("typing indicator not sent: {error}", error=type(e).__name__)

    @defer.inlineCallbacks
    def _deliver(self, peer_user_id: str, frame: bytes) -> Any:
        rows = yield self._fanout.deliver(peer_user_id, frame, False, live=True)
        # The ratchets it advanced are kept like any send's (a message key is never
        # used twice after a restart), queued before the next send can advance them.
        self._ctx.store.save_sessions(rows).addErrback(
            lambda f: self.log.failure("saving sessions after a typing frame failed", f))

    # --- their side ------------------------------------------------------------------------

    def is_typing(self, peer_user_id: str) -> bool:
        """Whether `peer_user_id` is typing to me now."""
        return peer_user_id in self._typing_to_me

    def _frame(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me or origin.contact is None:
            return Outcome()
        sid, peer, typing = origin.contact.sid, origin.sender, frame.data["typing"]
        return Outcome(notify=lambda: self._set(sid, peer, typing))

    def _set(self, sid: str, peer: str, typing: bool) -> defer.Deferred[None]:
        was = self._cancel(self._typing_to_me, peer)
        if typing:
            self._typing_to_me[peer] = self.clock.callLater(
                PEER_TYPING_LAPSE, self._set, sid, peer, False)
        if was != typing:
            self._ctx.events.emit(ev.TypingChanged(sid, peer, typing))
        return defer.succeed(None)

    def _message_received(self, event: ev.MessageReceived) -> None:
        if event.peer_user_id in self._typing_to_me:
            self._set(event.message.sid, event.peer_user_id, False)

    def stop(self) -> None:
        for timers in (self._idle, self._typing_to_me):
            for peer in list(timers):
                self._cancel(timers, peer)

    @staticmethod
    def _cancel(timers: dict[str, IDelayedCall], peer: str) -> bool:
        """Cancel and forget `peer`'s timer; whether there was one."""
        timer = timers.pop(peer, None)
        if timer is None:
            return False
        if timer.active():
            timer.cancel()
        return True
