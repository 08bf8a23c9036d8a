"""coturn (Debian's `turnserver`) as a child process on 127.0.0.1: for the call tests and
benchmarks, which need a real TURN server with the relay's secret.

Configured by securechat-turnconf's `TurnServerConfig` (use-auth-secret, loopback peers
allowed, a port range of its own), started with spawnProcess and stopped by its PID.
Ready once it answers a STUN Binding request (resent every 50 ms: coturn prints no
"ready" line).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IDelayedCall

from securechat.relay.turnconf import TurnServerConfig, write

BINARY = shutil.which("turnserver")
STARTUP_LIMIT = 10.0  # seconds for coturn to answer STUN


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Process(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.output: list[bytes] = []

    def outReceived(self, data: bytes) -> None:
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)


class _StunProbe(protocol.DatagramProtocol):
    """Sends a STUN Binding request until anything answers."""

    def __init__(self, reactor: Any, port: int) -> None:
        self._reactor = reactor
        self.answered: defer.Deferred[None] = defer.Deferred()
        self._port = port
        self._timer: IDelayedCall | None = None

    def startProtocol(self) -> None:
        self._send()

    def _send(self) -> None:
        request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)
        self.transport.write(request, ("127.0.0.1", self._port))
        self._timer = self._reactor.callLater(0.05, self._send)

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        if data[:2] == b"\x01\x01" and not self.answered.called:  # Binding success
            self.stop()
            self.answered.callback(None)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()


class TurnServer:
    def __init__(self, reactor: Any, directory: str, secret: str) -> None:
        self._reactor = reactor
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        base = 50000 + 40 * secrets.randbelow(250)  # a range unlikely to be in use
        self.config = TurnServerConfig(secret, port=free_udp_port(), min_port=base,
                                       max_port=base + 39, realm="securechat.test",
                                       loopback=True, state_dir=directory)
        self._process: _Process | None = None
        self.pid: int | None = None

    @property
    def uri(self) -> str:
        return self.config.uri

    @defer.inlineCallbacks
    def start(self) -> Any:
        if BINARY is None:
            raise RuntimeError("coturn is not installed (scripts/setup installs it)")
        path = os.path.join(self.directory, "turnserver.conf")
        write(self.config, path)
        self._process = _Process()
        self.pid = self._reactor.spawnProcess(self._process, BINARY, [BINARY, "-c", path],
                                              env=os.environ).pid
        probe = _StunProbe(self._reactor, self.config.port)
        port = self._reactor.listenUDP(0, probe, interface="127.0.0.1")
        try:
            yield probe.answered.addTimeout(STARTUP_LIMIT, self._reactor)
        except defer.TimeoutError:
            raise RuntimeError("coturn did not start: " + b"".join(
                self._process.output).decode(errors="replace")[-2000:]) from None
        finally:
            probe.stop()
            yield port.stopListening()

    def stop(self) -> defer.Deferred[None]:
        process = self._process
        if process is None or process.ended.called:
            return defer.succeed(None)
        process.transport.signalProcess("TERM")
        return process.ended

