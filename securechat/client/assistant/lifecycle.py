r"""The model's lifecycle in the inference service, as the user sees it (its `status`).

    unloaded --start--> loading --loaded--> generating --finished--> ready
        ^                  |  \--missing--> unloaded                  |  |
        |                  +--unsupported--> unsupported              |  +--start--> generating
        +----------------------------unloaded-------------------------+
    unsupported --unloaded (another model chosen)--> unloaded
    unsupported --start--> loading  (the same file again: the user asked again)

An Automat state machine, as client/connection.py: the states and transitions are all
here; the service feeds it the inputs, from the reactor (a worker-thread event arrives
through `callFromThread`), and every state change is reported to `report(status)`.
"""

from __future__ import annotations

from collections.abc import Callable

from automat import MethodicalMachine

UNLOADED, LOADING, READY, GENERATING, UNSUPPORTED = (
    "unloaded", "loading", "ready", "generating", "unsupported")


class ModelLifecycle:
    _machine = MethodicalMachine()

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self.status = UNLOADED

    # --- states ---------------------------------------------------------------------------

    @_machine.state(initial=True)
    def unloaded(self) -> None:
        "No model in memory; the next request loads it."

    @_machine.state()
    def loading(self) -> None:
        "The worker is loading the model for a request."

    @_machine.state()
    def generating(self) -> None:
        "The model is in memory, answering a request."

    @_machine.state()
    def ready(self) -> None:
        "The model is in memory, idle (unloaded after idle minutes)."

    @_machine.state()
    def unsupported(self) -> None:
        "The model could not be loaded here (DeviceUnsupported, with its reason)."

    # --- inputs ---------------------------------------------------------------------------

    @_machine.input()
    def start(self) -> None:
        "A request starts running in the worker."

    @_machine.input()
    def loaded(self) -> None:
        "The worker has the model in memory."

    @_machine.input()
    def missing(self) -> None:
        "There was no model file to load."

    @_machine.input()
    def failed_to_load(self) -> None:
        "llama.cpp could not load the model."

    @_machine.input()
    def finished(self) -> None:
        "The request ended (done, cancelled, timed out or failed), the model still loaded."

    @_machine.input()
    def freed(self) -> None:
        "The model was unloaded (idle, another model chosen, the app closing)."

    # --- outputs --------------------------------------------------------------------------

    @_machine.output()
    def _now_unloaded(self) -> None:
        self._set(UNLOADED)

    @_machine.output()
    def _now_loading(self) -> None:
        self._set(LOADING)

    @_machine.output()
    def _now_generating(self) -> None:
        self._set(GENERATING)

    @_machine.output()
    def _now_ready(self) -> None:
        self._set(READY)

    @_machine.output()
    def _now_unsupported(self) -> None:
        self._set(UNSUPPORTED)

    def _set(self, status: str) -> None:
        self.status = status
        self._report(status)

    # --- transitions ----------------------------------------------------------------------

    unloaded.upon(start, enter=loading, outputs=[_now_loading])
    unloaded.upon(freed, enter=unloaded, outputs=[])
    loading.upon(loaded, enter=generating, outputs=[_now_generating])
    loading.upon(missing, enter=unloaded, outputs=[_now_unloaded])
    loading.upon(failed_to_load, enter=unsupported, outputs=[_now_unsupported])
    generating.upon(finished, enter=ready, outputs=[_now_ready])
    ready.upon(start, enter=generating, outputs=[_now_generating])
    ready.upon(freed, enter=unloaded, outputs=[_now_unloaded])
    unsupported.upon(start, enter=loading, outputs=[_now_loading])
    unsupported.upon(freed, enter=unloaded, outputs=[_now_unloaded])
