r"""The lifecycle of one file transfer (an upload or a download, client.files):

    queued --start--> running --all_chunks_in--> verifying --verified--> done
                      |   ^  \                       |
       chunk_rejected |   | chunk_recovered          |
                      v   |   \--lost--> paused <----+--lost
                    retrying --lost-->  |    ^
                                        |    | lost
                                        +--resume--> running
    running / retrying / verifying --failed--> failed
    queued / running / retrying / verifying / paused --cancel--> canceled

* queued: known (a send stored, a download asked for, or found unfinished at start) but
  not begun: begun at once when online, else at the next catch-up.
* running: chunks moving, a window of them in flight.
* retrying: a fetched chunk failed verification and is being fetched again (at most
  `max_refetch` times; the other chunks keep moving).
* paused: the connection dropped or the relay restarted under it; `resume` (the next
  catch-up) begins again from the last verified chunk (the relay says which chunks it
  lacks; the vault says which it has).
* verifying: every chunk is in: the relay is told the upload is finished and FILE_INFO
  goes out, or the downloaded file's SHA-256 is compared with the announced one.
* done, failed, canceled: final; `media.status` records them (a failed or canceled
  download can be asked for again: a new machine).

An Automat state machine, as client/connection.py: the states and transitions are all
here, the work (client.files) is the callables it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automat import MethodicalMachine
from twisted.internet import defer
from twisted.python.failure import Failure


class TransferState:
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    PAUSED = "paused"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"


class TransferMachine:
    """One transfer. `run(machine)` does the work (a Deferred of its result), feeding
    `chunk_rejected`/`chunk_recovered`/`all_chunks_in` as it goes; what the work ended
    with comes back through `verified`, `lost` or `failed` (client.files sorts it)."""

    _machine = MethodicalMachine()

    def __init__(self, message_id: str, run: Callable[[TransferMachine], defer.Deferred[Any]],
                 ended: Callable[[TransferMachine, Any], Any],
                 on_done: Callable[[Any], None], on_failed: Callable[[Failure], Any]) -> None:
        self.message_id = message_id
        self._run, self._ended = run, ended
        self._on_done, self._on_failed = on_done, on_failed
        self.state = TransferState.QUEUED
        self.canceled = False  # the work stops taking new chunks
        self.work: defer.Deferred[Any] | None = None  # the run under way, if any
        self._idle: list[defer.Deferred[None]] = []

    @property
    def is_final(self) -> bool:
        return self.state in (TransferState.DONE, TransferState.FAILED, TransferState.CANCELED)

    # --- states ----------------------------------------------------------------------

    @_machine.state(initial=True)
    def queued(self) -> None:
        "Known, not begun."

    @_machine.state()
    def running(self) -> None:
        "Chunks moving."

    @_machine.state()
    def retrying(self) -> None:
        "A chunk that failed verification is being fetched again."

    @_machine.state()
    def paused(self) -> None:
        "Offline: waits for the next catch-up."

    @_machine.state()
    def verifying(self) -> None:
        "Every chunk in: finishing the blob, or checking the file's hash."

    @_machine.state()
    def done(self) -> None:
        "Uploaded (FILE_INFO sent) or downloaded and verified."

    @_machine.state()
    def failed(self) -> None:
        "Rejected or refused; media.status says why."

    @_machine.state()
    def canceled(self) -> None:
        "Stopped by the user."

    # --- inputs ----------------------------------------------------------------------

    @_machine.input()
    def start(self) -> None:
        "Online: begin (or begin again)."

    @_machine.input()
    def resume(self) -> None:
        "Caught up again after a pause."

    @_machine.input()
    def chunk_rejected(self) -> None:
        "A fetched chunk failed verification."

    @_machine.input()
    def chunk_recovered(self) -> None:
        "Every rejected chunk has since verified."

    @_machine.input()
    def all_chunks_in(self) -> None:
        "Every chunk uploaded, or fetched and verified."

    @_machine.input()
    def verified(self, result: Any) -> None:
        "The work ended well."

    @_machine.input()
    def lost(self, failure: Failure) -> None:
        "The work stopped: the connection or the relay went away."

    @_machine.input()
    def failed_with(self, failure: Failure) -> None:
        "The work stopped for good."

    @_machine.input()
    def cancel(self) -> None:
        "The user stops it."

    # --- outputs ---------------------------------------------------------------------

    def _enter(self, state: str) -> None:
        self.state = state

    @_machine.output()
    def _begin(self) -> None:
        self._enter(TransferState.RUNNING)
        self.work = self._run(self)
        self.work.addBoth(self._work_ended)

    def _work_ended(self, result: Any) -> None:
        self.work = None
        self._ended(self, result)  # sorts it into verified / lost / failed_with
        waiting, self._idle = self._idle, []
        for d in waiting:
            d.callback(None)

    def wait_idle(self) -> defer.Deferred[None]:
        """Fires once no run is under way (at once if none is)."""
        if self.work is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._idle.append(d)
        return d

    @_machine.output()
    def _retrying(self) -> None:
        self._enter(TransferState.RETRYING)

    @_machine.output()
    def _running(self) -> None:
        self._enter(TransferState.RUNNING)

    @_machine.output()
    def _verifying(self) -> None:
        self._enter(TransferState.VERIFYING)

    @_machine.output()
    def _paused(self, failure: Failure) -> None:
        self._enter(TransferState.PAUSED)

    @_machine.output()
    def _report_done(self, result: Any) -> None:
        self._enter(TransferState.DONE)
        self._on_done(result)

    @_machine.output()
    def _report_failure(self, failure: Failure) -> None:
        self._enter(TransferState.FAILED)
        self._on_failed(failure)

    @_machine.output()
    def _stop(self) -> None:
        self._enter(TransferState.CANCELED)
        self.canceled = True  # client.files.cancel waits for `work`, then cleans up

    queued.upon(start, enter=running, outputs=[_begin])
    queued.upon(resume, enter=running, outputs=[_begin])
    queued.upon(cancel, enter=canceled, outputs=[_stop])
    paused.upon(resume, enter=running, outputs=[_begin])
    paused.upon(start, enter=running, outputs=[_begin])
    paused.upon(cancel, enter=canceled, outputs=[_stop])
    running.upon(chunk_rejected, enter=retrying, outputs=[_retrying])
    running.upon(chunk_recovered, enter=running, outputs=[])
    retrying.upon(chunk_rejected, enter=retrying, outputs=[])
    retrying.upon(chunk_recovered, enter=running, outputs=[_running])
    for _state in (running, retrying):
        _state.upon(all_chunks_in, enter=verifying, outputs=[_verifying])
    for _state in (running, retrying, verifying):
        _state.upon(start, enter=_state, outputs=[])  # under way already
        _state.upon(resume, enter=_state, outputs=[])
        _state.upon(lost, enter=paused, outputs=[_paused])
        _state.upon(failed_with, enter=failed, outputs=[_report_failure])
        _state.upon(cancel, enter=canceled, outputs=[_stop])
    # A download whose chunks were all here already: verified straight from running.
    for _state in (running, retrying, verifying):
        _state.upon(verified, enter=done, outputs=[_report_done])
    verifying.upon(chunk_rejected, enter=verifying, outputs=[])
    for _state in (done, failed, canceled):  # final: what still comes in changes nothing
        for _input in (start, resume, cancel, chunk_rejected, chunk_recovered,
                       all_chunks_in):
            _state.upon(_input, enter=_state, outputs=[])
        _state.upon(verified, enter=_state, outputs=[])
        _state.upon(lost, enter=_state, outputs=[])
        _state.upon(failed_with, enter=_state, outputs=[])
    del _state, _input
