"""The call benchmark: call setup through a local relay and a local coturn, and the CPU
an active call costs.

Run from the repository root (coturn installed: scripts/setup)::

    .venv/bin/python -m bench.bench_calls [--calls 20] [--cpu-seconds 5]

The relay runs as a child process (``twistd -n securechat-relay`` with a TURN secret),
coturn as another (securechat.relay.turnprocess, loopback peers allowed). Alice and Bob
are two real clients in this process, on Twisted's asyncio reactor (aiortc).

* **setup**: Alice places an audio call (synthetic tone), Bob answers as soon as it
  rings; the time from ``calls.place`` to Alice's CONNECTED: TURN credentials, gathering,
  RTC_OFFER and RTC_ANSWER through Olm and the relay, ICE and DTLS through coturn.
  Median and p90 of ``--calls`` calls, each hung up before the next. Target: median
  ≤ 0.3 s.
* **reference**: the same setup with aioice's stock first retransmission (0.5 s,
  client.calls.media.STUN_FIRST_RETRANSMISSION tunes it), measured in the same run: the
  ratio shows what the tuning is worth.
* **CPU per active call**: one call connected for ``--cpu-seconds`` with a 48 kHz tone
  each way; CPU seconds per second of this process (both ends of the call: Opus,
  SRTP, DTLS, ICE) and of coturn, from /proc.

Exit status: 0 when the target passes, 1 when missed, 2 when the run failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from twisted.internet.interfaces import IReactorCore

from bench import relayproc
from bench.bench_client import RELAY_LIMITS, Pair, Waiter, make_pair
from bench.common import (
    BenchFailed,
    RunOptions,
    add_run_arguments,
    bounded,
    run_benchmark,
    run_options,
    verdict,
)

TARGET_MEDIAN_S = 0.3
STOCK_RETRANSMISSION = 0.5  # aioice's RETRY_RTO


@dataclass(frozen=True, kw_only=True)
class Options(RunOptions):
    calls: int = 20
    cpu_seconds: float = 5.0


@dataclass
class Results:
    tuned: list[float] = field(default_factory=list)
    stock: list[float] = field(default_factory=list)
    cpu: tuple[float, float] | None = None  # (this process, coturn) CPU s per s

    def say(self, line: str) -> None:
        print(line, flush=True)


def cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of a process (this one by default), from /proc."""
    with open(f"/proc/{pid or os.getpid()}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


async def one_call(pair: Pair, timeout_s: float, hold_s: float = 0.0) -> float:
    """Place, answer, connect, (hold), hang up: the seconds from place to connected."""
    from securechat.client import (
        CallState,
        CallStateChanged,
        IncomingCall,
        MediaSources,
        ToneTrack,
    )

    alice, bob = Waiter(pair.alice), Waiter(pair.bob)
    rings = bob.next(IncomingCall)
    connected = alice.next(CallStateChanged, lambda e: e.state in (CallState.CONNECTED,
                                                                   CallState.ENDED))
    started = time.perf_counter()
    call = pair.alice.calls.place(pair.bob.me.user_id, "audio", MediaSources(ToneTrack()))
    incoming = await bounded(rings, timeout_s, "Bob's phone to ring")
    pair.bob.calls.get(incoming.call_id).answer(MediaSources(ToneTrack()))
    event = await bounded(connected, timeout_s, "the call to connect")
    took = time.perf_counter() - started
    if event.state is not CallState.CONNECTED:
        raise BenchFailed(f"the call ended: {event.outcome} {event.reason or ''}")
    if hold_s:
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        await deferLater(reactor, hold_s, lambda: None)
    theirs = pair.bob.calls.get(call.call_id)
    call.hang_up()
    if theirs is not None:
        await bounded(theirs.ended, timeout_s, "Bob's side to end")
    return took


async def measure(reactor: IReactorCore, options: Options, workdir: Path, results: Results,
                  child_pids: list[int]) -> None:
    import securechat.client.calls.media as media
    from securechat.relay.turnprocess import TurnServer

    turn = TurnServer(reactor, str(workdir / "turn"), os.urandom(18).hex())
    await bounded(turn.start(), 30, "coturn to start")
    assert turn.pid is not None
    child_pids.append(turn.pid)
    (workdir / "turn-secret").write_text(turn.config.secret)
    relay = await relayproc.start_relay(
        reactor, workdir, ["--listen=tcp:0:interface=127.0.0.1",
                           f"--db={workdir / 'relay.sqlite'}", *RELAY_LIMITS,
                           f"--turn-secret-file={workdir / 'turn-secret'}",
                           f"--turn-uri={turn.uri}"])
    child_pids.append(relay.pid)
    try:
        pair = await make_pair(reactor, relay.url, workdir, options.stall_s)
        try:
            await one_call(pair, options.stall_s)  # warm-up: Olm sessions, imports
            for retransmission, into in ((media.STUN_FIRST_RETRANSMISSION, results.tuned),
                                         (STOCK_RETRANSMISSION, results.stock)):
                for client in (pair.alice, pair.bob):
                    client.calls.stun_first_retransmission = retransmission
                for _ in range(options.calls):
                    into.append(await one_call(pair, options.stall_s))
            for client in (pair.alice, pair.bob):
                client.calls.stun_first_retransmission = media.STUN_FIRST_RETRANSMISSION
            here, there = cpu_seconds(), cpu_seconds(turn.pid)
            wall = time.perf_counter()
            await one_call(pair, options.stall_s, hold_s=options.cpu_seconds)
            wall = time.perf_counter() - wall
            results.cpu = ((cpu_seconds() - here) / wall, (cpu_seconds(turn.pid) - there) / wall)
        finally:
            await pair.stop()
    finally:
        await relay.stop()
        await turn.stop()


def report(results: Results, options: Options) -> tuple[list[str], bool]:
    if not results.tuned or not results.stock:
        return ["FAIL: no calls measured"], False
    median, stock = statistics.median(results.tuned), statistics.median(results.stock)
    ok = median <= TARGET_MEDIAN_S
    lines = [
        f"setup (place -> connected), {len(results.tuned)} calls, first STUN "
        f"retransmission {results_rto():g} s: median {median * 1000:.0f} ms, "
        f"p90 {percentile(results.tuned, 0.9) * 1000:.0f} ms",
        f"reference (aioice's stock {STOCK_RETRANSMISSION:g} s), {len(results.stock)} calls: "
        f"median {stock * 1000:.0f} ms, p90 {percentile(results.stock, 0.9) * 1000:.0f} ms; "
        f"ratio {median / stock:.2f}",
    ]
    if results.cpu is not None:
        lines.append(f"CPU per active call ({options.cpu_seconds:g} s, tone both ways): "
                     f"{results.cpu[0] * 100:.1f}% of a core for both ends here, "
                     f"coturn {results.cpu[1] * 100:.1f}%")
    lines.append(f"target: median setup <= {TARGET_MEDIAN_S * 1000:.0f} ms: {verdict(ok)}")
    return lines, ok


def results_rto() -> float:
    import securechat.client.calls.media as media

    return media.STUN_FIRST_RETRANSMISSION


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="bench_calls", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per setting (20)")
    parser.add_argument("--cpu-seconds", type=float, default=5.0,
                        help="how long the CPU-measured call lasts (5)")
    add_run_arguments(parser, stall_s=30.0, timeout_s=300.0,
                      stall_help="limit on any one wait (s)",
                      profile_help="(not used)", keep_help="keep the temporary directory")
    ns = parser.parse_args(argv)
    if ns.calls < 1 or ns.cpu_seconds <= 0:
        parser.error("--calls and --cpu-seconds must be positive")
    return Options(calls=ns.calls, cpu_seconds=ns.cpu_seconds, **run_options(ns))


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    from twisted.internet import asyncioreactor

    asyncioreactor.install()  # aiortc: before anything imports the reactor
    results = Results()
    run_benchmark(
        options, name="calls",
        workload=f"{options.calls} audio calls alice -> bob per setting through a local "
                 f"relay and coturn, then one call held {options.cpu_seconds:g} s",
        measure=lambda reactor, workdir, child_pids: measure(reactor, options, workdir,
                                                             results, child_pids),
        report=lambda: report(results, options))


if __name__ == "__main__":
    main()
