"""Remote procedure calls: the relay's own `sc.*` procedures and client registrations.

The relay's procedures are plain Python callables taking the caller's
`Caller` first (caller disclosure is implicit: the router knows who calls).
A client may register procedures in its own user namespace; calls to those
become INVOCATIONs to it, and its YIELD or ERROR goes back to the caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from autobahn.util import id as new_id
from autobahn.wamp import message as wamp
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.protocol import uris
from securechat.relay.authorization import Action, Principal, is_authorized

if TYPE_CHECKING:
    from securechat.relay.session import RouterSession


@attrs.frozen
class Caller:
    """Who calls a relay procedure: handlers authorize by owner with this."""

    principal: Principal
    peer: str  # the peer's network address (for per-address limits)
    session_id: int


Procedure = Callable[..., Any]


@attrs.define(eq=False)
class Registration:
    id: int
    procedure: str
    callee: RouterSession


@attrs.define(eq=False)
class PendingCall:
    caller: RouterSession
    request: int  # the caller's CALL request id
    callee: RouterSession | None = None
    invocation: int | None = None  # the callee's INVOCATION request id
    canceled: bool = False
    progress: bool = False  # the caller asked for progressive results


class Dealer:
    log = Logger()

    def __init__(self) -> None:
        self._procedures: dict[str, tuple[Procedure, inspect.Signature]] = {}
        self._by_uri: dict[str, Registration] = {}
        self._by_id: dict[int, Registration] = {}
        # (callee session id, invocation id) -> call; and (caller id, request id) -> call
        self._invocations: dict[tuple[int, int], PendingCall] = {}
        self._calls: dict[tuple[int, int], PendingCall] = {}

    def add_procedures(self, procedures: dict[str, Procedure]) -> None:
        for uri, fn in procedures.items():
            # Bind against the signature without the leading `caller`.
            params = list(inspect.signature(fn).parameters.values())[1:]
            self._procedures[uri] = (fn, inspect.Signature(params))

    # --- CALL ------------------------------------------------------------------

    def call(self, session: RouterSession, msg: wamp.Call) -> None:
        if not is_authorized(session.principal, Action.CALL, msg.procedure):
            self.log.info("refused call of {procedure} by {authid} ({role})",
                          procedure=msg.procedure, authid=session.principal.authid,
                          role=session.principal.role)
            session.send_error(msg, uris.WAMP_NOT_AUTHORIZED,
                               f"not authorized to call {msg.procedure}")
            return
        internal = self._procedures.get(msg.procedure)
        if internal is not None:
            self._call_internal(session, msg, *internal)
            return
        reg = self._by_uri.get(msg.procedure)
        if reg is None:
            session.send_error(msg, uris.WAMP_NO_SUCH_PROCEDURE, f"no procedure {msg.procedure}")
            return
        pending = PendingCall(session, msg.request, reg.callee, reg.callee.next_request_id(),
                              progress=bool(msg.receive_progress))
        self._calls[(session.id, msg.request)] = pending
        self._invocations[(reg.callee.id, pending.invocation)] = pending
        reg.callee.send(wamp.Invocation(
            pending.invocation, reg.id, args=msg.args, kwargs=msg.kwargs,
            caller=session.id, caller_authid=session.principal.authid,
            caller_authrole=session.principal.role, procedure=msg.procedure,
            receive_progress=bool(msg.receive_progress) or None,
        ))

    def _call_internal(self, session: RouterSession, msg: wamp.Call, fn: Procedure,
                       signature: inspect.Signature) -> None:
        args, kwargs = msg.args or [], msg.kwargs or {}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            session.send_error(msg, uris.WAMP_INVALID_ARGUMENT, f"{msg.procedure}: {e}")
            return
        pending = PendingCall(session, msg.request)
        self._calls[(session.id, msg.request)] = pending
        caller = Caller(session.principal, session.peer, session.id)
        d = defer.maybeDeferred(fn, caller, *args, **kwargs)
        d.addBoth(self._internal_done, pending, msg)

    def _internal_done(self, result: Any, pending: PendingCall, msg: wamp.Call) -> None:
        self._calls.pop((pending.caller.id, pending.request), None)
        if pending.canceled:
            return
        session = pending.caller
        if not isinstance(result, Failure):
            session.send(wamp.Result(msg.request, args=None if result is None else [result]))
        elif result.check(ApplicationError):
            err: ApplicationError = result.value
            self.log.info("{procedure} refused for {authid}: {error}", procedure=msg.procedure,
                          authid=session.principal.authid, error=err.error)
            session.send_error(msg, err.error, *err.args, **err.kwargs)
        else:
            self.log.failure("{procedure} failed", result, procedure=msg.procedure)
            session.send_error(msg, uris.ERR_INTERNAL, "the relay failed to handle this call")

    def cancel(self, session: RouterSession, msg: wamp.Cancel) -> None:
        pending = self._calls.pop((session.id, msg.request), None)
        if pending is None:
            return  # already answered: CANCEL is advisory
        pending.canceled = True
        if pending.callee is not None and pending.invocation is not None:
            self._invocations.pop((pending.callee.id, pending.invocation), None)
            if msg.mode != "skip":
                pending.callee.send(wamp.Interrupt(pending.invocation, mode=msg.mode or "kill"))
        session.send(wamp.Error(wamp.Call.MESSAGE_TYPE, msg.request, uris.WAMP_CANCELED,
                                args=["the call was canceled"]))

    # --- the callee's answers ------------------------------------------------

    def yield_(self, session: RouterSession, msg: wamp.Yield) -> None:
        key = (session.id, msg.request)
        pending = self._invocations.get(key)
        if pending is None:
            return  # the caller left or canceled
        if msg.progress and not pending.progress:
            return  # the caller did not ask for progressive results
        if not msg.progress:
            del self._invocations[key]
            self._calls.pop((pending.caller.id, pending.request), None)
        pending.caller.send(wamp.Result(pending.request, args=msg.args, kwargs=msg.kwargs,
                                        progress=msg.progress or None))

    def invocation_error(self, session: RouterSession, msg: wamp.Error) -> None:
        pending = self._invocations.pop((session.id, msg.request), None)
        if pending is None:
            return
        self._calls.pop((pending.caller.id, pending.request), None)
        pending.caller.send(wamp.Error(wamp.Call.MESSAGE_TYPE, pending.request, msg.error,
                                       args=msg.args, kwargs=msg.kwargs))

    # --- REGISTER / UNREGISTER ---------------------------------------------------

    def register(self, session: RouterSession, msg: wamp.Register) -> None:
        if msg.procedure in self._procedures or not is_authorized(
            session.principal, Action.REGISTER, msg.procedure
        ):
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
        reg = Registration(new_id(), msg.procedure, session)
        self._by_uri[reg.procedure] = reg
        self._by_id[reg.id] = reg
        session.registrations.add(reg.id)
        session.send(wamp.Registered(msg.request, reg.id))

    def unregister(self, session: RouterSession, msg: wamp.Unregister) -> None:
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

    def detach(self, session: RouterSession) -> None:
        for reg_id in list(session.registrations):
            self._remove(self._by_id[reg_id])
        for (callee_id, invocation), pending in list(self._invocations.items()):
            if callee_id == session.id:
                del self._invocations[(callee_id, invocation)]
                self._calls.pop((pending.caller.id, pending.request), None)
                pending.caller.send(wamp.Error(
                    wamp.Call.MESSAGE_TYPE, pending.request, uris.WAMP_CANCELED,
                    args=["the callee left before answering"]))
            elif pending.caller is session:
                del self._invocations[(callee_id, invocation)]
        for key in [k for k in self._calls if k[0] == session.id]:
            self._calls.pop(key).canceled = True
