"""The client benchmark: text messages end to end between two real clients.

Run from the repository root::

    .venv/bin/python -m bench.bench_client [--messages 2000] [--window 200] [--rate 100]

The relay runs as a child process (``twistd -n securechat-relay`` on a free
loopback port, throw-away database, rate limits raised out of the way) so it
does not share the clients' process or GIL.  Alice and Bob are two real
:class:`~securechat.client.core.SecureChatClient` instances in this process, on
the default reactor, each with its own data directory: registered, started,
caught up and befriended exactly as the tests do it.  Every message then takes
the whole path: Alice stores it and queues it in her outbox, encrypts it with
Olm, the relay routes it, Bob decrypts it, stores it, acks it and sends a
delivery receipt, which Alice decrypts and stores as the message's tick.

* **throughput**: Alice calls ``send_text`` as fast as the client accepts it,
  with at most ``--window`` messages not yet received by Bob; messages/s from
  the first ``send_text`` to Bob's last ``MessageReceived``.  Each message must
  reach Bob exactly once; the delivered ticks on Alice's side are counted
  after waiting for them.
* **latency**: ``--rate`` messages/s for ``--duration`` seconds, each scheduled
  against an absolute time; latency is Bob's ``MessageReceived`` minus the
  ``send_text`` call (same process, same clock: ``time.perf_counter``).
* **reference**: raw vodozemac Olm encrypt + decrypt of the same plaintext
  (the encoded MSG frame the client encrypts), two accounts, one established
  session, one thread, measured in the same run.

The throughput phase also prints the CPU time this process (both clients and
their database threads) and the relay used per message.  Everything lives in a
temporary directory on the default ``TMPDIR``: a real disk, so SQLite commits
and WAL checkpoints are part of what is measured (``TMPDIR=/dev/shm`` takes the
disk out, to tell its stalls apart).

Exit status: 0 when every target passes, 1 when a target is missed, 2 when the
run failed (messages lost, a stall, the global ``--timeout``).
``--profile FILE`` writes cProfile stats of this process (the clients) over
the measured phases.
"""

from __future__ import annotations

import argparse
import cProfile
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import vodozemac
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorTime

from bench import loadgen, relayproc
from bench.common import (
    BenchFailed,
    RunOptions,
    add_run_arguments,
    bounded,
    run_benchmark,
    run_options,
    stop_at_shutdown,
    verdict,
)
from bench.loadgen import percentile
from bench.relayproc import RelayNode
from securechat.client import events as ev
from securechat.client.core import SecureChatClient
from securechat.client.model import KdfCost, MessageStatus, new_message_id
from securechat.protocol import frames

#: What issue 10 asks for.
TARGET_MSGS_PER_S = 1000.0
TARGET_P99_MS = 20.0

FAST_KDF = KdfCost(memory_kib=8192, iterations=1)  # the relay's minimum, as the tests use
PASSWORD = "bench-password-" + "x" * 10
RELAY_LIMITS = ("--session-rate=100000", "--session-burst=100000",
                "--account-rate=100000", "--account-burst=100000",
                # A development relay: accounts made without mailed codes, cheap verifiers.
                "--email-verification=off", "--min-scram-memory=8192",
                "--min-scram-iterations=1")

_SEQ = re.compile(r"^bench (\d+) ")


# --------------------------------------------------------------------------- relay process


async def start_relay(reactor: IReactorCore, workdir: Path, timeout_s: float = 60.0) -> RelayNode:
    """The relay on a free loopback port, its database and log in `workdir`."""
    try:
        return await relayproc.start_relay(
            reactor, workdir, ["--listen=tcp:0:interface=127.0.0.1",
                               f"--db={workdir / 'relay.sqlite'}", *RELAY_LIMITS],
            startup_timeout_s=timeout_s)
    except relayproc.RelayFailed as e:
        raise BenchFailed(str(e)) from e


# --------------------------------------------------------------------------- clients


class Waiter:
    """Fires Deferreds when a client emits a matching event (past events are not kept)."""

    def __init__(self, client: SecureChatClient) -> None:
        self._waiters: list[tuple[type, Callable[[Any], bool], Deferred[Any]]] = []
        client.events.subscribe(self._event)

    def _event(self, event: object) -> None:
        for waiter in list(self._waiters):
            kind, match, d = waiter
            if isinstance(event, kind) and match(event):
                self._waiters.remove(waiter)
                d.callback(event)

    def next(self, kind: type, match: Callable[[Any], bool] = lambda e: True) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self._waiters.append((kind, match, d))
        return d


@dataclass
class Pair:
    reactor: IReactorCore
    alice: SecureChatClient
    bob: SecureChatClient
    _withdraw: Callable[[], None] = field(init=False, repr=False)
    _stopped: list[SecureChatClient] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._withdraw = stop_at_shutdown(self.reactor, lambda: self.stop(2.0))

    async def stop(self, timeout_s: float = 15.0) -> None:
        self._withdraw()
        for client in (self.alice, self.bob):
            await self.stop_one(client, timeout_s)

    async def stop_one(self, client: SecureChatClient, timeout_s: float = 15.0) -> None:
        """Stop one of the two (its database closed, its account free for another
        process); `stop` later skips it."""
        if any(c is client for c in self._stopped):
            return
        self._stopped.append(client)
        try:
            await bounded(client.stop(), timeout_s, f"{client.me.email} to stop")
        except Exception as e:  # keep cleaning up
            print(f"warning: {e}", file=sys.stderr)


async def make_pair(reactor: IReactorCore, url: str, workdir: Path, timeout_s: float,
                    cost: KdfCost = FAST_KDF) -> Pair:
    """Register Alice and Bob (password-derived keys at `cost`), bring both online and
    caught up, and make them friends. Their data directories are workdir/alice and
    workdir/bob."""
    clients: list[SecureChatClient] = []
    try:
        for name in ("alice", "bob"):
            client, _mnemonic = await bounded(SecureChatClient.register(
                reactor, str(workdir / name), url, f"{name}@bench.invalid", PASSWORD, name,
                cost), timeout_s, f"{name} to register")
            clients.append(client)
    except BaseException:
        for client in clients:
            await bounded(client.stop(), timeout_s, "a client to stop")
        raise
    pair = Pair(reactor, *clients)
    try:
        waiters = [Waiter(c) for c in clients]
        caught_up = [w.next(ev.CaughtUp) for w in waiters]
        for client in clients:
            client.start()
        for client, d in zip(clients, caught_up, strict=True):
            await bounded(d, timeout_s, f"{client.me.email} to catch up")
        alice, bob = waiters
        asked = bob.next(ev.FriendRequestReceived)
        answered = alice.next(ev.FriendRequestAnswered)
        await bounded(pair.alice.add_friend(pair.bob.me.email), timeout_s, "add_friend")
        await bounded(asked, timeout_s, "Bob to get the friend request")
        await bounded(pair.bob.accept_friend(pair.alice.me.user_id), timeout_s, "accept_friend")
        await bounded(answered, timeout_s, "Alice to see the request accepted")
    except BaseException:
        await pair.stop()
        raise
    return pair


# --------------------------------------------------------------------------- measuring


def message_text(seq: int, size: int) -> str:
    head = f"bench {seq} "
    return head + "x" * max(size - len(head), 1)


@dataclass
class Tracker:
    """Bob's received messages and Alice's delivered ticks, counted as they happen.

    Phases run one after the other and each waits for all its messages, so
    "in flight" is simply sent minus received over the whole run.
    """

    sent_at: dict[int, float] = field(default_factory=dict)  # seq -> send_text call
    received_at: dict[int, float] = field(default_factory=dict)  # seq -> MessageReceived
    ids: set[str] = field(default_factory=set)  # message ids Bob received
    delivered: set[str] = field(default_factory=set)  # ... that got their tick on Alice
    last_tick_at: float = 0.0  # when the latest of those ticks came
    duplicates: int = 0
    out_of_order: int = 0  # received after a message sent later (one conversation)
    foreign: int = 0  # received messages that are not ours
    send_errors: list[str] = field(default_factory=list)
    _progress: list[Deferred[None]] = field(default_factory=list)

    def attach(self, pair: Pair) -> None:
        pair.bob.events.subscribe(self._received, ev.MessageReceived)
        pair.alice.events.subscribe(self._updated, ev.MessageUpdated)

    @property
    def sent(self) -> int:
        return len(self.sent_at)

    @property
    def received(self) -> int:
        return len(self.received_at)

    def _received(self, event: ev.MessageReceived) -> None:
        now = time.perf_counter()
        found = _SEQ.match(event.message.text)
        seq = int(found.group(1)) if found else -1
        if seq not in self.sent_at:
            self.foreign += 1
        elif seq in self.received_at:
            self.duplicates += 1
        else:
            if self.received_at and seq < next(reversed(self.received_at)):
                self.out_of_order += 1
            self.received_at[seq] = now
            self.ids.add(event.message.id)
            self._notify()

    def _updated(self, event: ev.MessageUpdated) -> None:
        if event.status >= MessageStatus.DELIVERED and event.message_id in self.ids:
            self.delivered.add(event.message_id)
            self.last_tick_at = time.perf_counter()
            self._notify()

    def _notify(self) -> None:
        waiting, self._progress = self._progress, []
        for d in waiting:
            d.callback(None)

    def send(self, client: SecureChatClient, peer: str, seq: int, size: int) -> None:
        text = message_text(seq, size)
        self.sent_at[seq] = time.perf_counter()
        d = client.send_text(peer, text)
        d.addErrback(lambda f: self.send_errors.append(f"{seq}: {f.getErrorMessage()}"))

    async def wait_until(self, done: Callable[[], bool], stall_s: float, what: str) -> None:
        """Wait until `done()`, failing when nothing moves for `stall_s` seconds."""
        while not done():
            if self.send_errors:
                raise BenchFailed(f"send_text failed: {self.send_errors[:3]}")
            d: Deferred[None] = Deferred()
            self._progress.append(d)
            try:
                await bounded(d, stall_s, what)
            except BenchFailed as e:
                raise BenchFailed(f"{e} ({self.sent} sent, {self.received} received, "
                                  f"{len(self.delivered)} delivered ticks)") from None

    async def settle(self, stall_s: float) -> None:
        """Wait until Bob has every message sent so far and Alice every tick."""
        await self.wait_until(lambda: self.received == self.sent, stall_s,
                              "Bob to receive every message")
        await self.wait_until(lambda: len(self.delivered) == self.sent, stall_s,
                              "Alice's delivered ticks")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of this process or of `pid` (Linux /proc;
    NaN once `pid` is gone)."""
    if pid is None:
        return time.process_time()
    try:
        return loadgen.cpu_seconds(pid)
    except OSError:
        return float("nan")


@dataclass(frozen=True)
class Throughput:
    count: int
    received: int
    delivered: int
    seconds: float
    client_cpu_s: float  # this process: both clients, their database threads
    relay_cpu_s: float
    ticks_seconds: float  # from the first send_text to the last delivered tick on Alice

    @property
    def msgs_per_s(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def ticked_per_s(self) -> float:
        return self.delivered / self.ticks_seconds if self.ticks_seconds > 0 else 0.0

    def cpu_line(self) -> str:
        return (f"cpu during the throughput phase: clients process "
                f"{100 * self.client_cpu_s / self.seconds:.0f}% of a core, relay "
                f"{100 * self.relay_cpu_s / self.seconds:.0f}%; per message: clients "
                f"{1e6 * self.client_cpu_s / self.count:.0f} us, relay "
                f"{1e6 * self.relay_cpu_s / self.count:.0f} us")


async def run_throughput(pair: Pair, tracker: Tracker, first: int, count: int, window: int,
                         size: int, stall_s: float, relay_pid: int) -> Throughput:
    """`count` messages as fast as the client takes them, at most `window` unreceived."""
    seqs = range(first, first + count)
    peer = pair.bob.me.user_id
    delivered_before = len(tracker.delivered)
    cpu_before = cpu_seconds(), cpu_seconds(relay_pid)
    started = time.perf_counter()
    for seq in seqs:
        if tracker.sent - tracker.received >= window:
            await tracker.wait_until(lambda: tracker.sent - tracker.received < window,
                                     stall_s, "Bob to receive (window full)")
        tracker.send(pair.alice, peer, seq, size)
    await tracker.wait_until(lambda: tracker.received == tracker.sent, stall_s,
                             "Bob to receive every message")
    cpu_after = cpu_seconds(), cpu_seconds(relay_pid)
    last = max(tracker.received_at[s] for s in seqs)
    await tracker.settle(stall_s)
    received = sum(1 for s in seqs if s in tracker.received_at)
    return Throughput(count, received, len(tracker.delivered) - delivered_before,
                      last - started, cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1],
                      tracker.last_tick_at - started)


@dataclass(frozen=True)
class Latency:
    count: int
    received: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float  # how late the reactor ran the scheduled send_text calls


async def run_fixed_rate(clock: IReactorTime, pair: Pair, tracker: Tracker, first: int,
                         rate: float, duration_s: float, size: int, stall_s: float) -> Latency:
    """`rate` messages/s for `duration_s`, each sent at its absolute due time."""
    count = max(int(rate * duration_s), 1)
    seqs = range(first, first + count)
    peer = pair.bob.me.user_id
    lags: list[float] = []
    start = time.perf_counter() + 0.05
    sent_all: Deferred[None] = Deferred()

    def due(seq: int) -> float:
        return start + (seq - first) / rate

    def fire(seq: int) -> None:
        lags.append(time.perf_counter() - due(seq))
        tracker.send(pair.alice, peer, seq, size)
        if seq + 1 < first + count:
            clock.callLater(max(due(seq + 1) - time.perf_counter(), 0.0), fire, seq + 1)
        else:
            sent_all.callback(None)

    clock.callLater(max(start - time.perf_counter(), 0.0), fire, first)
    await bounded(sent_all, duration_s + stall_s, "the fixed-rate sends")
    await tracker.settle(stall_s)
    latencies = sorted(tracker.received_at[s] - tracker.sent_at[s] for s in seqs)
    return Latency(count, len(latencies), 1000 * percentile(latencies, 50),
                   1000 * percentile(latencies, 99), 1000 * latencies[-1],
                   1000 * percentile(sorted(lags), 99))


async def stored_on_bob(pair: Pair, expected: int) -> int:
    """Messages from Alice in Bob's database (storage is part of the path)."""
    history = await pair.bob.messages(pair.alice.me.user_id, limit=expected + 100)
    return sum(1 for m in history if _SEQ.match(m.text))


# --------------------------------------------------------------------------- reference


def plaintext_of(text: str) -> bytes:
    """The bytes the client encrypts for one text message: its encoded MSG frame."""
    now = int(time.time() * 1000)
    return frames.Frame(frames.MSG, "0" * 64, {"id": new_message_id(now), "text": text,
                                               "timestamp": now, "replyTo": None}).encode()


def raw_olm_rate(plaintext: bytes, count: int) -> float:
    """Olm encrypt + decrypt per second on one established session, one thread, the
    same calls the client's OlmMachine makes (to_parts / from_parts included)."""
    alice, bob = vodozemac.Account(), vodozemac.Account()
    bob.generate_one_time_keys(1)
    otk = next(iter(bob.one_time_keys.values()))
    outbound = alice.create_outbound_session(bob.curve25519_key, otk)
    kind, body = outbound.encrypt(b"hello").to_parts()
    first = vodozemac.AnyOlmMessage.from_parts(kind, body).to_pre_key()
    if first is None:
        raise BenchFailed("the first Olm message is not a pre-key message")
    inbound, _ = bob.create_inbound_session(alice.curve25519_key, first)
    reply = inbound.encrypt(b"hi").to_parts()  # Alice's messages are normal ones from now on
    outbound.decrypt(vodozemac.AnyOlmMessage.from_parts(*reply))
    started = time.perf_counter()
    for _ in range(count):
        kind, body = outbound.encrypt(plaintext).to_parts()
        if inbound.decrypt(vodozemac.AnyOlmMessage.from_parts(kind, body)) != plaintext:
            raise BenchFailed("raw Olm round trip did not give the plaintext back")
    return count / (time.perf_counter() - started)


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Options(RunOptions):
    messages: int = 2000
    window: int = 200
    warmup: int = 100
    rate: float = 100.0
    duration_s: float = 10.0
    size: int = 100
    raw_count: int = 20000


@dataclass
class Results:
    throughput: Throughput | None = None
    latency: Latency | None = None
    raw_msgs_per_s: float | None = None

    def say(self, line: str) -> None:
        print(line, flush=True)


async def measure(reactor: IReactorCore, options: Options, workdir: Path,
                  results: Results, child_pids: list[int]) -> None:
    started = time.monotonic()
    relay = await start_relay(reactor, workdir)
    child_pids.append(relay.pid)
    try:
        pair = await make_pair(reactor, relay.url, workdir, options.stall_s)
        try:
            results.say(f"setup: relay pid {relay.pid} on {relay.url}; alice and bob registered,"
                        f" online and friends in {time.monotonic() - started:.1f}s")
            await measure_pair(reactor, pair, options, results, relay.pid)
        finally:
            await pair.stop()
    finally:
        await relay.stop()


async def measure_pair(reactor: IReactorCore, pair: Pair, options: Options,
                       results: Results, relay_pid: int) -> None:
    tracker = Tracker()
    tracker.attach(pair)
    plaintext = plaintext_of(message_text(0, options.size))
    results.say(f"message: {options.size} chars of text, {len(plaintext)} B plaintext frame")
    if options.warmup:
        await run_throughput(pair, tracker, 0, options.warmup, options.window, options.size,
                             options.stall_s, relay_pid)
    profiler = cProfile.Profile() if options.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        first = options.warmup
        tp = await run_throughput(pair, tracker, first, options.messages, options.window,
                                  options.size, options.stall_s, relay_pid)
        results.throughput = tp
        results.say(f"client e2e: {tp.msgs_per_s:.0f} msgs/s ({tp.received}/{tp.count} received"
                    f", window {options.window}, {tp.seconds:.2f}s);"
                    f" {tp.delivered}/{tp.count} delivered ticks on alice, the last after"
                    f" {tp.ticks_seconds:.2f}s ({tp.ticked_per_s:.0f} msgs/s to the tick)")
        results.say(tp.cpu_line())
        first += options.messages
        lat = await run_fixed_rate(cast(IReactorTime, reactor), pair, tracker, first, options.rate,
                                   options.duration_s, options.size, options.stall_s)
        results.latency = lat
        results.say(f"client e2e @{options.rate:g}/s: p50={lat.p50_ms:.1f}ms "
                    f"p99={lat.p99_ms:.1f}ms max={lat.max_ms:.1f}ms ({lat.received}/{lat.count}"
                    f" received; send schedule lag p99={lat.send_lag_p99_ms:.1f}ms)")
        first += lat.count
    finally:
        if profiler is not None:
            profiler.disable()
            assert options.profile is not None
            profiler.dump_stats(options.profile)
            results.say(f"profile of the measured phases: {options.profile}")
    stored = await stored_on_bob(pair, first)
    results.say(f"stored on bob: {stored}/{first} messages; duplicates {tracker.duplicates}, "
                f"out of order {tracker.out_of_order}, unexpected {tracker.foreign}")
    if stored != first or tracker.duplicates or tracker.out_of_order or tracker.foreign:
        raise BenchFailed("messages were lost, duplicated, reordered or not stored")
    results.raw_msgs_per_s = raw_olm_rate(plaintext, options.raw_count)
    results.say(f"raw olm encrypt+decrypt: {results.raw_msgs_per_s:.0f} msgs/s "
                f"({options.raw_count} msgs of {len(plaintext)} B, one session, one thread)")
    results.say(f"e2e/raw: {tp.msgs_per_s / results.raw_msgs_per_s:.3f}")


def target_lines(results: Results) -> tuple[list[str], bool]:
    out, ok = [], True
    if results.throughput is not None:
        rate = results.throughput.msgs_per_s
        ok &= rate >= TARGET_MSGS_PER_S
        out.append(f"target client e2e >= {TARGET_MSGS_PER_S:.0f} msgs/s: {rate:.0f} "
                   f"{verdict(rate >= TARGET_MSGS_PER_S)}")
    if results.latency is not None:
        p99 = results.latency.p99_ms
        ok &= p99 <= TARGET_P99_MS
        out.append(f"target p99 <= {TARGET_P99_MS:.0f} ms at the fixed rate: {p99:.1f} ms "
                   f"{verdict(p99 <= TARGET_P99_MS)}")
    return out, ok


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--messages", type=int, default=2000, help="messages in the throughput phase")
    add("--window", type=int, default=200, help="most messages sent and not yet received")
    add("--warmup", type=int, default=100, help="messages sent before measuring")
    add("--rate", type=float, default=100.0, help="messages/s in the latency phase")
    add("--duration", type=float, default=10.0, help="seconds of the latency phase")
    add("--size", type=int, default=100, help="characters of text per message")
    add("--raw-count", type=int, default=20000, help="round trips of the raw Olm reference")
    add_run_arguments(parser, stall_s=30.0, timeout_s=300.0,
                      stall_help="fail when nothing moves for this long (s)",
                      profile_help="write cProfile stats of this process here",
                      keep_help="keep the temporary directory (relay log, dbs)")
    ns = parser.parse_args(argv)
    if ns.messages < 1 or ns.window < 1 or ns.rate <= 0 or ns.duration <= 0 or ns.size < 1:
        parser.error("--messages, --window, --rate, --duration and --size must be positive")
    return Options(messages=ns.messages, window=ns.window, warmup=ns.warmup, rate=ns.rate,
                   duration_s=ns.duration, size=ns.size, raw_count=ns.raw_count,
                   **run_options(ns))


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    results = Results()
    run_benchmark(
        options, name="client",
        workload=f"{options.warmup} warm-up + {options.messages} msgs (window "
                 f"{options.window}), then {options.rate:g} msgs/s for {options.duration_s:g}s; "
                 f"{options.size}-char texts; alice -> bob through a local relay",
        measure=lambda reactor, workdir, child_pids: measure(reactor, options, workdir,
                                                             results, child_pids),
        report=lambda: target_lines(results))


if __name__ == "__main__":
    main()
