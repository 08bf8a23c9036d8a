"""A fuzz campaign against the relay's router: raw WebSocket frames, a real relay.

Run from the repository root::

    .venv/bin/python -m bench.fuzz_router [--cases 100000] [--seconds 900] [--seed 1]

The relay runs as a child process (``twistd -n securechat-relay``, default
settings, throw-away database) on a free loopback port. ``--workers`` fuzz
processes each provision a fuzz account with ``--devices`` devices and send the
cases of :mod:`bench.fuzzcases` (every WAMP message type mutated, garbage, deep
nesting, oversized and fragmented frames; json, msgpack and cbor) on raw,
anonymous and device connections; worker ``i`` uses seed ``--seed + i``. Meanwhile
an honest client (:mod:`bench.honest`), in this process so that the fuzzers'
own work does not count against its latency, keeps messages and publications
going. The campaign stops after ``--cases`` cases (split between the workers)
or ``--seconds``.

It reports the cases run; crashes (the relay process died); unhandled errors in
the relay's log ("Unhandled error", "Traceback"); the relay's RSS at the start,
its peak and at the end; and the honest client's operations, failures and
worst latency. The exit status is 1 if anything went wrong: a crash, an
unhandled error, a connection the relay left hanging, an honest failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer, task
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import react

from bench import crossbar_env, relayproc
from bench.fuzzcases import CaseGenerator, FuzzStats, campaign
from bench.honest import HonestClient
from securechat.testing import enroll_device, register_account

UNHANDLED = ("Unhandled error", "Traceback")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    def __init__(self, reactor: Any, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.start = rss_mb(pid)
        self.peak = self.start
        self.last = self.start
        self._loop = task.LoopingCall(self.sample)
        self._loop.clock = reactor
        self._loop.start(interval, now=False)

    def sample(self) -> None:
        try:
            self.last = rss_mb(self.pid)
        except OSError:  # the process is gone
            return
        self.peak = max(self.peak, self.last)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
        self.sample()


def unhandled_lines(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines()
            if any(marker in line for marker in UNHANDLED)]


class WorkerProcess(ProcessProtocol):
    """One fuzz worker: its last stdout line is its FuzzStats as JSON."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.output = b""
        self.ended: defer.Deferred[None] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.flush()

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)

    def stats(self) -> FuzzStats | None:
        for line in reversed(self.output.decode(errors="replace").splitlines()):
            if line.startswith("{"):
                return FuzzStats(**json.loads(line))
        return None


def spawn_worker(reactor: Any, url: str, seed: int, cases: int, options: argparse.Namespace,
                 ) -> WorkerProcess:
    worker = WorkerProcess(seed)
    argv = [sys.executable, "-m", "bench.fuzz_router", "--worker", url, "--seed", str(seed),
            "--cases", str(cases), "--seconds", str(options.seconds),
            "--devices", str(options.devices)]
    path = os.pathsep.join(p for p in (str(relayproc.REPO), os.environ.get("PYTHONPATH")) if p)
    reactor.spawnProcess(worker, sys.executable, argv, env={**os.environ, "PYTHONPATH": path},
                         path=str(relayproc.REPO))
    return worker


async def run_worker(reactor: Any, options: argparse.Namespace) -> int:
    """A fuzz worker: provision a fuzz account, run the campaign, print the stats."""
    url = options.worker
    email = f"fuzz-{options.seed}-{os.getpid()}@bench.invalid"
    account = await register_account(reactor, url, email, "fuzz password")
    devices = [await enroll_device(reactor, url, account) for _ in range(options.devices)]
    gen = CaseGenerator(options.seed, account.user_id)
    started = time.monotonic()
    last = [started]

    def progress(stats: FuzzStats) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            print(f"  worker {options.seed}: {time.monotonic() - started:5.0f} s, "
                  f"{stats.cases} cases", file=sys.stderr, flush=True)

    stats = await campaign(reactor, url, gen, devices, options.cases, options.seconds,
                           on_progress=progress)
    print(json.dumps(dataclasses.asdict(stats)), flush=True)
    return 0


async def fuzz(reactor: Any, options: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="securechat-fuzz-"))
    port = crossbar_env.free_port()
    node = await relayproc.start_relay(
        reactor, workdir, [f"--listen=tcp:{port}:interface=127.0.0.1",
                           f"--db={workdir / 'relay.sqlite'}",
                           # A development relay: the honest client's account is made
                           # without a mailed code, with a cheap verifier.
                           "--email-verification=off", "--min-scram-memory=8192",
                           "--min-scram-iterations=1"],
        remove_workdir=not options.keep_workdir)
    try:
        honest = HonestClient(reactor, node.url)
        await honest.start()
        sampler = RssSampler(reactor, node.pid)
        started = time.monotonic()
        share = -(-options.cases // options.workers)
        workers = [spawn_worker(reactor, node.url, options.seed + i, share, options)
                   for i in range(options.workers)]
        done = defer.gatherResults([w.ended for w in workers])
        honest_run = defer.ensureDeferred(honest.run(options.seconds + 120, until=done,
                                                     pause=options.honest_pause))
        await done
        elapsed = time.monotonic() - started
        served = await honest_run
        crashed = node.protocol.ended.called
        sampler.stop()
        if not crashed:
            await honest.stop()
    finally:
        log = node.log_path
        errors = unhandled_lines(log) if log.exists() else []
        if options.keep_workdir:
            print(f"relay log: {log}")
        await node.stop()

    stats = FuzzStats()
    missing = 0
    for worker in workers:
        part = worker.stats()
        if part is None:
            missing += 1
            continue
        for name in ("cases", "connections", "ended_by_relay", "probes_answered", "stuck",
                     "join_failures"):
            setattr(stats, name, getattr(stats, name) + getattr(part, name))
        if part.slowest_s > stats.slowest_s:
            stats.slowest_s = part.slowest_s
            stats.slowest = f"worker {worker.seed}: {part.slowest}"
        for state, count in part.by_state.items():
            stats.by_state[state] = stats.by_state.get(state, 0) + count
    print(f"\nfuzz campaign, seeds {options.seed}..{options.seed + options.workers - 1}: "
          f"{stats.cases} cases in {elapsed:.0f} s ({stats.cases / elapsed:.0f}/s) on "
          f"{stats.connections} connections "
          f"({', '.join(f'{k} {v}' for k, v in sorted(stats.by_state.items()))})")
    print(f"  probes answered after a batch: {stats.probes_answered}; sessions the relay "
          f"ended: {stats.ended_by_relay}; connections left hanging: {stats.stuck}; "
          f"failed joins: {stats.join_failures}; workers without a report: {missing}; "
          f"slowest connection {stats.slowest_s:.1f} s ({stats.slowest})")
    print(f"  crashes (relay process died): {int(crashed)}")
    print(f"  unhandled errors in the relay log: {len(errors)}")
    for line in errors[:10]:
        print(f"    {line}")
    print(f"  relay RSS: start {sampler.start:.0f} MB, peak {sampler.peak:.0f} MB, "
          f"end {sampler.last:.0f} MB")
    print(f"  honest client: {served.ops} operations ({served.rate:.0f}/s), "
          f"{served.failures} failures, latency p50 {served.percentile_ms(50):.1f} ms, "
          f"p99 {served.percentile_ms(99):.1f} ms, worst {served.worst_ms:.1f} ms")
    bad = (crashed or errors or stats.stuck or stats.join_failures or served.failures
           or missing)
    return 1 if bad else 0


def quiet_logging() -> None:
    """Errors only: the fuzz sessions end abruptly by design, and the client side
    warns about each of them."""
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    observer = FilteringLogObserver(textFileLogObserver(sys.stderr),
                                    [LogLevelFilterPredicate(defaultLogLevel=LogLevel.error)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="stop after this many")
    parser.add_argument("--seconds", type=float, default=900.0, help="stop after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="fuzz processes")
    parser.add_argument("--devices", type=int, default=8,
                        help="fuzz device sessions at once per worker (at most 10: an account)")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--honest-pause", type=float, default=0.01,
                        help="seconds the honest client waits between operations")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the relay's directory (log, database)")
    options = parser.parse_args(argv)
    quiet_logging()
    status: list[int] = []

    async def run(reactor: Any) -> None:
        status.append(await (run_worker if options.worker else fuzz)(reactor, options))

    react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    sys.exit(status[0] if status else 1)


if __name__ == "__main__":
    main()
