"""Our relay as a child process, for the benchmarks (bench_relay, bench_client, bench_ui).

``twistd -n securechat-relay ARGS`` with the repository on ``PYTHONPATH`` (twistd finds
the plugin in twisted/plugins/ however the package was installed), its output copied
to ``workdir/relay.log``, its port read from its "relay listening on" line. Stopping is
SIGTERM (twistd stops cleanly, writing a profile if asked), then SIGKILL if it hangs;
a reactor shutdown (Ctrl-C, a crash) stops it too, so no relay is left running.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import error as twisted_error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IProcessTransport, IReactorCore
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

REPO = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(rb"relay listening on [0-9.]+:(\d+)")


class RelayFailed(RuntimeError):
    """The relay did not start (it exited, or never said it was listening)."""


def twistd_executable() -> str:
    beside = Path(sys.executable).with_name("twistd")
    found = str(beside) if beside.is_file() else shutil.which("twistd")
    if found is None:
        raise RelayFailed("twistd not found next to this Python nor on PATH")
    return found


class RelayProcess(ProcessProtocol):
    """Copies the relay's output to a log; `listening` fires with the port it bound."""

    def __init__(self, log_path: Path) -> None:
        self._log = log_path.open("ab")
        self._buffer = b""  # the listening line may arrive split across reads
        self.listening: Deferred[int] = Deferred()
        self.ended: Deferred[int | None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self._log.write(data)
        if self.listening.called:
            return
        self._buffer = (self._buffer + data)[-4096:]
        found = _LISTENING.search(self._buffer)
        if found:
            self.listening.callback(int(found.group(1)))

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        self._log.close()
        code = getattr(reason.value, "exitCode", None)
        if not self.listening.called:
            self.listening.errback(RelayFailed(f"the relay exited during startup (rc={code})"))
        self.ended.callback(code)


@dataclass
class RelayNode:
    """A running relay; ``await node.stop()`` when done."""

    reactor: IReactorCore
    transport: IProcessTransport
    protocol: RelayProcess
    workdir: Path
    port: int = 0
    remove_workdir: bool = False  # on stop: the relay owns its directory
    _shutdown_trigger: object = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return int(self.transport.pid or 0)

    @property
    def log_path(self) -> Path:
        return self.workdir / "relay.log"

    def _stop_at_shutdown(self) -> Deferred[None]:
        self._shutdown_trigger = None  # firing now; must not be removed
        return Deferred.fromCoroutine(self.stop())

    async def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within `timeout_s`."""
        if self._shutdown_trigger is not None:
            self.reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        for sig in ("TERM", "KILL"):
            if self.protocol.ended.called:
                break
            try:
                self.transport.signalProcess(sig)
            except twisted_error.ProcessExitedAlready:
                break
            deadline = time.monotonic() + timeout_s
            while not self.protocol.ended.called and time.monotonic() < deadline:
                await deferLater(self.reactor, 0.05, lambda: None)
        if self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


async def start_relay(reactor: IReactorCore, workdir: Path, relay_args: Sequence[str], *,
                      twistd_options: Sequence[str] = (), startup_timeout_s: float = 60.0,
                      remove_workdir: bool = False) -> RelayNode:
    """``twistd -n [twistd_options] securechat-relay [relay_args]`` run in `workdir`;
    returns once it listens (its ``--listen`` may ask for port 0). Raises RelayFailed,
    with the log's tail, if it does not start; the directory is then kept."""
    argv = [twistd_executable(), "-n", "--pidfile=", *twistd_options, "securechat-relay",
            *relay_args]
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    protocol = RelayProcess(workdir / "relay.log")
    transport = reactor.spawnProcess(  # type: ignore[attr-defined]
        protocol, argv[0], argv, env=env, path=str(workdir))
    node = RelayNode(reactor, transport, protocol, workdir, remove_workdir=remove_workdir)
    node._shutdown_trigger = reactor.addSystemEventTrigger(
        "before", "shutdown", node._stop_at_shutdown)
    protocol.listening.addTimeout(startup_timeout_s, reactor)
    try:
        node.port = await protocol.listening
    except CancelledError:  # from outside (a global timeout): no more to say
        node.remove_workdir = False
        await node.stop()
        raise
    except Exception as e:
        node.remove_workdir = False
        await node.stop()
        tail = node.log_path.read_text(errors="replace")[-3000:]
        raise RelayFailed(f"relay did not start ({type(e).__name__}: {e}); "
                          f"log {node.log_path}:\n{tail}") from e
    return node
