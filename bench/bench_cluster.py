"""The relay cluster benchmark: one SQLite node, one PostgreSQL node and two PostgreSQL
nodes sharing Redis (senders on one node, receivers on the other), in one run.

Run from the repository root::

    .venv/bin/python -m bench.bench_cluster [--pairs 4] [--messages 2000]

Each setup runs the relay as ``twistd -n securechat-relay`` processes, provisions
accounts through the relay's own procedures and measures with the relay benchmark's
workload (bench.bench_relay: ``sc.message.send`` -> inbox EVENT, acked in batches;
messages/s and p50/p99 one-way latency). PostgreSQL (with fsync on, as deployed) and
Redis are throw-away servers (securechat.testing_servers). Printed: each setup's
figures, the ratios to the one SQLite node, the cross-node overhead (two nodes / one
PostgreSQL node), and the CPU each component spent per message (relay nodes,
PostgreSQL, Redis), from which a larger deployment's capacity is projected: on this
machine every process shares two cores, so the cluster's absolute rate here says
little; its per-message costs say how many cores a target rate needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import react

from bench import crossbar_env, relayproc
from bench.bench_relay import RelayWorkload, provision, relay_args
from bench.loadgen import (
    BenchOptions,
    Role,
    RouterResult,
    add_bench_arguments,
    comparison_lines,
    measure_router,
    options_from_args,
)
from securechat.client.wamp import connect
from securechat.testing_servers import PostgresServer, RedisServer


@dataclass
class SplitWorkload(RelayWorkload):
    """Senders on one node, receivers on another."""

    receiver_url: str = ""

    async def connect(self, role: Role, index: int) -> Any:
        device = self.identities.device(role, index)
        url = self.receiver_url if role == "receiver" and self.receiver_url else self.url
        return await connect(self.reactor, url, device.key, self.serializer)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (those still alive), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def children_of(pid: int) -> list[int]:
    """`pid` and its child processes (PostgreSQL's backends)."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


@dataclass
class Setup:
    label: str
    result: RouterResult
    messages: int
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds

    def per_message_ms(self) -> dict[str, float]:
        return {k: 1000 * v / self.messages for k, v in self.cpu.items()}


async def run_setup(reactor: IReactorCore, label: str, options: BenchOptions, nodes: int,
                    db: str | None, redis: str | None, pg: PostgresServer | None,
                    redis_server: RedisServer | None) -> Setup:
    workdir = Path(tempfile.mkdtemp(prefix="securechat-cluster-bench-"))
    (workdir / "blobs").mkdir()  # the nodes' shared blob directory (--blob-dir)
    started = []
    try:
        for i in range(nodes):
            port = crossbar_env.free_port()
            args = relay_args(port, workdir / "relay.sqlite")
            if db is not None:
                args = [a for a in args if not a.startswith("--db=")] + [
                    f"--db={db}", f"--blob-dir={workdir / 'blobs'}"]  # the nodes share it
            if redis is not None:
                args.append(f"--redis={redis}")
            node_dir = workdir / f"node{i}"
            node_dir.mkdir()
            started.append(await relayproc.start_relay(reactor, node_dir, args))
        urls = [n.url for n in started]
        identities = await provision(reactor, urls[0], pairs=options.pairs, idle=0,
                                     idle_per_account=10, serializer=options.serializer)
        workload = SplitWorkload(reactor, urls[0], identities, options.serializer,
                                 receiver_url=urls[-1])

        def components() -> dict[str, list[int]]:
            found = {"relay nodes": [n.pid for n in started]}
            if pg is not None and pg.pid is not None:
                found["postgresql"] = children_of(pg.pid)
            if redis_server is not None and redis_server.proc is not None:
                found["redis"] = [redis_server.proc.pid]
            return found

        before = {k: cpu_seconds(p) for k, p in components().items()}
        result = await measure_router(label, workload.workload(), [n.pid for n in started],
                                      options)
        after = {k: cpu_seconds(p) for k, p in components().items()}
        total = options.pairs * (options.messages * max(options.repeats, 1) + options.warmup)
        return Setup(label, result, total, {k: after[k] - before.get(k, 0.0) for k in after})
    finally:
        for node in started:
            await node.stop()


def report(setups: list[Setup], cores: int) -> list[str]:
    lines = []
    for s in setups:
        lines += s.result.lines()
    base, one_pg, two = setups
    lines += comparison_lines(one_pg.result, base.result)
    lines += comparison_lines(two.result, base.result)
    lines += comparison_lines(two.result, one_pg.result)
    a, b = two.result.throughput.result, one_pg.result.throughput.result
    lines.append(f"cross-node overhead (two nodes vs one PostgreSQL node): throughput "
                 f"x{a.msgs_per_s / b.msgs_per_s:.2f}, p99 x"
                 f"{a.latency.p99_ms / b.latency.p99_ms:.2f}")
    for s in setups:
        costs = ", ".join(f"{k} {v:.3f} ms" for k, v in s.per_message_ms().items())
        lines.append(f"{s.label}: CPU per message (every run, warm-up included): {costs}")
    per = two.per_message_ms()
    node_ms = per.get("relay nodes", float("nan"))
    pg_ms = per.get("postgresql", float("nan"))
    redis_ms = per.get("redis", float("nan"))
    lines.append(
        f"projection (CPU-bound, {cores} cores here): each relay core carries about "
        f"{1000 / node_ms:.0f} msgs/s, each PostgreSQL core about {1000 / pg_ms:.0f}, "
        f"each Redis core about {1000 / redis_ms:.0f}; e.g. 50,000 msgs/s needs about "
        f"{50 * node_ms:.0f} relay cores, {50 * pg_ms:.0f} PostgreSQL cores and "
        f"{50 * redis_ms:.1f} Redis cores (plus the disk's fsync rate for PostgreSQL's "
        "commits, which group under load)")
    return lines


async def main(reactor: IReactorCore, args: argparse.Namespace) -> None:
    options = options_from_args(args)
    options = dataclasses.replace(options, idle=0, rate_messages=0)
    pg = PostgresServer(fsync=True).start()
    redis_server = RedisServer().start()
    try:
        pg.execute("CREATE DATABASE one_node")
        pg.execute("CREATE DATABASE two_nodes")
        setups = [
            await run_setup(reactor, "sqlite x1", options, 1, None, None, None, None),
            await run_setup(reactor, "postgresql x1", options, 1, pg.dsn("one_node"), None,
                            pg, None),
            await run_setup(reactor, "postgresql+redis x2", options, 2, pg.dsn("two_nodes"),
                            redis_server.url(1), pg, redis_server),
        ]
    finally:
        pg.stop()
        redis_server.close()
    print("\n".join(report(setups, os.cpu_count() or 1)))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_bench_arguments(parser)
    parser.set_defaults(messages=2000, repeats=1, idle=0, rate_messages=0)
    args = parser.parse_args()
    react(lambda reactor: ensureDeferred(main(reactor, args)))


if __name__ == "__main__":
    cli()
