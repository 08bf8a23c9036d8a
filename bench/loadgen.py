"""Generic WAMP load harness for the relay benchmark (Twisted + Autobahn).

The harness knows nothing about a particular router.  A :class:`Workload`
supplies three plug-ins:

* ``connect(role, index)`` - open a WAMP session that has joined (and
  authenticated); ``role`` is ``"sender"``, ``"receiver"`` or ``"idle"``.
  :func:`connect_wamp` does the WAMP part and takes auth hooks.
* ``subscribe(session, role, index, handler)`` - make ``handler(payload)`` run
  for every message delivered to endpoint ``index`` (a receiver's inbox, or an
  idle session's one topic).  ``payload`` must be the exact ``bytes`` given to
  ``send``.
* ``send(session, target, payload)`` - send ``payload`` to receiver ``target``;
  the result fires when the router acknowledged it (CALL result, or PUBLISH
  with ``acknowledge=True``).

Each may return a Deferred or a coroutine.  Sender ``i`` always sends to
receiver ``i``.  Every payload carries ``(sender, seq, send time)`` so the
receiving side measures one-way latency (same host, same monotonic clock).
A message counts as finished once it was both acknowledged to its sender and
delivered to its receiver; the throughput window bounds unfinished messages.

Whole benchmark for one router (inside ``async def main(reactor)`` run by
``twisted.internet.task.react``)::

    result = await measure_router("ours", workload, [server_pid], BenchOptions())
    print("\n".join(result.lines()))
    print("\n".join(comparison_lines(result, crossbar_result)))

or piecemeal: ``connect_pairs`` -> ``run_throughput`` / ``run_fixed_rate`` ->
``PairSet.close``; ``measure_idle_memory`` for the RSS per idle session.
Clients only connect to loopback addresses.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.interfaces import ISerializer
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import Challenge, CloseDetails, ComponentConfig, SessionDetails
from autobahn.websocket.util import parse_url
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

T = TypeVar("T")
_log = Logger(namespace="bench.loadgen")

Role = Literal["sender", "receiver", "idle"]
Handler = Callable[[bytes], None]
ConnectFn = Callable[[Role, int], Awaitable[ApplicationSession]]
SubscribeFn = Callable[[ApplicationSession, Role, int, Handler], Awaitable[object]]
SendFn = Callable[[ApplicationSession, int, bytes], Awaitable[object]]
ChallengeFn = Callable[[ApplicationSession, Challenge], "str | Awaitable[str]"]

SERIALIZERS: dict[str, type[ISerializer]] = {
    "msgpack": MsgPackSerializer,
    "json": JsonSerializer,
    "cbor": CBORSerializer,
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback  # TCP4ClientEndpoint: IPv4 only


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def _as_deferred(result: Awaitable[T]) -> Deferred[T]:
    if isinstance(result, Deferred):
        return result
    return ensureDeferred(cast(Coroutine[Any, Any, T], result))


async def _sleep(seconds: float) -> None:
    await deferLater(cast(IReactorTime, _reactor()), seconds, lambda: None)


# --------------------------------------------------------------------------- sessions


class BenchSession(ApplicationSession):
    """ApplicationSession that joins on connect and exposes join/disconnect Deferreds."""

    def __init__(
        self,
        config: ComponentConfig,
        joined: Deferred[SessionDetails],
        *,
        authmethods: list[str] | None = None,
        authid: str | None = None,
        authrole: str | None = None,
        authextra: dict[str, Any] | None = None,
        on_challenge: ChallengeFn | None = None,
    ) -> None:
        super().__init__(config)
        self.joined = joined
        self.disconnected: Deferred[None] = Deferred()
        self._join_args: dict[str, Any] = {
            "authmethods": authmethods,
            "authid": authid,
            "authrole": authrole,
            "authextra": authextra,
        }
        self._on_challenge = on_challenge

    def onConnect(self) -> None:
        self.join(self.config.realm, **self._join_args)

    def onChallenge(self, challenge: Challenge) -> Any:
        if self._on_challenge is None:
            raise RuntimeError(f"unexpected authentication challenge {challenge.method!r}")
        return self._on_challenge(self, challenge)

    def onJoin(self, details: SessionDetails) -> None:
        if not self.joined.called:
            self.joined.callback(details)

    def onLeave(self, details: CloseDetails) -> Any:
        if not self.joined.called:
            self.joined.errback(
                ConnectionError(f"join refused: {details.reason} {details.message or ''}")
            )
        return super().onLeave(details)

    def onDisconnect(self) -> None:
        super().onDisconnect()
        if not self.joined.called:
            self.joined.errback(ConnectionError("disconnected before join"))
        if not self.disconnected.called:
            self.disconnected.callback(None)


async def connect_wamp(
    url: str,
    realm: str,
    *,
    serializer: str = "msgpack",
    authmethods: list[str] | None = None,
    authid: str | None = None,
    authrole: str | None = None,
    authextra: dict[str, Any] | None = None,
    on_challenge: ChallengeFn | None = None,
    timeout_s: float = 30.0,
) -> BenchSession:
    """Open a WebSocket to ``url`` (loopback only) and join ``realm``.

    ``on_challenge(session, challenge)`` answers WAMP-CRA/cryptosign/ticket
    challenges (may return a Deferred).  Raises if the join fails or takes
    longer than ``timeout_s``.
    """
    _secure, host, port, _resource, _path, _params = parse_url(url)
    if not _is_loopback(host):
        raise ValueError(f"benchmark clients only connect to loopback, not {host!r}")
    reactor = _reactor()
    joined: Deferred[SessionDetails] = Deferred()
    sessions: list[BenchSession] = []

    def make_session() -> BenchSession:
        session = BenchSession(
            ComponentConfig(realm=realm),
            joined,
            authmethods=authmethods,
            authid=authid,
            authrole=authrole,
            authextra=authextra,
            on_challenge=on_challenge,
        )
        sessions.append(session)
        return session

    factory = WampWebSocketClientFactory(
        make_session, url=url, serializers=[SERIALIZERS[serializer]()]
    )
    # a router busy with thousands of leaving sessions may answer the close late
    factory.setProtocolOptions(closeHandshakeTimeout=10)
    endpoint = TCP4ClientEndpoint(
        cast(IReactorTCP, reactor), host, port, timeout=max(int(timeout_s), 1)
    )
    protocol = await endpoint.connect(factory)
    joined.addTimeout(timeout_s, reactor)
    try:
        await joined
    except BaseException:
        if protocol.transport is not None:
            protocol.transport.abortConnection()
        raise
    return sessions[0]


async def close_session(session: ApplicationSession, timeout_s: float = 10.0) -> None:
    """Leave politely, then make sure the TCP connection is gone (bounded)."""
    try:
        if session.is_attached():
            session.leave()
        else:
            session.disconnect()
    except Exception:  # already closing
        pass
    disconnected = getattr(session, "disconnected", None)
    if isinstance(disconnected, Deferred) and not disconnected.called:
        waiter: Deferred[None] = Deferred()
        disconnected.chainDeferred(waiter)
        waiter.addTimeout(timeout_s, _reactor())
        try:
            await waiter
        except Exception:
            transport = getattr(session._transport, "transport", None)  # WebSocket -> TCP
            if transport is not None:
                transport.abortConnection()


async def bounded_gather(
    jobs: Iterable[Callable[[], Awaitable[T]]],
    concurrency: int,
    *,
    on_failure_close: Callable[[T], Awaitable[object]] | None = None,
) -> list[T]:
    """Run ``jobs`` with at most ``concurrency`` in flight; all results, in order.

    If any job fails, the successful results are closed with
    ``on_failure_close`` (when given) and the first failure is raised.
    """
    semaphore = DeferredSemaphore(concurrency)
    deferreds = [semaphore.run(lambda job=job: _as_deferred(job())) for job in jobs]
    outcomes = await DeferredList(deferreds, consumeErrors=True)
    failures = [value for ok, value in outcomes if not ok]
    if failures:
        if on_failure_close is not None:
            for ok, value in outcomes:
                if ok:
                    await on_failure_close(value)
        cast(Failure, failures[0]).raiseException()
    return [cast(T, value) for _ok, value in outcomes]


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Workload:
    """The router-specific plug-ins (see module docstring)."""

    connect: ConnectFn
    subscribe: SubscribeFn
    send: SendFn
    close: Callable[[ApplicationSession], Awaitable[None]] = close_session


_HEADER = struct.Struct("<IIq")  # sender index, sequence number, time.monotonic_ns() at send


def encode_payload(sender: int, seq: int, sent_ns: int, size: int) -> bytes:
    header = _HEADER.pack(sender, seq, sent_ns)
    return header + bytes(max(size - _HEADER.size, 0))


def decode_payload(payload: bytes) -> tuple[int, int, int]:
    """``(sender, seq, sent_ns)`` from a payload made by :func:`encode_payload`."""
    return cast(tuple[int, int, int], _HEADER.unpack_from(payload))


# --------------------------------------------------------------------------- results


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(int(-(-q * len(sorted_values) // 100)), 1)  # ceil(q/100 * n), at least 1
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def from_ns(cls, samples_ns: Sequence[int]) -> LatencyStats:
        ordered = sorted(samples_ns)
        if not ordered:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        return cls(
            count=len(ordered),
            p50_ms=percentile(ordered, 50) / 1e6,
            p99_ms=percentile(ordered, 99) / 1e6,
            max_ms=ordered[-1] / 1e6,
            mean_ms=sum(ordered) / len(ordered) / 1e6,
        )


@dataclass(frozen=True)
class RunResult:
    mode: Literal["throughput", "fixed-rate"]
    pairs: int
    planned: int
    sent: int
    delivered: int
    errors: int
    misrouted: int
    elapsed_s: float
    msgs_per_s: float
    latency: LatencyStats
    window: int | None = None
    target_rate: float | None = None

    @property
    def lost(self) -> int:
        return self.planned - self.delivered - self.errors

    @property
    def ok(self) -> bool:
        return self.delivered == self.planned and self.misrouted == 0

    def summary(self, label: str) -> str:
        lat = self.latency
        head = (
            f"{label}: {self.msgs_per_s:.0f} msgs/s p50={lat.p50_ms:.2f}ms p99={lat.p99_ms:.2f}ms"
        )
        if self.mode == "throughput":
            shape = f"{self.pairs} pairs, window {self.window}"
        else:
            shape = f"fixed rate {self.target_rate:g}/s, {self.pairs} pairs"
        tail = f"({self.delivered}/{self.planned} delivered, {shape}, max={lat.max_ms:.2f}ms"
        if self.errors or self.lost or self.misrouted:
            tail += f", errors={self.errors} lost={self.lost} misrouted={self.misrouted}"
        return f"{head} {tail})"


@dataclass(frozen=True)
class IdleMemoryResult:
    sessions: int
    rss_before_kb: int
    rss_after_kb: int
    connect_s: float

    @property
    def kb_per_session(self) -> float:
        return (
            (self.rss_after_kb - self.rss_before_kb) / self.sessions
            if self.sessions
            else float("nan")
        )

    def summary(self, label: str) -> str:
        return (
            f"{label} idle: {self.sessions} sessions, {self.kb_per_session:.1f} KB/session "
            f"(server RSS {self.rss_before_kb / 1024:.1f} -> {self.rss_after_kb / 1024:.1f} MiB, "
            f"connected in {self.connect_s:.1f}s)"
        )


# --------------------------------------------------------------------------- pairs


@dataclass
class PairSet:
    """N receivers (subscribed to their inbox) and N senders; sender i -> receiver i."""

    workload: Workload
    first_index: int = 0  # pair i uses endpoint index first_index + i in the Workload calls
    senders: list[ApplicationSession] = field(default_factory=list)
    receivers: list[ApplicationSession] = field(default_factory=list)
    _run: _Run | None = None

    def __len__(self) -> int:
        return len(self.senders)

    def deliver(self, receiver: int, payload: bytes) -> None:
        """Handler target for receiver ``receiver`` (wired up by connect_pairs)."""
        if self._run is not None:
            self._run.on_delivery(receiver, payload)

    async def close(self, concurrency: int = 64) -> None:
        sessions = [*self.senders, *self.receivers]
        self.senders, self.receivers = [], []
        await bounded_gather([partial(self.workload.close, s) for s in sessions], concurrency)


async def connect_pairs(
    workload: Workload, pairs: int, *, first_index: int = 0, concurrency: int = 32
) -> PairSet:
    """Connect and subscribe ``pairs`` receivers, then connect ``pairs`` senders.

    Pair ``i`` is endpoint ``first_index + i`` for the Workload (so several load
    processes can share one router without overlapping inboxes).
    """
    pair_set = PairSet(workload, first_index)

    async def receiver(i: int) -> ApplicationSession:
        session = await workload.connect("receiver", first_index + i)
        try:
            handler = partial(pair_set.deliver, i)
            await workload.subscribe(session, "receiver", first_index + i, handler)
        except BaseException:
            await workload.close(session)
            raise
        return session

    pair_set.receivers = await bounded_gather(
        [partial(receiver, i) for i in range(pairs)], concurrency, on_failure_close=workload.close
    )
    try:
        pair_set.senders = await bounded_gather(
            [partial(workload.connect, "sender", first_index + i) for i in range(pairs)],
            concurrency,
            on_failure_close=workload.close,
        )
    except BaseException:
        await pair_set.close()
        raise
    return pair_set


class _Run:
    """Book-keeping for one measurement: a message is done once acked *and* delivered."""

    def __init__(
        self, pairs: PairSet, planned_per_sender: Sequence[int], payload_size: int
    ) -> None:
        self.pairs = pairs
        self.planned_per_sender = list(planned_per_sender)
        self.planned = sum(planned_per_sender)
        self.payload_size = payload_size
        n = len(pairs)
        self.next_seq = [0] * n
        self.in_flight = [0] * n
        self.pending: list[dict[int, int]] = [{} for _ in range(n)]  # seq -> parts outstanding
        self.latencies_ns: list[int] = []
        self.sent = self.delivered = self.errors = self.misrouted = self.finished = 0
        self.first_send_ns = self.last_done_ns = 0
        self.on_slot_free: Callable[[int], None] | None = None
        self.done: Deferred[None] = Deferred()

    def send(self, sender: int) -> None:
        seq = self.next_seq[sender]
        self.next_seq[sender] = seq + 1
        self.in_flight[sender] += 1
        self.pending[sender][seq] = 2
        self.sent += 1
        now = time.monotonic_ns()
        if not self.first_send_ns:
            self.first_send_ns = now
        payload = encode_payload(sender, seq, now, self.payload_size)
        try:
            session = self.pairs.senders[sender]
            target = self.pairs.first_index + sender
            d = _as_deferred(self.pairs.workload.send(session, target, payload))
        except Exception as exc:
            self._send_failed(Failure(exc), sender, seq)
            return
        d.addCallbacks(
            self._acked, self._send_failed, callbackArgs=(sender, seq), errbackArgs=(sender, seq)
        )

    def on_delivery(self, receiver: int, payload: bytes) -> None:
        now = time.monotonic_ns()
        sender, seq, sent_ns = decode_payload(payload)
        if sender != receiver:
            self.misrouted += 1
            return
        if seq not in self.pending[sender]:
            return  # duplicate, or from a failed/earlier run
        self.delivered += 1
        self.latencies_ns.append(now - sent_ns)
        self.last_done_ns = now
        self._part_done(sender, seq)

    def _acked(self, _result: object, sender: int, seq: int) -> None:
        if seq in self.pending[sender]:
            self._part_done(sender, seq)

    def _send_failed(self, failure: Failure, sender: int, seq: int) -> None:
        if self.errors == 0:  # log the first one only
            _log.warn("send failed: {error}", error=failure.getErrorMessage())
        self._failed(sender, seq)

    def _failed(self, sender: int, seq: int) -> None:
        if self.pending[sender].pop(seq, None) is None:
            return
        self.errors += 1
        self._finish(sender)

    def _part_done(self, sender: int, seq: int) -> None:
        pending = self.pending[sender]
        left = pending[seq] - 1
        if left:
            pending[seq] = left
            return
        del pending[seq]
        self._finish(sender)

    def _finish(self, sender: int) -> None:
        self.in_flight[sender] -= 1
        self.finished += 1
        if self.finished == self.planned:
            if not self.done.called:
                self.done.callback(None)
        elif self.on_slot_free is not None:
            self.on_slot_free(sender)

    def result(self, mode: Literal["throughput", "fixed-rate"], **extra: Any) -> RunResult:
        elapsed = max(self.last_done_ns - self.first_send_ns, 1) / 1e9 if self.delivered else 0.0
        return RunResult(
            mode=mode,
            pairs=len(self.pairs),
            planned=self.planned,
            sent=self.sent,
            delivered=self.delivered,
            errors=self.errors,
            misrouted=self.misrouted,
            elapsed_s=elapsed,
            msgs_per_s=self.delivered / elapsed if elapsed else 0.0,
            latency=LatencyStats.from_ns(self.latencies_ns),
            **extra,
        )


async def _await_run(pairs: PairSet, run: _Run, timeout_s: float) -> None:
    """Wait for ``run`` to finish, at most ``timeout_s``; detach it afterwards."""
    reactor = cast(IReactorTime, _reactor())
    timer: IDelayedCall = reactor.callLater(
        timeout_s, lambda: run.done.called or run.done.callback(None)
    )
    try:
        await run.done
    finally:
        if timer.active():
            timer.cancel()
        pairs._run = None


async def run_throughput(
    pairs: PairSet,
    messages_per_sender: int,
    *,
    window: int = 32,
    payload_size: int = 256,
    timeout_s: float = 120.0,
) -> RunResult:
    """Every sender sends as fast as a window of ``window`` unfinished messages allows.

    msgs/s = delivered / (last delivery - first send).  Stops after
    ``timeout_s`` with whatever was delivered (see ``RunResult.lost``).
    """
    if pairs._run is not None:
        raise RuntimeError("a run is already in progress on this PairSet")
    if messages_per_sender < 1 or window < 1:
        raise ValueError("messages_per_sender and window must be >= 1")
    run = _Run(pairs, [messages_per_sender] * len(pairs), payload_size)

    pumping = [False] * len(pairs)  # a send that fails synchronously re-enters pump()

    def pump(sender: int) -> None:
        if run.done.called or pumping[sender]:  # finished/timed out, or already looping
            return
        pumping[sender] = True
        try:
            while run.in_flight[sender] < window and run.next_seq[sender] < messages_per_sender:
                run.send(sender)
        finally:
            pumping[sender] = False

    run.on_slot_free = pump
    pairs._run = run
    for sender in range(len(pairs)):
        pump(sender)
    await _await_run(pairs, run, timeout_s)
    return run.result("throughput", window=window)


async def run_fixed_rate(
    pairs: PairSet,
    rate_per_s: float = 100.0,
    total_messages: int = 1000,
    *,
    payload_size: int = 256,
    max_outstanding: int = 1000,
    timeout_s: float = 120.0,
) -> RunResult:
    """Send ``total_messages`` at ``rate_per_s`` in total (senders take turns).

    Latency here is per-message latency at a light, steady load.  Sending
    pauses while ``max_outstanding`` messages are unfinished.
    """
    if pairs._run is not None:
        raise RuntimeError("a run is already in progress on this PairSet")
    if total_messages < 1 or rate_per_s <= 0:
        raise ValueError("total_messages must be >= 1 and rate_per_s > 0")
    n = len(pairs)
    planned = [total_messages // n + (1 if i < total_messages % n else 0) for i in range(n)]
    run = _Run(pairs, planned, payload_size)
    pairs._run = run
    started = time.monotonic()
    turn = 0

    def tick() -> None:
        nonlocal turn
        due = min(int((time.monotonic() - started) * rate_per_s) + 1, total_messages)
        while not run.done.called and run.sent < due and run.sent - run.finished < max_outstanding:
            while run.next_seq[turn] >= planned[turn]:
                turn = (turn + 1) % n
            run.send(turn)
            turn = (turn + 1) % n
        if run.sent >= total_messages and ticker.running:
            ticker.stop()

    ticker = LoopingCall(tick)
    ticker.clock = cast(IReactorTime, _reactor())
    ticker.start(min(1.0 / rate_per_s, 0.01), now=True)
    try:
        await _await_run(pairs, run, timeout_s)
    finally:
        if ticker.running:
            ticker.stop()
    return run.result("fixed-rate", target_rate=rate_per_s)


# --------------------------------------------------------------------------- idle memory


def read_rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def total_rss_kb(pids: Iterable[int]) -> int:
    return sum(read_rss_kb(pid) for pid in pids)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by ``pid`` (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


async def _settled_rss_kb(
    pids: Sequence[int], max_wait_s: float = 5.0, interval_s: float = 0.25
) -> int:
    """RSS once two consecutive readings differ by < 0.5% (bounded by ``max_wait_s``)."""
    deadline = time.monotonic() + max_wait_s
    previous = total_rss_kb(pids)
    while time.monotonic() < deadline:
        await _sleep(interval_s)
        current = total_rss_kb(pids)
        if abs(current - previous) <= previous * 0.005:
            return current
        previous = current
    return previous


async def measure_idle_memory(
    workload: Workload,
    server_pids: Sequence[int],
    sessions: int = 2000,
    *,
    concurrency: int = 32,
    first_index: int = 0,
) -> IdleMemoryResult:
    """Open ``sessions`` idle sessions (joined, each subscribed to one topic).

    Returns the server's RSS (summed over ``server_pids``) before and after.
    The sessions are closed again before returning.  Raises the client's fd
    limit as needed.
    """
    raise_fd_limit(sessions + 1024)

    async def idle(index: int) -> ApplicationSession:
        session = await workload.connect("idle", index)
        try:
            await workload.subscribe(session, "idle", index, _ignore)
        except BaseException:
            await workload.close(session)
            raise
        return session

    before = await _settled_rss_kb(server_pids)
    started = time.monotonic()
    opened = await bounded_gather(
        [partial(idle, first_index + k) for k in range(sessions)],
        concurrency,
        on_failure_close=workload.close,
    )
    connect_s = time.monotonic() - started
    try:
        after = await _settled_rss_kb(server_pids)
    finally:
        await bounded_gather([partial(workload.close, s) for s in opened], concurrency)
    return IdleMemoryResult(
        sessions=len(opened), rss_before_kb=before, rss_after_kb=after, connect_s=connect_s
    )


def _ignore(_payload: bytes) -> None:
    pass


# --------------------------------------------------------------------------- whole benchmark


@dataclass(frozen=True)
class BenchOptions:
    """The workload shape; both halves of the comparison must use the same one."""

    pairs: int = 4
    messages: int = 5000  # per sender, per throughput repetition
    warmup: int = 200  # per sender, not measured
    window: int = 32  # unfinished messages per sender
    repeats: int = 3  # throughput repetitions; the median (by msgs/s) is reported
    payload_size: int = 256
    rate: float = 100.0  # fixed-rate mode, msgs/s in total
    rate_messages: int = 1000  # 0 skips the fixed-rate run
    idle: int = 2000  # idle sessions; 0 skips the memory measurement
    serializer: str = "msgpack"
    timeout_s: float = 300.0  # per run


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The BenchOptions flags (``--pairs``, ``--messages``, ...)."""
    d = BenchOptions()
    add = parser.add_argument
    add("--pairs", type=int, default=d.pairs, help="senders = receivers = N")
    add("--messages", type=int, default=d.messages, help="messages per sender and repetition")
    add("--warmup", type=int, default=d.warmup, help="unmeasured messages per sender")
    add("--window", type=int, default=d.window, help="unfinished messages per sender")
    add("--repeats", type=int, default=d.repeats, help="throughput runs; median is reported")
    add("--payload-size", type=int, default=d.payload_size, help="bytes per message")
    add("--rate", type=float, default=d.rate, help="fixed-rate mode: msgs/s in total")
    add("--rate-messages", type=int, default=d.rate_messages, help="0 skips fixed-rate")
    add("--idle", type=int, default=d.idle, help="idle sessions for memory; 0 skips")
    add("--serializer", choices=sorted(SERIALIZERS), default=d.serializer)
    add("--timeout", type=float, default=d.timeout_s, help="limit per run, seconds")


def options_from_args(ns: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        pairs=ns.pairs,
        messages=ns.messages,
        warmup=ns.warmup,
        window=ns.window,
        repeats=max(ns.repeats, 1),
        payload_size=ns.payload_size,
        rate=ns.rate,
        rate_messages=ns.rate_messages,
        idle=ns.idle,
        serializer=ns.serializer,
        timeout_s=ns.timeout,
    )


@dataclass(frozen=True)
class Measured:
    """One throughput run plus the CPU both sides used meanwhile (seconds)."""

    result: RunResult
    server_cpu_s: float
    client_cpu_s: float


@dataclass(frozen=True)
class RouterResult:
    """What one router achieved under the workload; see :func:`measure_router`."""

    label: str
    throughput: Measured  # the median repetition
    all_throughput: list[Measured]
    fixed_rate: RunResult | None
    idle: IdleMemoryResult | None

    def lines(self) -> list[str]:
        t = self.throughput
        wall = t.result.elapsed_s or float("nan")
        runs = ", ".join(f"{m.result.msgs_per_s:.0f}" for m in self.all_throughput)
        out = [
            t.result.summary(self.label),
            f"{self.label} throughput runs (msgs/s): {runs}; cpu in the median run: "
            f"router {t.server_cpu_s / wall:.0%}, load generator {t.client_cpu_s / wall:.0%}",
        ]
        if self.fixed_rate is not None:
            out.append(self.fixed_rate.summary(f"{self.label} fixed-rate"))
        if self.idle is not None:
            out.append(self.idle.summary(self.label))
        return out


def comparison_lines(ours: RouterResult, reference: RouterResult) -> list[str]:
    """``ours/reference`` ratios: throughput (higher is better) and p50/p99."""
    a, b = ours.throughput.result, reference.throughput.result
    ratio = a.msgs_per_s / b.msgs_per_s if b.msgs_per_s else float("nan")
    lines = [
        f"ratio {ours.label}/{reference.label}: {ratio:.2f} "
        f"(throughput {a.msgs_per_s:.0f} vs {b.msgs_per_s:.0f} msgs/s; "
        f"p50 {a.latency.p50_ms:.2f} vs {b.latency.p50_ms:.2f} ms; "
        f"p99 {a.latency.p99_ms:.2f} vs {b.latency.p99_ms:.2f} ms)"
    ]
    if ours.idle is not None and reference.idle is not None:
        lines.append(
            f"idle memory {ours.label}/{reference.label}: "
            f"{ours.idle.kb_per_session:.1f} vs {reference.idle.kb_per_session:.1f} KB/session"
        )
    return lines


def _cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def measure_router(
    label: str, workload: Workload, server_pids: Sequence[int], options: BenchOptions
) -> RouterResult:
    """The whole measurement for one router, all sessions closed afterwards.

    Order: idle memory first (on a fresh router, before traffic has grown its
    heap), then ``options.repeats`` throughput runs, then the fixed-rate run.
    ``server_pids`` are the processes whose RSS/CPU count as the router's.
    """
    idle = None
    if options.idle:
        idle = await measure_idle_memory(workload, server_pids, options.idle)
    pairs = await connect_pairs(workload, options.pairs)
    try:
        if options.warmup:
            await run_throughput(
                pairs, options.warmup, window=options.window, payload_size=options.payload_size
            )
        runs = []
        for _ in range(max(options.repeats, 1)):
            server_cpu, client_cpu = _cpu(server_pids), cpu_seconds(os.getpid())
            result = await run_throughput(
                pairs,
                options.messages,
                window=options.window,
                payload_size=options.payload_size,
                timeout_s=options.timeout_s,
            )
            runs.append(
                Measured(
                    result,
                    _cpu(server_pids) - server_cpu,
                    cpu_seconds(os.getpid()) - client_cpu,
                )
            )
        fixed = None
        if options.rate_messages:
            fixed = await run_fixed_rate(
                pairs,
                options.rate,
                options.rate_messages,
                payload_size=options.payload_size,
                timeout_s=options.timeout_s,
            )
    finally:
        await pairs.close()
    median = sorted(runs, key=lambda m: m.result.msgs_per_s)[len(runs) // 2]
    return RouterResult(label, median, runs, fixed, idle)


def install_warning_logger() -> None:
    """Twisted/Autobahn log events of level warn and above to stderr, minus the warning
    autobahn logs when a router answers GOODBYE with ``wamp.close.goodbye_and_out``:
    that is how every session of a benchmark ends."""
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        PredicateResult,
        globalLogBeginner,
        textFileLogObserver,
    )

    def not_a_normal_goodbye(event: dict[str, Any]) -> PredicateResult:
        if event.get("reason") == "wamp.close.goodbye_and_out":
            return PredicateResult.no
        return PredicateResult.maybe

    observer = FilteringLogObserver(
        textFileLogObserver(sys.stderr),
        [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn), not_a_normal_goodbye],
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


__all__ = [
    "BenchOptions",
    "BenchSession",
    "ChallengeFn",
    "ConnectFn",
    "Handler",
    "IdleMemoryResult",
    "LatencyStats",
    "Measured",
    "PairSet",
    "Role",
    "RouterResult",
    "RunResult",
    "SendFn",
    "SubscribeFn",
    "Workload",
    "add_bench_arguments",
    "bounded_gather",
    "close_session",
    "comparison_lines",
    "connect_pairs",
    "connect_wamp",
    "cpu_seconds",
    "decode_payload",
    "encode_payload",
    "install_warning_logger",
    "measure_idle_memory",
    "measure_router",
    "options_from_args",
    "percentile",
    "raise_fd_limit",
    "read_rss_kb",
    "run_fixed_rate",
    "run_throughput",
    "total_rss_kb",
]
