"""One client's WAMP session on the router, from WebSocket open to close.

Lifecycle: NEW --HELLO--> AUTHENTICATING --(CHALLENGE)--> CHALLENGED
--AUTHENTICATE--> ESTABLISHED --GOODBYE/close--> CLOSED. A message that does
not belong in the current state is a protocol violation: the session is
aborted with `wamp.error.protocol_violation` and nobody else is affected.
"""

from __future__ import annotations

import enum
import itertools
from typing import Any, Protocol

from autobahn.exception import PayloadExceededError
from autobahn.util import id as new_id
from autobahn.wamp import message as wamp
from autobahn.wamp import role
from autobahn.wamp.exception import SerializationError, TransportLost
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from securechat.protocol import uris
from securechat.protocol.wamp_validation import UriTooLong
from securechat.relay.auth import Authenticator, AuthRefused, Challenge, Welcome
from securechat.relay.authorization import Principal
from securechat.relay.broker import Broker
from securechat.relay.config import RelayConfig
from securechat.relay.connections import Admission
from securechat.relay.dealer import Dealer
from securechat.relay.limits import TokenBucket

_ROLES = {
    "broker": role.RoleBrokerFeatures(publisher_exclusion=True),
    "dealer": role.RoleDealerFeatures(
        caller_identification=True, call_canceling=True, progressive_call_results=True
    ),
}
_NOBODY = Principal(role="", authid="")
_RATE_LIMITED = (wamp.Call, wamp.Publish, wamp.Subscribe, wamp.Register)


class State(enum.Enum):
    NEW = "new"
    AUTHENTICATING = "authenticating"
    CHALLENGED = "challenged"
    ESTABLISHED = "established"
    CLOSED = "closed"


class Realm(Protocol):
    """What a session needs of the router (router.Router)."""

    config: RelayConfig
    clock: IReactorTime
    authenticator: Authenticator
    broker: Broker
    dealer: Dealer

    def opened(self, session: RouterSession) -> None:
        """A connection opened (before HELLO)."""

    def attach(self, session: RouterSession) -> None:
        """The session was welcomed."""

    def closed(self, session: RouterSession, was_established: bool) -> None:
        """The connection is gone."""


@implementer(IPushProducer)
class RouterSession:
    """Implements autobahn's ITransportHandler for the WebSocket transport.

    It is also the push producer of its socket, so it knows when what it sent is
    not being read: it then stops reading the peer's requests, a mailbox fetch
    waits, and a peer that leaves too much unread is dropped (`send`).
    """

    log = Logger()

    def __init__(self, router: Realm) -> None:
        self.router = router
        self.id: int = new_id()
        self.principal: Principal = _NOBODY
        self.peer = ""
        self.subscriptions: set[int] = set()
        self.registrations: set[int] = set()
        self.state = State.NEW
        self.welcomed = False
        self._transport: Any = None
        self._challenge: Challenge | None = None
        # The device a cryptosign handshake in progress is for: removing that device
        # aborts the handshake (H6).
        self.pending_device: str | None = None
        self._request_ids = itertools.count(1)
        self._rate: TokenBucket | None = None
        self._hello_timer: IDelayedCall | None = None
        self._idle_timer: IDelayedCall | None = None  # anonymous sessions only
        self._leave_after_reply: tuple[str, str] | None = None
        self.admission: Admission | None = None  # its place in the connection counts
        self.closed: defer.Deferred[None] = defer.Deferred()  # fires once the connection is gone
        # What this session holds in the relay (the dealer keeps these up to date).
        self.calls: dict[int, Any] = {}  # CALL request id -> PendingCall, while unanswered
        self.invocations: dict[int, Any] = {}  # INVOCATION id -> PendingCall (as callee)
        self.calls_in_flight = 0  # relay calls still running (canceled too), routed unanswered
        self.request_bytes = 0  # frames of the relay calls still running
        self.frame_bytes = 0  # size of the WebSocket message being handled
        self.fetching = defer.DeferredLock()  # one mailbox page at a time (Delivery.fetch)
        # Flow control: why reading from the peer is paused; whether the socket's
        # buffer is full, and how much was queued beyond it since.
        self._read_paused: set[str] = set()
        self._send_blocked = False
        self._unsent_bytes = 0
        self._drain_waiters: list[defer.Deferred[None]] = []
        # Refusals are logged at most once per interval (log flooding, L4).
        self._refusal_log_due = 0.0
        self._refusals_unlogged = 0

    # --- ITransportHandler -------------------------------------------------------

    def onOpen(self, transport: Any) -> None:
        self._transport = transport
        # The client's address: a trusted proxy's X-Forwarded-For or PROXY header,
        # else the TCP peer (RelayServerProtocol found out which).
        self.admission = transport.admission
        self.peer = transport.client_address
        self.log.info("connection from {peer}", peer=self.peer)
        self._hello_timer = self.router.clock.callLater(
            self.router.config.hello_timeout, self._hello_timed_out
        )
        transport.registerProducer(self, True)
        self.router.opened(self)

    def onMessage(self, msg: wamp.Message) -> None:
        if self.state is State.ESTABLISHED:
            self._established(msg)
        elif isinstance(msg, wamp.Abort | wamp.Goodbye):
            self._close()
        elif self.state is State.NEW and isinstance(msg, wamp.Hello):
            self._hello(msg)
        elif self.state is State.CHALLENGED and isinstance(msg, wamp.Authenticate):
            self._authenticate(msg)
        elif self.state is not State.CLOSED:
            self.protocol_violation(
                f"{type(msg).__name__.upper()} is not allowed before the session is established"
            )

    def onClose(self, wasClean: bool) -> None:
        self.state = State.CLOSED
        for timer in (self._hello_timer, self._idle_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self.router.closed(self, was_established=self.welcomed)
        self._wake_drain_waiters()
        self.closed.callback(None)

    def uri_too_long(self, refusal: UriTooLong) -> None:
        """A request whose URI is too long: an ERROR, the session carries on."""
        if self.state is not State.ESTABLISHED:
            self.protocol_violation(str(refusal))
            return
        most = self.router.config.max_uri_length
        self.log_refusal("a URI longer than {most} characters", most=most)
        if refusal.wants_answer and refusal.request is not None:
            self.send(wamp.Error(refusal.code, refusal.request, uris.ERR_URI_TOO_LONG,
                                 args=[str(refusal)], kwargs={"max_length": most}))

    # --- flow control (IPushProducer: the socket tells us when its buffer is full) ---

    def pauseProducing(self) -> None:
        if not self._send_blocked:  # called again on every write while full
            self._send_blocked = True
            self._unsent_bytes = 0
            self._pause_reading("unread answers")

    def resumeProducing(self) -> None:
        self._send_blocked = False
        self._resume_reading("unread answers")
        self._wake_drain_waiters()

    def stopProducing(self) -> None:
        pass  # the connection is gone: onClose follows

    def drained(self) -> defer.Deferred[None]:
        """Fires once the socket has taken everything sent so far (or closed)."""
        if not self._send_blocked or self.state is State.CLOSED:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._drain_waiters.append(d)
        return d

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for d in waiters:
            d.callback(None)

    def _pause_reading(self, reason: str) -> None:
        if not self._read_paused and self._transport is not None:
            self._transport.transport.pauseProducing()
        self._read_paused.add(reason)

    def _resume_reading(self, reason: str) -> None:
        if reason not in self._read_paused:
            return
        self._read_paused.discard(reason)
        if not self._read_paused and self._transport is not None and self.state is not State.CLOSED:
            self._transport.transport.resumeProducing()

    def call_started(self, frame_bytes: int) -> None:
        """A call this session made is now held by the relay (PendingCall)."""
        self.calls_in_flight += 1
        self.request_bytes += frame_bytes
        if self.request_bytes > self.router.config.max_request_bytes_in_flight:
            # Stop reading more until the relay has answered some (its DB is behind).
            self._pause_reading("requests in flight")

    def call_ended(self, frame_bytes: int) -> None:
        self.calls_in_flight -= 1
        self.request_bytes -= frame_bytes
        if self.request_bytes <= self.router.config.max_request_bytes_in_flight:
            self._resume_reading("requests in flight")

    def log_refusal(self, what: str, **fields: Any) -> None:
        """Log a refused request at most once per interval per session; `what` is a
        constant format (peer-chosen text goes in `fields`). Counts those left out."""
        now = self.router.clock.seconds()
        if now < self._refusal_log_due:
            self._refusals_unlogged += 1
            return
        self._refusal_log_due = now + self.router.config.refusal_log_interval
        self.log.info("refused for {authid} ({peer}): " + what + " ({unlogged} more not logged)",
                      authid=self.principal.authid or "-", peer=self.peer,
                      unlogged=self._refusals_unlogged, **fields)
        self._refusals_unlogged = 0

    # --- sending -----------------------------------------------------------------

    def send(self, msg: wamp.Message) -> None:
        if self._transport is None or self.state is State.CLOSED:
            return
        try:
            blocked = self._send_blocked  # before this message (its write may block)
            sent = self._transport.send(msg)
            if blocked:
                self._unsent_bytes += sent
                if self._unsent_bytes > self.router.config.max_send_buffer_bytes:
                    self._slow_consumer()
        except TransportLost:
            pass
        except SerializationError:
            self.log.failure("could not serialize a message for {authid}",
                             authid=self.principal.authid)
        except PayloadExceededError:
            # Bigger than a WebSocket message may be (a callee's huge result, say):
            # the caller gets an error instead of waiting forever.
            self.log.info("a {kind} for {authid} was too large to send",
                          kind=type(msg).__name__, authid=self.principal.authid)
            if isinstance(msg, wamp.Result):
                self.send(wamp.Error(wamp.Call.MESSAGE_TYPE, msg.request,
                                     uris.ERR_PAYLOAD_TOO_LARGE,
                                     args=["the result is larger than a message may be"]))
        if self._leave_after_reply is not None and isinstance(msg, wamp.Result):
            self.abort(*self._leave_after_reply)

    def send_error(self, request: Any, uri: str, *args: Any, **kwargs: Any) -> None:
        self.send(wamp.Error(request.MESSAGE_TYPE, request.request, uri,
                             args=list(args) or None, kwargs=kwargs or None))

    def next_request_id(self) -> int:
        return next(self._request_ids)

    def abort(self, reason: str, message: str) -> None:
        """End the session with ABORT (before WELCOME) or GOODBYE (after)."""
        if self.state is State.CLOSED:
            return
        self.log.info("closing session of {peer} ({authid}): {reason}", peer=self.peer,
                      authid=self.principal.authid or "-", reason=reason)
        if self.state is State.ESTABLISHED:
            self.send(wamp.Goodbye(reason, message))
        else:
            self.send(wamp.Abort(reason, message))
        self._close()

    def leave_after_reply(self, reason: str, message: str) -> None:
        """End the session (GOODBYE) right after the next RESULT it is sent."""
        self._leave_after_reply = (reason, message)

    def _slow_consumer(self) -> None:
        """The peer leaves too much unread: drop the connection (no GOODBYE: it would
        only queue behind the rest), which frees what was queued for it."""
        self.log.info("dropping {peer} ({authid}): it does not read what it is sent",
                      peer=self.peer, authid=self.principal.authid or "-")
        self.state = State.CLOSED
        self._transport.dropConnection(abort=True)

    def protocol_violation(self, message: str) -> None:
        self.abort(uris.WAMP_PROTOCOL_VIOLATION, message)

    def _close(self) -> None:
        if self._transport is not None and self.state is not State.CLOSED:
            self.state = State.CLOSED
            self._transport.sendClose(1000)

    # --- opening handshake -------------------------------------------------------

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        if self.state is not State.ESTABLISHED:
            self.abort(uris.ERR_AUTH_TIMEOUT, "no successful authentication in time")

    def _hello(self, msg: wamp.Hello) -> None:
        self.state = State.AUTHENTICATING
        d = self.router.authenticator.hello(msg, self.peer)
        d.addCallbacks(self._hello_answered, self._refused)

    def _hello_answered(self, answer: Welcome | Challenge) -> None:
        if self.state is not State.AUTHENTICATING:
            return  # closed meanwhile
        if isinstance(answer, Welcome):
            self._welcome(answer)
        else:
            self._challenge = answer
            self.pending_device = answer.device_id
            self.state = State.CHALLENGED
            self.send(wamp.Challenge(answer.method, answer.extra))

    def _authenticate(self, msg: wamp.Authenticate) -> None:
        assert self._challenge is not None
        challenge, self._challenge = self._challenge, None
        self.state = State.AUTHENTICATING
        d = defer.maybeDeferred(challenge.verify, msg)
        d.addCallbacks(self._verified, self._refused)

    def _verified(self, welcome: Welcome) -> None:
        if self.state is not State.AUTHENTICATING:
            return  # closed (or aborted: its device was removed) meanwhile
        self._welcome(welcome)

    def _refused(self, failure: Failure) -> None:
        if self.state is State.CLOSED:
            return
        if failure.check(AuthRefused):
            refusal: AuthRefused = failure.value
            self.log.info("authentication refused for {peer}: {reason}", peer=self.peer,
                          reason=refusal.reason)
            self.abort(refusal.reason, refusal.message)
        else:
            self.log.failure("authentication failed", failure)
            self.abort(uris.ERR_INTERNAL, "the relay could not authenticate this session")

    def _welcome(self, welcome: Welcome) -> None:
        self.pending_device = None
        self.principal = welcome.principal
        self.state = State.ESTABLISHED
        self.welcomed = True
        if self._hello_timer is not None and self._hello_timer.active():
            self._hello_timer.cancel()
        config = self.router.config
        self._rate = TokenBucket(self.router.clock, config.session_rate, config.session_burst)
        if self.principal.role == uris.ROLE_ANONYMOUS:
            # It may only register, which takes one call: it does not get to hold
            # a connection open.
            self._idle_timer = self.router.clock.callLater(
                config.anonymous_idle_timeout, self.abort, uris.CLOSE_IDLE,
                "an anonymous session that sends nothing is closed")
        self.log.info("{peer} authenticated as {authid} ({role}, {method})", peer=self.peer,
                      authid=self.principal.authid, role=self.principal.role,
                      method=welcome.authmethod)
        self.send(wamp.Welcome(
            self.id, _ROLES, authid=self.principal.authid, authrole=self.principal.role,
            authmethod=welcome.authmethod, authprovider="securechat",
            authextra=welcome.authextra or None,
        ))
        self.router.attach(self)

    # --- an established session --------------------------------------------------

    def _established(self, msg: wamp.Message) -> None:
        assert self._rate is not None
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.reset(self.router.config.anonymous_idle_timeout)
        if isinstance(msg, _RATE_LIMITED):
            cost = self.router.dealer.cost(msg) if isinstance(msg, wamp.Call) else 1.0
            wait = self._rate.take(min(cost, self.router.config.session_burst))
            if wait:
                self._rate_limited(msg, wait)
                return
        router = self.router
        if isinstance(msg, wamp.Call):
            router.dealer.call(self, msg)
        elif isinstance(msg, wamp.Publish):
            router.broker.publish(self, msg)
        elif isinstance(msg, wamp.Yield):
            router.dealer.yield_(self, msg)
        elif isinstance(msg, wamp.Subscribe):
            router.broker.subscribe(self, msg)
        elif isinstance(msg, wamp.Unsubscribe):
            router.broker.unsubscribe(self, msg)
        elif isinstance(msg, wamp.Register):
            router.dealer.register(self, msg)
        elif isinstance(msg, wamp.Unregister):
            router.dealer.unregister(self, msg)
        elif isinstance(msg, wamp.Cancel):
            router.dealer.cancel(self, msg)
        elif isinstance(msg, wamp.Error) and msg.request_type == wamp.Invocation.MESSAGE_TYPE:
            router.dealer.invocation_error(self, msg)
        elif isinstance(msg, wamp.Goodbye):
            self.send(wamp.Goodbye(uris.WAMP_GOODBYE_AND_OUT))
            self._close()
        elif isinstance(msg, wamp.Abort):
            self._close()
        else:
            self.protocol_violation(
                f"{type(msg).__name__.upper()} is not allowed in an established session"
            )

    def _rate_limited(self, msg: Any, wait: float) -> None:
        self.log_refusal("rate limited")
        if isinstance(msg, wamp.Publish) and not msg.acknowledge:
            return  # WAMP gives an unacknowledged publish no way to answer
        self.send_error(msg, uris.ERR_RATE_LIMITED, "too many requests; slow down",
                        retry_after=round(wait, 3))
