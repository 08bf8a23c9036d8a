"""What the benchmarks share.

For the end-to-end benchmarks (bench_client, bench_ui): waiting with a limit
(:func:`bounded`, :class:`BenchFailed`), cleaning up when the reactor stops early
(:func:`stop_at_shutdown`), the options every run takes (:class:`RunOptions`) and the
whole run around a measurement (:func:`run_benchmark`: temporary directory, global
timeout, watchdog, report, exit status).

For the router benchmarks (bench_relay, bench_crossbar_only): what must happen before
the reactor starts (:func:`prepare_router_run`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from autobahn.wamp.exception import TransportLost
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.internet.task import react

from bench import crossbar_env
from bench.loadgen import BenchOptions, install_warning_logger, raise_fd_limit

T = TypeVar("T")


class BenchFailed(Exception):
    """The run could not produce valid figures (a stall, lost messages, a timeout)."""


async def bounded(d: Deferred[T], timeout_s: float, what: str) -> T:
    """Await `d`, failing with BenchFailed if it has not fired within `timeout_s`.

    Only this call's own timer becomes BenchFailed; a cancellation from outside (the
    global --timeout) goes on as CancelledError, so every level reports truthfully.
    """
    from twisted.internet import reactor

    def expired(result: object, timeout: float) -> T:
        raise BenchFailed(f"timed out after {timeout:.0f}s waiting for {what}")

    d.addTimeout(timeout_s, cast(IReactorTime, reactor), onTimeoutCancel=expired)
    return await d


def stop_at_shutdown(reactor: IReactorCore,
                     stop: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run `stop()` if the reactor shuts down first (Ctrl-C, a crash): no relay left
    running, no database thread keeping the interpreter alive. Returns a function
    that withdraws this, for the normal stop."""
    handle: Any = None

    def at_shutdown() -> Deferred[None]:
        nonlocal handle
        handle = None
        return Deferred.fromCoroutine(stop())

    def withdraw() -> None:
        nonlocal handle
        if handle is not None:
            reactor.removeSystemEventTrigger(handle)
            handle = None

    handle = reactor.addSystemEventTrigger("before", "shutdown", at_shutdown)
    return withdraw


def verdict(ok: bool) -> str:
    """How a target line ends."""
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------- a whole run


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What every end-to-end benchmark takes besides its workload."""

    stall_s: float  # fail when nothing moves for this long
    timeout_s: float  # the whole run's limit
    profile: Path | None = None  # where to write cProfile stats of the measured phases
    keep: bool = False  # keep the temporary directory


def add_run_arguments(parser: argparse.ArgumentParser, *, stall_s: float, timeout_s: float,
                      stall_help: str, profile_help: str, keep_help: str) -> None:
    """--stall, --timeout, --profile and --keep; :func:`run_options` reads them back."""
    add = parser.add_argument
    add("--stall", type=float, default=stall_s, help=stall_help)
    add("--timeout", type=float, default=timeout_s, help="the whole run's limit (s)")
    add("--profile", type=Path, default=None, help=profile_help)
    add("--keep", action="store_true", help=keep_help)


def run_options(ns: argparse.Namespace) -> dict[str, Any]:
    """The :class:`RunOptions` fields from what :func:`add_run_arguments` parsed."""
    return {"stall_s": ns.stall, "timeout_s": ns.timeout,
            "profile": ns.profile.resolve() if ns.profile else None, "keep": ns.keep}


Measure = Callable[[IReactorCore, Path, list[int]], Coroutine[Any, Any, None]]


def run_benchmark(options: RunOptions, *, name: str, workload: str, measure: Measure,
                  report: Callable[[], tuple[list[str], bool]],
                  cleanup_s: float = 60.0) -> NoReturn:
    """Run `measure(reactor, workdir, child_pids)` under the reactor, in a new temporary
    directory, within --timeout; print `workload` first and `report()`'s lines after;
    exit 0 when `report` says every target passes, 1 when one is missed, 2 when the run
    failed (BenchFailed, a lost connection, --timeout, an interruption).

    `measure` adds the pid of every process it starts to `child_pids`: if even the
    cleanup hangs (`cleanup_s` after --timeout), a watchdog thread kills them and exits.
    """
    install_warning_logger()
    workdir = Path(tempfile.mkdtemp(prefix=f"securechat-{name}-bench-"))
    child_pids: list[int] = []
    status = {"code": 2, "ended": False}  # 2 unless `run` gets to the targets
    watchdog = threading.Timer(options.timeout_s + cleanup_s, _hard_exit,
                               (child_pids, options.timeout_s))
    watchdog.daemon = True
    watchdog.start()

    async def run(reactor: IReactorCore) -> None:
        started = time.monotonic()
        print(f"workload: {workload}", flush=True)
        d = Deferred.fromCoroutine(measure(reactor, workdir, child_pids))
        try:
            await bounded(d, options.timeout_s, "the whole benchmark (--timeout)")
        except BenchFailed as e:
            print(f"FAIL: {e}", flush=True)
        except TransportLost as e:
            print(f"FAIL: lost the connection to the relay ({e})", flush=True)
        else:
            lines, ok = report()
            print("\n".join(lines), flush=True)
            status["code"] = 0 if ok else 1
        print(f"benchmark took {time.monotonic() - started:.1f}s", flush=True)
        status["ended"] = True

    try:
        react(lambda reactor: Deferred.fromCoroutine(run(reactor)))
    except SystemExit as e:  # react's way out; `run` already set the status
        if e.code not in (0, None):
            status["code"] = 2  # `run` itself raised: react printed the traceback
    finally:
        if not status["ended"]:
            print("FAIL: interrupted before the benchmark finished", flush=True)
        watchdog.cancel()
        if options.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(status["code"])


def _hard_exit(child_pids: list[int], timeout_s: float) -> None:
    """Last resort when even the cleanup hangs (the reactor may be stuck)."""
    print(f"FAIL: the benchmark did not finish within {timeout_s:.0f}s (+ cleanup); killing",
          file=sys.stderr, flush=True)
    for pid in child_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(2)


# --------------------------------------------------------------------------- router benchmarks


def prepare_router_run(options: BenchOptions, crossbar: bool) -> None:
    """Before the reactor starts: Crossbar's venv when `crossbar` runs (made on first
    use), an fd limit for every session (the relay and crossbar processes inherit it),
    and warnings logged to stderr."""
    if crossbar:
        setup_s = crossbar_env.ensure_crossbar_venv()
        if setup_s:
            print(f"crossbar venv: created in {setup_s:.1f}s", file=sys.stderr)
    raise_fd_limit(options.idle + 4 * options.pairs + 1024)
    install_warning_logger()
