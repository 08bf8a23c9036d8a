"""What this device has to send, kept until the relay has it: across crashes, in order.

`queue` stores a frame (and, for a message, the message row) in one transaction and
starts a flush. A flush sends the entries oldest first; what one entry's failure does
is the policy table at the bottom (`POLICY`): wait (the others go on), drop (the relay
will never take it), pause (try the whole outbox again later) or stop (offline).
"""

from __future__ import annotations

import enum
from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client import events as ev
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError
from securechat.client.fanout import Fanout
from securechat.client.model import MessageStatus, StoredMessage
from securechat.protocol import uris
from securechat.protocol.frames import Frame


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
        store = self._ctx.store
        for seq, recipient, frame, message_id, own in (yield store.outbox()):
            if self._ctx.session is None:
                return
            try:
                rows = yield self._fanout.deliver(recipient, frame, own)
            except Exception as e:
                policy = policy_for(e)
                if policy is Policy.WAIT:
                    self.log.info("outbox entry waits: {why}", why=str(e))
                    continue
                if policy is Policy.DROP:
                    self.log.warn("dropping an undeliverable outbox entry: {error}",
                                  error=getattr(e, "error", type(e).__name__))
                    yield store.drop_outbox(seq)
                    continue
                if policy is Policy.PAUSE:
                    self.log.info("outbox paused: {error}", error=e.error)  # type: ignore
                    return
                if policy is Policy.STOP:
                    return
                raise
            yield store.sent(seq, rows, message_id)
            if message_id is not None:
                self._ctx.events.emit(ev.MessageUpdated(message_id, MessageStatus.SENT,
                                                        recipient))


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
