r"""The connection lifecycle: connect, catch up, stay online, reconnect with backoff.

    idle --start--> connecting --joined--> syncing --caught_up--> online
                        |                     |                      |
                        +--failed--> waiting <+--------lost----------+
                                        \--retry / retry_now--> connecting
    a fatal refusal (this device was removed, its key is unknown) --> stopped ("failed")
    stop: from anywhere --> stopped

`syncing` is joined but not in step yet: the mailbox is being drained, device lists
re-read and the outbox flushed (the callable given as `on_online` does that, then
calls `caught_up`). Each state is reported as an events.ConnectionState.

An Automat state machine, as magic-wormhole wires its lifecycles: the states and
transitions are all here, the work is done by the callables it is given.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from automat import MethodicalMachine
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall

from securechat.client.events import CaughtUp, ConnectionState, ConnectionStateChanged
from securechat.client.wamp import JoinRefused, RelaySession
from securechat.protocol import uris

# Refusals that retrying cannot fix.
FATAL = frozenset({uris.ERR_NO_SUCH_DEVICE, uris.ERR_WRONG_KEY, uris.CLOSE_DEVICE_REMOVED})


class Backoff:
    """Exponential backoff with full jitter, reset by a successful connection."""

    def __init__(self, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None):
        self._base, self._cap = base, cap
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._cap, self._base * 2**self.attempt)
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class ConnectionMachine:
    _machine = MethodicalMachine()

    def __init__(self, clock: Any, connect: Callable[[], defer.Deferred[RelaySession]],
                 on_online: Callable[[RelaySession], Any],
                 emit: Callable[[object], None],
                 backoff: Backoff | None = None) -> None:
        self._clock = clock
        self._connect = connect
        self._on_online = on_online
        self._emit = emit
        self._backoff = backoff or Backoff()
        self._timer: IDelayedCall | None = None
        self._attempt: defer.Deferred[RelaySession] | None = None
        self.session: RelaySession | None = None
        self.state = ConnectionState.OFFLINE  # as last reported

    @property
    def is_caught_up(self) -> bool:
        """Joined, and this session has drained the mailbox and flushed the outbox."""
        return self.state is ConnectionState.ONLINE

    def _report(self, state: ConnectionState, reason: str | None = None,
                retry_in: float | None = None) -> None:
        self.state = state
        self._emit(ConnectionStateChanged(state, reason, retry_in))

    # --- states ----------------------------------------------------------------------
    @_machine.state(initial=True)
    def idle(self) -> None:
        "not started"

    @_machine.state()
    def connecting(self) -> None:
        "joining the relay"

    @_machine.state()
    def syncing(self) -> None:
        "joined, catching up"

    @_machine.state()
    def online(self) -> None:
        "joined and caught up"

    @_machine.state()
    def waiting(self) -> None:
        "waiting to retry"

    @_machine.state()
    def stopped(self) -> None:
        "stopped by the user, or by a fatal refusal"

    # --- inputs -----------------------------------------------------------------------
    @_machine.input()
    def start(self) -> None:
        "begin connecting"

    @_machine.input()
    def joined(self, session: RelaySession) -> None:
        "the relay welcomed us"

    @_machine.input()
    def caught_up(self) -> None:
        "the mailbox is drained and the outbox flushed, on this session"

    @_machine.input()
    def failed(self, reason: str) -> None:
        "the attempt failed, retryably"

    @_machine.input()
    def refused(self, reason: str) -> None:
        "the relay refused us for good"

    @_machine.input()
    def lost(self, reason: str) -> None:
        "the joined session ended"

    @_machine.input()
    def retry(self) -> None:
        "the backoff timer fired"

    @_machine.input()
    def retry_now(self) -> None:
        "the user asked to reconnect without waiting for the backoff"

    @_machine.input()
    def stop(self) -> None:
        "stop and stay stopped"

    # --- outputs ----------------------------------------------------------------------
    @_machine.output()
    def _dial(self) -> None:
        self._report(ConnectionState.CONNECTING)
        self._attempt = d = self._connect()
        d.addCallbacks(self._dialled, self._dial_failed)

    def _dialled(self, session: RelaySession) -> None:
        self._attempt = None
        session.left.addCallback(self._left)
        self.joined(session)

    def _left(self, details: Any) -> None:
        if details.reason in FATAL:
            self.refused(details.reason)
        else:
            self.lost(details.reason)

    def _dial_failed(self, failure: Any) -> None:
        self._attempt = None
        if failure.check(defer.CancelledError):
            return
        reason = failure.value.reason if failure.check(JoinRefused) else str(failure.value)
        if reason in FATAL:
            self.refused(reason)
        else:
            self.failed(reason)

    @_machine.output()
    def _went_online(self, session: RelaySession) -> None:
        self.session = session
        self._backoff.reset()
        self._report(ConnectionState.SYNCING)
        self._on_online(session)

    @_machine.output()
    def _in_step(self) -> None:
        self._report(ConnectionState.ONLINE)
        self._emit(CaughtUp())

    @_machine.output()
    def _forget_session(self, reason: str) -> None:
        self.session = None

    @_machine.output()
    def _schedule_retry(self, reason: str) -> None:
        delay = self._backoff.next_delay()
        self._report(ConnectionState.OFFLINE, reason, retry_in=delay)
        self._timer = self._clock.callLater(delay, self.retry)

    @_machine.output()
    def _cancel_retry(self) -> None:
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    @_machine.output()
    def _report_refusal(self, reason: str) -> None:
        self._report(ConnectionState.FAILED, reason)

    @_machine.output()
    def _cancel_everything(self) -> None:
        self._stop_timer()
        if self._attempt is not None:
            self._attempt.cancel()
        if self.session is not None and self.session.is_attached():
            self.session.leave()
        self._report(ConnectionState.OFFLINE, "stopped")

    idle.upon(start, enter=connecting, outputs=[_dial])
    idle.upon(stop, enter=stopped, outputs=[])
    connecting.upon(joined, enter=syncing, outputs=[_went_online])
    connecting.upon(failed, enter=waiting, outputs=[_schedule_retry])
    connecting.upon(refused, enter=stopped, outputs=[_report_refusal])
    connecting.upon(stop, enter=stopped, outputs=[_cancel_everything])
    syncing.upon(caught_up, enter=online, outputs=[_in_step])
    for _state in (syncing, online):
        _state.upon(lost, enter=waiting, outputs=[_forget_session, _schedule_retry])
        _state.upon(refused, enter=stopped, outputs=[_forget_session, _report_refusal])
        _state.upon(stop, enter=stopped, outputs=[_cancel_everything])
    waiting.upon(retry, enter=connecting, outputs=[_dial])
    waiting.upon(retry_now, enter=connecting, outputs=[_cancel_retry, _dial])
    for _state in (idle, connecting, syncing, online, stopped):  # nothing to hurry
        _state.upon(retry_now, enter=_state, outputs=[])
    for _state in (idle, connecting, online, waiting, stopped):  # a stale catch-up
        _state.upon(caught_up, enter=_state, outputs=[])
    del _state
    waiting.upon(stop, enter=stopped, outputs=[_cancel_everything])
    stopped.upon(stop, enter=stopped, outputs=[])
    stopped.upon(lost, enter=stopped, outputs=[_forget_session])
    stopped.upon(failed, enter=stopped, outputs=[])
    stopped.upon(refused, enter=stopped, outputs=[])
    stopped.upon(joined, enter=stopped, outputs=[])
