"""Crossbar.io half of the relay benchmark.

Run from the repository root::

    .venv/bin/python -m bench.bench_crossbar_only [--pairs 4] [--messages 5000] [--idle 2000]

It installs Crossbar into ``bench/.crossbar-venv`` on first use, starts a node
on a free loopback port and measures, with the workload shape the relay half
uses (sender i -> receiver i, a per-message acknowledged round trip):

* throughput and latency: PUBLISH(acknowledge=True) to ``bench.inbox.<i>``,
  which receiver i subscribed;
* latency at a fixed, light rate;
* resident memory of the router worker per idle session.

:func:`run_crossbar_half` is the entry point for the combined benchmark.
"""

from __future__ import annotations

import argparse
import time

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.types import PublishOptions
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import react

from bench import crossbar_env
from bench.common import prepare_router_run
from bench.loadgen import (
    BenchOptions,
    Handler,
    Role,
    RouterResult,
    Workload,
    add_bench_arguments,
    connect_wamp,
    measure_router,
    options_from_args,
)

_ACK = PublishOptions(acknowledge=True)


def inbox_topic(role: Role, index: int) -> str:
    return f"bench.inbox.{index}" if role != "idle" else f"bench.idle.{index}"


def crossbar_workload(
    url: str, realm: str = crossbar_env.REALM, serializer: str = "msgpack"
) -> Workload:
    """Anonymous sessions; send = acknowledged PUBLISH to the receiver's topic."""

    async def connect(role: Role, index: int) -> ApplicationSession:
        return await connect_wamp(url, realm, serializer=serializer)

    def subscribe(
        session: ApplicationSession, role: Role, index: int, handler: Handler
    ) -> Deferred[object]:
        return session.subscribe(handler, inbox_topic(role, index))

    def send(session: ApplicationSession, target: int, payload: bytes) -> Deferred[object]:
        return session.publish(inbox_topic("receiver", target), payload, options=_ACK)

    return Workload(connect=connect, subscribe=subscribe, send=send)


async def run_crossbar_half(
    reactor: IReactorCore, options: BenchOptions, port: int = 0
) -> RouterResult:
    """Start Crossbar (venv must exist: ``crossbar_env.ensure_crossbar_venv()``), measure, stop."""
    node = await crossbar_env.start_crossbar(reactor, port=port)
    try:
        workload = crossbar_workload(node.url, node.realm, options.serializer)
        return await measure_router("crossbar", workload, node.router_pids, options)
    finally:
        await node.stop()


def parse_args(argv: list[str] | None = None) -> tuple[BenchOptions, int]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_bench_arguments(parser)
    parser.add_argument("--port", type=int, default=0, help="crossbar port; 0 picks a free one")
    ns = parser.parse_args(argv)
    return options_from_args(ns), ns.port


def main(argv: list[str] | None = None) -> None:
    options, port = parse_args(argv)
    prepare_router_run(options, crossbar=True)

    async def run(reactor: IReactorCore) -> None:
        started = time.monotonic()
        result = await run_crossbar_half(reactor, options, port)
        for line in result.lines():
            print(line)
        took = time.monotonic() - started
        print(f"crossbar {crossbar_env.CROSSBAR_VERSION}: benchmark took {took:.1f}s")

    react(lambda reactor: Deferred.fromCoroutine(run(reactor)))


if __name__ == "__main__":
    main()
