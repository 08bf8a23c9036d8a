"""Remote procedure calls: the relay's own `sc.*` procedures and client registrations.

The relay's procedures are plain Python callables taking the caller's
`Caller` first (caller disclosure is implicit: the router knows who calls).
A client may register procedures in its own user namespace; calls to those
become INVOCATIONs to it, and its YIELD or ERROR goes back to the caller.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from autobahn.util import id as new_id
from autobahn.wamp import message as wamp
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.protocol import uris
from securechat.relay.authorization import Action, is_authorized
from securechat.relay.config import RelayConfig
from securechat.relay.context import Caller, Session
from securechat.relay.storage import StorageUnavailable

Procedure = Callable[..., Any]


class CallSession(Session, Protocol):
    """A session as the dealer sees it: what it has called, registered and been asked
    (session.RouterSession keeps these; the dealer updates them)."""

    registrations: set[int]  # registration ids
    calls: dict[int, PendingCall]  # CALL request id -> its call, while unanswered
    invocations: dict[int, PendingCall]  # INVOCATION request id -> call (as callee)
    calls_in_flight: int
    frame_bytes: int  # size of the WebSocket message being handled

    def next_request_id(self) -> int: ...

    def call_started(self, frame_bytes: int) -> None: ...

    def call_ended(self, frame_bytes: int) -> None: ...

    def protocol_violation(self, message: str) -> None: ...


@attrs.define(eq=False)
class Registration:
    id: int
    procedure: str
    callee: CallSession


@attrs.define(eq=False)
class PendingCall:
    """A CALL the relay has not answered yet: the caller's `calls[request]`, and for a
    routed call also the callee's `invocations[invocation]`."""

    caller: CallSession
    request: int  # the caller's CALL request id
    callee: CallSession | None = None
    invocation: int | None = None  # the callee's INVOCATION request id
    canceled: bool = False
    progress: bool = False  # the caller asked for progressive results
    charged: int = 0  # request bytes held against the caller (a relay procedure's arguments)
    ended: bool = False

    def end(self) -> None:
        """No longer held by the relay: the caller's in-flight count goes down, once."""
        if not self.ended:
            self.ended = True
            self.caller.call_ended(self.charged)

    def forget(self) -> None:
        """Drop it from the caller's table, unless a new call reused the request id."""
        if self.caller.calls.get(self.request) is self:
            del self.caller.calls[self.request]


class Dealer:
    log = Logger()

    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._procedures: dict[str, tuple[Procedure, inspect.Signature]] = {}
        self._by_uri: dict[str, Registration] = {}
        self._by_id: dict[int, Registration] = {}

    def add_procedures(self, procedures: dict[str, Procedure]) -> None:
        for uri, fn in procedures.items():
            # Bind against the signature without the leading `caller`.
            params = list(inspect.signature(fn).parameters.values())[1:]
            self._procedures[uri] = (fn, inspect.Signature(params))

    def cost(self, msg: wamp.Call) -> float:
        """Rate-limit tokens a call takes: a relay procedure's work grows with the
        lists it is given (a presence declaration of 5,000 contacts, say)."""
        if msg.procedure not in self._procedures:
            return 1.0  # a client's procedure: its callee does the work
        values = [*(msg.args or ()), *(msg.kwargs or {}).values()]
        items = sum(len(v) for v in values if isinstance(v, list | dict))
        return 1.0 + items / self._config.call_cost_items

    # --- CALL ------------------------------------------------------------------

    def call(self, session: CallSession, msg: wamp.Call) -> None:
        if not is_authorized(session.principal, Action.CALL, msg.procedure):
            session.log_refusal("call of {procedure} not authorized", procedure=msg.procedure)
            session.send_error(msg, uris.WAMP_NOT_AUTHORIZED,
                               f"not authorized to call {msg.procedure}")
            return
        if msg.request in session.calls:
            session.protocol_violation(f"CALL request id {msg.request} is already in use")
            return
        most = self._config.max_calls_in_flight
        if session.calls_in_flight >= most:
            session.log_refusal("more than {most} calls in flight", most=most)
            session.send_error(msg, uris.ERR_TOO_MANY_CALLS,
                               f"more than {most} calls unanswered; wait for their results",
                               max_calls=most)
            return
        internal = self._procedures.get(msg.procedure)
        if internal is not None:
            self._call_internal(session, msg, *internal)
            return
        reg = self._by_uri.get(msg.procedure)
        if reg is None:
            session.send_error(msg, uris.WAMP_NO_SUCH_PROCEDURE, f"no procedure {msg.procedure}")
            return
        callee = reg.callee
        most = self._config.max_invocations_pending
        if len(callee.invocations) >= most:
            session.log_refusal("callee of {procedure} busy", procedure=msg.procedure)
            session.send_error(msg, uris.ERR_CALLEE_BUSY,
                               f"the callee of {msg.procedure} has {most} calls unanswered",
                               max_invocations=most)
            return
        pending = PendingCall(session, msg.request, callee, callee.next_request_id(),
                              progress=bool(msg.receive_progress))
        session.call_started(0)  # its arguments went on to the callee at once
        session.calls[msg.request] = pending
        callee.invocations[pending.invocation] = pending
        callee.send(wamp.Invocation(
            pending.invocation, reg.id, args=msg.args, kwargs=msg.kwargs,
            caller=session.id, caller_authid=session.principal.authid,
            caller_authrole=session.principal.role, procedure=msg.procedure,
            receive_progress=bool(msg.receive_progress) or None,
        ))

    def _call_internal(self, session: CallSession, msg: wamp.Call, fn: Procedure,
                       signature: inspect.Signature) -> None:
        args, kwargs = msg.args or [], msg.kwargs or {}
        fewest, most = _positional_arity(signature)
        if kwargs or not fewest <= len(args) <= most:  # the common case needs no bind()
            try:
                signature.bind(*args, **kwargs)
            except TypeError as e:
                session.send_error(msg, uris.WAMP_INVALID_ARGUMENT, f"{msg.procedure}: {e}")
                return
        # Held until the procedure finishes, even if canceled: its work goes on.
        pending = PendingCall(session, msg.request, charged=session.frame_bytes)
        session.call_started(pending.charged)
        session.calls[msg.request] = pending
        caller = Caller(session.principal, session.peer, session.id)
        d = defer.maybeDeferred(fn, caller, *args, **kwargs)
        d.addBoth(self._internal_done, pending, msg)

    def _internal_done(self, result: Any, pending: PendingCall, msg: wamp.Call) -> None:
        pending.forget()
        pending.end()
        if pending.canceled:
            return
        session = pending.caller
        if not isinstance(result, Failure):
            session.send(wamp.Result(msg.request, args=None if result is None else [result]))
        elif result.check(ApplicationError):
            err: ApplicationError = result.value
            session.log_refusal("{procedure}: {error}", procedure=msg.procedure,
                                error=err.error)
            session.send_error(msg, err.error, *err.args, **err.kwargs)
        elif result.check(StorageUnavailable):
            # A cluster's database is down: say so, and that nothing was stored.
            self.log.warn("{procedure}: {why}", procedure=msg.procedure,
                          why=result.getErrorMessage())
            session.send_error(msg, uris.ERR_UNAVAILABLE, "the relay's database is "
                               "unavailable: nothing was stored, try again shortly",
                               retry_after=1.0)
        else:
            self.log.failure("{procedure} failed", result, procedure=msg.procedure)
            session.send_error(msg, uris.ERR_INTERNAL, "the relay failed to handle this call")

    def cancel(self, session: CallSession, msg: wamp.Cancel) -> None:
        pending = session.calls.pop(msg.request, None)
        if pending is None:
            return  # already answered: CANCEL is advisory
        pending.canceled = True
        if pending.callee is not None and pending.invocation is not None:
            pending.callee.invocations.pop(pending.invocation, None)
            pending.end()
            if msg.mode != "skip":
                pending.callee.send(wamp.Interrupt(pending.invocation, mode=msg.mode or "kill"))
        session.send(wamp.Error(wamp.Call.MESSAGE_TYPE, msg.request, uris.WAMP_CANCELED,
                                args=["the call was canceled"]))

    # --- the callee's answers ------------------------------------------------

    def yield_(self, session: CallSession, msg: wamp.Yield) -> None:
        pending = session.invocations.get(msg.request)
        if pending is None:
            return  # the caller left or canceled
        if msg.progress and not pending.progress:
            return  # the caller did not ask for progressive results
        if not msg.progress:
            del session.invocations[msg.request]
            pending.forget()
            pending.end()
        pending.caller.send(wamp.Result(pending.request, args=msg.args, kwargs=msg.kwargs,
                                        progress=msg.progress or None))

    def invocation_error(self, session: CallSession, msg: wamp.Error) -> None:
        pending = session.invocations.pop(msg.request, None)
        if pending is None:
            return
        pending.forget()
        pending.end()
        pending.caller.send(wamp.Error(wamp.Call.MESSAGE_TYPE, pending.request, msg.error,
                                       args=msg.args, kwargs=msg.kwargs))

    # --- REGISTER / UNREGISTER ---------------------------------------------------

    def register(self, session: CallSession, msg: wamp.Register) -> None:
        if msg.procedure in self._procedures or not is_authorized(
            session.principal, Action.REGISTER, msg.procedure
        ):
            session.log_refusal("register of {procedure} not authorized",
                                procedure=msg.procedure)
            session.send_error(msg, uris.WAMP_NOT_AUTHORIZED,
                               f"not authorized to register {msg.procedure}")
            return
        if msg.procedure in self._by_uri:
            session.send_error(msg, uris.WAMP_PROCEDURE_ALREADY_EXISTS,
                               f"{msg.procedure} is already registered")
            return
        if msg.match not in (None, "exact") or msg.invoke not in (None, "single"):
            session.send_error(msg, uris.WAMP_INVALID_ARGUMENT,
                               "only exact-match, single-callee registrations are supported")
            return
        most = self._config.max_registrations
        if len(session.registrations) >= most:
            session.log_refusal("more than {most} registrations", most=most)
            session.send_error(msg, uris.ERR_TOO_MANY_REGISTRATIONS,
                               f"a session may register at most {most} procedures",
                               max_registrations=most)
            return
        reg = Registration(new_id(), msg.procedure, session)
        self._by_uri[reg.procedure] = reg
        self._by_id[reg.id] = reg
        session.registrations.add(reg.id)
        session.send(wamp.Registered(msg.request, reg.id))

    def unregister(self, session: CallSession, msg: wamp.Unregister) -> None:
        reg = self._by_id.get(msg.registration)
        if reg is None or reg.callee is not session:
            session.send_error(msg, uris.WAMP_NO_SUCH_REGISTRATION, "no such registration")
            return
        self._remove(reg)
        session.send(wamp.Unregistered(msg.request))

    def _remove(self, reg: Registration) -> None:
        del self._by_uri[reg.procedure]
        del self._by_id[reg.id]
        reg.callee.registrations.discard(reg.id)

    # --- a session leaves -------------------------------------------------------

    def detach(self, session: CallSession) -> None:
        for reg_id in list(session.registrations):
            self._remove(self._by_id[reg_id])
        # Calls to this session's procedures: their callers get an error.
        invocations, session.invocations = session.invocations, {}
        for pending in invocations.values():
            pending.forget()
            pending.end()
            pending.caller.send(wamp.Error(
                wamp.Call.MESSAGE_TYPE, pending.request, uris.WAMP_CANCELED,
                args=["the callee left before answering"]))
        # Calls this session made: nobody is left to answer.
        calls, session.calls = session.calls, {}
        for pending in calls.values():
            pending.canceled = True
            if pending.callee is not None and pending.invocation is not None:
                pending.callee.invocations.pop(pending.invocation, None)
                pending.end()


@functools.lru_cache(maxsize=256)
def _positional_arity(signature: inspect.Signature) -> tuple[int, int]:
    """(fewest, most) positional arguments a call may bind with no keywords; (1, 0), which
    no count satisfies, when the signature takes *args or keyword-only parameters (then
    every call is bound to be checked)."""
    kinds = [p.kind for p in signature.parameters.values()]
    if any(k not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
           for k in kinds):
        return 1, 0
    required = sum(p.default is inspect.Parameter.empty
                   for p in signature.parameters.values())
    return required, len(kinds)
