"""Crossbar.io reference router for the relay benchmark.

Crossbar is installed from PyPI into its own virtualenv (``bench/.crossbar-venv``)
so that its large dependency tree never touches the project's environment.  A
throw-away node directory with a minimal config is written for every run, the
node is started as a child process of the reactor, and stopped again at the end.

Crossbar runs as two processes: the *controller* (the ``crossbar start``
process) and a *router worker* that owns the WebSocket listener and all client
sessions.  Memory per connection has to be read from the router worker, so both
PIDs are reported.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from twisted.internet import error as twisted_error
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IProcessTransport, IReactorCore
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

#: The Crossbar.io release known to install and run on CPython 3.11 here.
CROSSBAR_VERSION = "26.10.1"

BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = BENCH_DIR / ".crossbar-venv"
#: Full ``pip freeze`` of a venv in which CROSSBAR_VERSION was verified to work.
CONSTRAINTS_FILE = BENCH_DIR / "crossbar-constraints.txt"

_INSTALLED_MARKER = ".bench-installed"

REALM = "securechat"
SERIALIZERS = ("json", "msgpack", "cbor")


# --------------------------------------------------------------------------- venv


def crossbar_executable(venv_dir: Path = VENV_DIR) -> Path:
    return venv_dir / "bin" / "crossbar"


def _installed_version(venv_dir: Path) -> str | None:
    marker = venv_dir / _INSTALLED_MARKER
    if not marker.is_file() or not crossbar_executable(venv_dir).is_file():
        return None
    return marker.read_text().strip() or None


def ensure_crossbar_venv(
    venv_dir: Path = VENV_DIR,
    version: str = CROSSBAR_VERSION,
    python: str = sys.executable,
    timeout_s: float = 900.0,
) -> float:
    """Make sure ``venv_dir`` holds ``crossbar==version``; create it if not.

    Blocking (run it before the reactor starts).  Returns the seconds spent
    creating/installing, ``0.0`` when the venv was already in place.  pip's
    output goes to ``<venv_dir>/install.log``.
    """
    if _installed_version(venv_dir) == version:
        return 0.0
    started = time.monotonic()
    if venv_dir.exists():
        shutil.rmtree(venv_dir)
    subprocess.run([python, "-m", "venv", str(venv_dir)], check=True, timeout=timeout_s)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    requirement = [f"crossbar=={version}"]
    if version == CROSSBAR_VERSION and CONSTRAINTS_FILE.is_file():
        requirement += ["-c", str(CONSTRAINTS_FILE)]
    log_path = venv_dir / "install.log"
    print(f"installing crossbar=={version} into {venv_dir} (log: {log_path}) ...", file=sys.stderr)
    with log_path.open("w") as log:
        for args in (["install", "--upgrade", "pip"], ["install", *requirement]):
            remaining = timeout_s - (time.monotonic() - started)
            result = subprocess.run(
                [*pip, *args], stdout=log, stderr=subprocess.STDOUT, timeout=max(remaining, 1.0)
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"pip {' '.join(args)} failed (rc={result.returncode}); see {log_path}"
                )
    (venv_dir / _INSTALLED_MARKER).write_text(version + "\n")
    return time.monotonic() - started


# --------------------------------------------------------------------------- config


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def node_config(port: int, realm: str = REALM, host: str = "127.0.0.1") -> dict[str, object]:
    """Minimal Crossbar node: one router, one realm, anonymous may do anything."""
    anonymous = {
        "name": "anonymous",
        "permissions": [
            {
                "uri": "",
                "match": "prefix",
                "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
                "disclose": {"caller": False, "publisher": False},
                "cache": True,
            }
        ],
    }
    transport = {
        "type": "websocket",
        "endpoint": {"type": "tcp", "interface": host, "port": port, "backlog": 1024},
        "serializers": list(SERIALIZERS),
    }
    return {
        "version": 2,
        "controller": {},
        "workers": [
            {
                "type": "router",
                "realms": [{"name": realm, "roles": [anonymous]}],
                "transports": [transport],
            }
        ],
    }


def write_node_dir(port: int, realm: str = REALM, parent: Path | None = None) -> Path:
    """Create a fresh node directory (``--cbdir``) holding ``config.json``."""
    cbdir = Path(tempfile.mkdtemp(prefix="crossbar-node-", dir=parent))
    (cbdir / "config.json").write_text(json.dumps(node_config(port, realm), indent=2))
    return cbdir


# --------------------------------------------------------------------------- process


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (scans /proc; Linux only)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # field 4 is the ppid; the command name (field 2) may contain spaces
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class _NodeProcess(ProcessProtocol):
    def __init__(self, log_path: Path) -> None:
        self._log = log_path.open("ab")
        self.ended: Deferred[int | None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self._log.write(data)

    def errReceived(self, data: bytes) -> None:
        self._log.write(data)

    def processEnded(self, reason: Failure) -> None:
        self._log.close()
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(code)


@dataclass
class CrossbarNode:
    """A running Crossbar node; ``await node.stop()`` when done."""

    reactor: IReactorCore
    transport: IProcessTransport
    protocol: _NodeProcess
    cbdir: Path
    host: str
    port: int
    realm: str
    controller_pid: int
    router_pids: list[int] = field(default_factory=list)
    keep_cbdir: bool = False
    stopping: bool = False
    _shutdown_trigger: object = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def pids(self) -> list[int]:
        """All node processes; the router worker(s) hold the connections."""
        return [self.controller_pid, *self.router_pids]

    @property
    def log_path(self) -> Path:
        return self.cbdir / "node.log"

    def _stop_at_shutdown(self) -> Deferred[None]:
        self._shutdown_trigger = None  # firing now; must not be removed
        return Deferred.fromCoroutine(self.stop())

    async def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the controller (it shuts its workers down), SIGKILL if it hangs."""
        self.stopping = True
        if self._shutdown_trigger is not None:
            self.reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        if not self.protocol.ended.called:
            try:
                self.transport.signalProcess("TERM")
            except twisted_error.ProcessExitedAlready:
                pass
            deadline = time.monotonic() + timeout_s
            while not self.protocol.ended.called and time.monotonic() < deadline:
                await deferLater(self.reactor, 0.05, lambda: None)
            if not self.protocol.ended.called:
                for pid in self.router_pids:
                    _kill(pid)
                try:
                    self.transport.signalProcess("KILL")
                except twisted_error.ProcessExitedAlready:
                    pass
                await self.protocol.ended
        for pid in self.router_pids:  # orphaned workers, should the controller have died abruptly
            _kill(pid)
        if not self.keep_cbdir:
            shutil.rmtree(self.cbdir, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


async def _port_accepts(reactor: IReactorCore, host: str, port: int) -> bool:
    endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=1)
    try:
        proto = await endpoint.connect(Factory.forProtocol(Protocol))
    except (twisted_error.ConnectError, twisted_error.TimeoutError):
        return False
    assert proto.transport is not None
    proto.transport.loseConnection()
    return True


async def start_crossbar(
    reactor: IReactorCore,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    realm: str = REALM,
    venv_dir: Path = VENV_DIR,
    loglevel: str = "warn",
    startup_timeout_s: float = 60.0,
    keep_cbdir: bool = False,
) -> CrossbarNode:
    """Start a Crossbar node (venv must exist) and wait until it accepts TCP.

    ``port=0`` picks a free port.  Raises ``RuntimeError`` if the node exits or
    does not listen within ``startup_timeout_s``.
    """
    if host != "127.0.0.1":
        raise ValueError("the benchmark only runs on loopback (127.0.0.1)")
    if port and not port_is_free(port, host):
        raise RuntimeError(f"port {host}:{port} is already in use")
    port = port or free_port(host)
    cbdir = write_node_dir(port, realm)
    protocol = _NodeProcess(cbdir / "node.log")
    executable = str(crossbar_executable(venv_dir))
    args = [executable, "start", "--cbdir", str(cbdir), "--loglevel", loglevel]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    transport = reactor.spawnProcess(protocol, executable, args, env=env, path=str(cbdir))  # type: ignore[attr-defined]
    node = CrossbarNode(
        reactor,
        transport,
        protocol,
        cbdir,
        host,
        port,
        realm,
        int(transport.pid),
        keep_cbdir=keep_cbdir,
    )

    # Ctrl-C / SIGTERM of the benchmark must not leave the node running.
    node._shutdown_trigger = reactor.addSystemEventTrigger(
        "before", "shutdown", node._stop_at_shutdown
    )
    deadline = time.monotonic() + startup_timeout_s
    while True:
        if node.stopping:  # the benchmark is being shut down
            raise RuntimeError("crossbar startup interrupted")
        if protocol.ended.called:
            tail = node.log_path.read_text(errors="replace")[-3000:]
            node.keep_cbdir = True
            raise RuntimeError(f"crossbar exited during startup; log {node.log_path}:\n{tail}")
        if await _port_accepts(reactor, host, port):
            break
        if time.monotonic() > deadline:
            await node.stop()
            raise RuntimeError(
                f"crossbar did not listen on {host}:{port} within {startup_timeout_s}s"
            )
        await deferLater(reactor, 0.1, lambda: None)

    node.router_pids = [
        pid for pid in child_pids(node.controller_pid) if "RouterController" in _cmdline(pid)
    ]
    if not node.router_pids:
        node.router_pids = child_pids(node.controller_pid)
    return node
