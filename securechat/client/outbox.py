"""What this device has to send, kept until the relay has it: across crashes, in order.

`queue` stores a frame (and, for a message, the message row) in one transaction and
starts a flush. A flush sends the entries oldest first; what one entry's failure does
is the policy table at the bottom (`POLICY`): wait (the others go on), drop (the relay
will never take it), pause (try the whole outbox again later) or stop (offline).
"""

from __future__ import annotations

import collections
import enum
from typing import Any

import attrs
from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.events as ev
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError
from securechat.client.fanout import MAX_ATTEMPTS, Fanout
from securechat.client.model import MessageStatus, StoredMessage
from securechat.protocol import uris
from securechat.protocol.frames import Frame

# Entries with the relay at once: well under its calls-in-flight limit (64 by default),
# with room for the client's other calls. A refused call would let later entries
# overtake it.
WINDOW = 32


class Policy(enum.Enum):
    WAIT = "wait"  # this entry stays; the ones after it go on
    DROP = "drop"  # the relay will never take it: drop it (logged)
    PAUSE = "pause"  # stop this flush; the next one tries again
    STOP = "stop"  # offline: the next connection flushes


class Outbox:
    log = Logger()

    def __init__(self, ctx: ClientContext, fanout: Fanout) -> None:
        self._ctx = ctx
        self._fanout = fanout
        self._flush_requested = False
        self._flush_waiters: list[defer.Deferred[None]] = []

    @defer.inlineCallbacks
    def queue(self, recipient: str, frame: Frame, message: StoredMessage | None = None,
              copy_to_own: bool = True) -> Any:
        """Keep `frame` for `recipient` (with `message`, stored pending, shown at once)
        and send it as soon as possible. Fires once it is stored, not sent."""
        yield self._ctx.store.queue(recipient, frame.encode(), copy_to_own, message)
        if message is not None:
            self._ctx.events.emit(ev.MessageSent(message, self._ctx.peer_of(message.sid)
                                                 or recipient))
        self.flush()

    def flush(self) -> defer.Deferred[None]:
        """Send everything queued, in order. Fires once a pass that started after this
        request is done; requests made while a pass waits to start share that pass."""
        if self._ctx.closed:
            return defer.succeed(None)  # stopped: the outbox is sent at the next start
        d: defer.Deferred[None] = defer.Deferred()
        self._flush_waiters.append(d)
        if not self._flush_requested:
            self._flush_requested = True
            self._ctx.outbound.run(self._flush_pass)
        return d

    @defer.inlineCallbacks
    def handed_off(self, since: set[int] | None = None) -> Any:
        """Deferred[bool]: flush, then whether every entry (queued after the seqs in
        `since`, if given) was taken by the relay."""
        yield self.flush()
        left = [seq for seq, *_ in (yield self._ctx.store.outbox())
                if since is None or seq not in since]
        return not left

    @defer.inlineCallbacks
    def entries(self) -> Any:
        """Deferred[set[int]]: the seqs of what waits now (see `handed_off`)."""
        return {seq for seq, *_ in (yield self._ctx.store.outbox())}

    def _flush_pass(self) -> defer.Deferred[None]:
        self._flush_requested = False
        waiters, self._flush_waiters = self._flush_waiters, []

        def done(result: Any) -> None:
            if isinstance(result, Failure):
                self.log.failure("sending the outbox failed", result)
            for waiter in waiters:
                waiter.callback(None)

        return self._flush().addBoth(done)

    @defer.inlineCallbacks
    def _flush(self) -> Any:
        """One pass over the outbox, pipelined: entries are encrypted in order and up to
        WINDOW of them are with the relay at once (it stores them in the order they
        come); entries queued meanwhile join while the first are still out. Answers are
        settled in order, a run at a time (`_settle`). A pass ends once what it sent is
        recorded.

        Order per recipient: once an entry for a recipient fails, nothing more goes to
        them in this pass, so nothing overtakes it; after a stale device list (the relay
        names it), their entries go again in order once all their answers are in."""
        ctx = self._ctx
        run = _Pass()
        in_flight: collections.deque[_InFlight] = collections.deque()
        writes: list[defer.Deferred[Any]] = []
        stop = False
        try:
            while not stop:
                out = {entry.recipient for entry in in_flight}
                run.retry_now(out)
                issued = {entry.seq for entry in in_flight}
                rows = [r for r in (yield ctx.store.outbox())
                        if r[0] not in run.done and r[0] not in issued
                        and r[1] not in run.held]
                if not rows and not in_flight:
                    return
                for seq, recipient, frame, message_id, own in rows:
                    while len(in_flight) >= WINDOW and not stop:
                        stop = yield self._settle(in_flight, run, writes)
                    session = ctx.session
                    if stop or session is None:
                        stop = True
                        break
                    if recipient in run.held:  # an earlier entry to them failed meanwhile
                        continue
                    try:
                        envelopes, sent_to = yield self._fanout.encrypt_for(
                            recipient, frame, own, recipient in run.refresh)
                    except Exception as e:
                        run.hold(recipient, e)
                        stop = (yield self._failed(seq, e, run.done)) or stop
                        if stop:
                            break
                        continue
                    run.refresh.discard(recipient)
                    in_flight.append(_InFlight(seq, recipient, message_id, sent_to,
                                               session.call(uris.MESSAGE_SEND, recipient,
                                                            envelopes)))
                # Half the window settled, the outbox is read again for what came meanwhile
                # (while the rest is still out). When other work waits for the outbound
                # lock (a typing frame, a device list), which a steady stream of new
                # entries must not hold up, everything is settled and the pass ends: the
                # next one (already requested) takes the rest.
                others_wait = len(ctx.outbound.waiting) > int(self._flush_requested)
                keep = WINDOW // 2 if rows and not others_wait else 0
                while len(in_flight) > keep and not stop:
                    stop = yield self._settle(in_flight, run, writes)
                stop = stop or others_wait
        finally:
            while in_flight:  # answers to what was handed over are settled in any case
                yield self._settle(in_flight, run, writes)
            yield defer.DeferredList(writes)

    @defer.inlineCallbacks
    def _settle(self, in_flight: collections.deque[_InFlight], run: _Pass,
                writes: list[defer.Deferred[Any]]) -> Any:
        """Settle the oldest answer, and every answer already in after it; accepted
        entries leave the outbox in one write, with the ratchets they advanced. Fires
        True if the pass must stop."""
        stop = False
        accepted: list[_InFlight] = []
        yield in_flight[0].call
        while in_flight and in_flight[0].call.called:
            sending = in_flight.popleft()
            failure = sending.failure
            if failure is None:
                accepted.append(sending)
                run.done.add(sending.seq)
                continue
            run.hold(sending.recipient, failure.value)
            if (failure.check(ApplicationError)
                    and failure.value.error == uris.ERR_DEVICE_MISMATCH):
                self.log.info("device list changed for a recipient; refreshing")
                run.attempts[sending.seq] = run.attempts.get(sending.seq, 0) + 1
                if run.attempts[sending.seq] >= MAX_ATTEMPTS:
                    # A device without keys to start a session, say: this entry waits.
                    self.log.info("outbox entry waits: the recipient's devices cannot all "
                                  "be reached yet")
                    run.done.add(sending.seq)
                else:
                    run.refresh.add(sending.recipient)
            else:
                stop = (yield self._failed(sending.seq, failure.value, run.done)) or stop
        if accepted:
            rows = self._fanout.session_rows([p for entry in accepted for p in entry.sent_to])
            write = self._ctx.store.sent([(e.seq, e.message_id) for e in accepted], rows)
            by_id = {e.message_id: e.recipient for e in accepted if e.message_id}
            write.addCallback(self._ticked_sent, by_id)
            write.addErrback(lambda f: self.log.failure("recording sent entries failed", f))
            writes.append(write)
        return stop

    def _ticked_sent(self, moved: list[str], recipients: dict[str, str]) -> None:
        for message_id in moved:
            self._ctx.events.emit(ev.MessageUpdated(message_id, MessageStatus.SENT,
                                                    recipients[message_id]))

    @defer.inlineCallbacks
    def _failed(self, seq: int, error: BaseException, done: set[int]) -> Any:
        """An entry could not be sent (`POLICY`); fires True if the pass must stop."""
        policy = policy_for(error) if isinstance(error, Exception) else None
        if policy is Policy.WAIT:
            self.log.info("outbox entry waits: {why}", why=str(error))
            done.add(seq)
            return False
        if policy is Policy.DROP:
            self.log.warn("dropping an undeliverable outbox entry: {error}",
                          error=getattr(error, "error", type(error).__name__))
            done.add(seq)
            yield self._ctx.store.drop_outbox(seq)
            return False
        if policy is Policy.PAUSE:
            self.log.info("outbox paused: {error}", error=getattr(error, "error", ""))
        elif policy is None:  # a bug: the entry stays for later
            self.log.failure("sending an outbox entry failed", Failure(error))
        return True


@attrs.define
class _Pass:
    """What one flush pass has learnt."""

    done: set[int] = attrs.Factory(set)  # seqs sent, dropped or left waiting
    attempts: dict[int, int] = attrs.Factory(dict)  # seq -> device-list disputes so far
    held: set[str] = attrs.Factory(set)  # recipients after a failure: nothing more to them
    refresh: set[str] = attrs.Factory(set)  # recipients whose device list the relay disputed

    def hold(self, recipient: str, error: BaseException) -> None:
        """An entry to `recipient` failed: the later ones wait (unless it was dropped for
        good, which they need not wait for)."""
        if not isinstance(error, Exception) or policy_for(error) is not Policy.DROP:
            self.held.add(recipient)
        self.refresh.discard(recipient)

    def retry_now(self, in_flight: set[str]) -> None:
        """Recipients held for a stale device list go again, in order, once none of
        their entries is still out (their list is read again first)."""
        self.held -= {r for r in self.refresh if r not in in_flight}


@attrs.define
class _InFlight:
    """An outbox entry handed to the relay, its answer to come."""

    seq: int
    recipient: str
    message_id: str | None
    sent_to: list[tuple[str, str]]
    call: defer.Deferred[Any] = attrs.field(repr=False)  # fires None once answered
    failure: Failure | None = None  # how the call failed, once answered

    def __attrs_post_init__(self) -> None:
        def answer(result: Any) -> None:
            if isinstance(result, Failure):
                self.failure = result

        self.call.addBoth(answer)


# Relay errors that mean the relay will never take the entry.
UNDELIVERABLE = frozenset({uris.ERR_NO_SUCH_ACCOUNT, uris.ERR_INVALID_ARGUMENT,
                           uris.ERR_PAYLOAD_TOO_LARGE})

POLICY: list[tuple[type[Exception], Policy]] = [
    (ClientError, Policy.WAIT),  # a changed key to accept, no reachable device...
    (ApplicationError, Policy.PAUSE),  # but DROP for UNDELIVERABLE, below
    (TransportLost, Policy.STOP),
    (Disconnected, Policy.STOP),
]


def policy_for(error: Exception) -> Policy | None:
    """What a failure to send one entry does (None: a bug, raised)."""
    if isinstance(error, ApplicationError) and error.error in UNDELIVERABLE:
        return Policy.DROP
    return next((policy for kind, policy in POLICY if isinstance(error, kind)), None)
