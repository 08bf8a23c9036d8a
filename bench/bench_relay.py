"""The relay benchmark: our relay and Crossbar.io under the same workload, in one run.

Run from the repository root::

    .venv/bin/python -m bench.bench_relay [--pairs 4] [--messages 5000] [--idle 2000]

Our half starts the real relay (``twistd -n securechat-relay``) as a child
process on a free loopback port with a throw-away database, provisions real
accounts and devices through the relay's own procedures, and then measures
with :func:`bench.loadgen.measure_router`:

* N sender devices and N receiver devices (one account each), sender i sends to
  receiver i by calling ``sc.message.send`` with one envelope; the receiver gets
  it as an EVENT on its inbox topic and acks it with ``sc.mailbox.ack`` (batched,
  as a real client does, so the mailbox does not grow);
* messages/s and p50/p99 one-way latency (send -> inbox event);
* resident memory of the relay process per idle device session (cryptosign
  login, subscribed to its inbox; ``--idle-devices-per-account`` of them share
  an account, 10 by default: the relay's default device limit).

The relay runs with its default rate limits; only registration, device and
handshake limits are raised so that provisioning thousands of devices from one
address is not throttled (see :func:`relay_args`).  ``--no-ack`` turns the
receivers' acks off; the ack line reports what was acked and what was left.

The Crossbar half (installed from PyPI into ``bench/.crossbar-venv`` on first
use) runs the same shape: acknowledged PUBLISH to the topic the receiver
subscribed.  Then the ours/Crossbar ratios are printed with the targets.

``--profile-relay FILE`` runs our relay under cProfile (twistd's profiler) and
writes the stats to FILE when it stops; ``--only ours`` skips Crossbar.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, cast

from autobahn.twisted.wamp import ApplicationSession
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.internet.task import react
from twisted.python.failure import Failure

from bench import crossbar_env, relayproc
from bench.bench_crossbar_only import run_crossbar_half
from bench.common import prepare_router_run, verdict
from bench.loadgen import (
    BenchOptions,
    Handler,
    Role,
    RouterResult,
    Workload,
    add_bench_arguments,
    bounded_gather,
    comparison_lines,
    measure_router,
    options_from_args,
)
from bench.relayproc import RelayNode
from securechat.client.wamp import RelaySession, connect
from securechat.protocol import uris
from securechat.testing import (
    TestDevice,
    enroll_device,
    leave,
    password_login,
    register_account,
)

#: What the issue asks for.
TARGET_RATIO = 1.0
TARGET_IDLE_KB = 100.0

_LISTENING = b"relay listening on"


# --------------------------------------------------------------------------- relay process


def relay_args(port: int, db: Path) -> list[str]:
    """The relay's options: limits raised only so provisioning is not throttled."""
    return [
        f"--listen=tcp:{port}:interface=127.0.0.1",
        f"--db={db}",
        "--max-devices=5000",
        "--register-rate=1000",
        "--register-burst=1000",
        "--max-pending-handshakes=5000",
        # A development relay: accounts made without mailed codes, with cheap verifiers.
        "--email-verification=off",
        "--min-scram-memory=8192",
        "--min-scram-iterations=1",
        "--max-sessions-per-address=100000",  # every bench client is 127.0.0.1
    ]


async def start_relay(
    reactor: IReactorCore,
    *,
    port: int = 0,
    profile: Path | None = None,
    startup_timeout_s: float = 60.0,
    keep_workdir: bool = False,
) -> RelayNode:
    """Start the relay in a fresh temporary directory; return once it listens."""
    if port and not crossbar_env.port_is_free(port):
        raise RuntimeError(f"port 127.0.0.1:{port} is already in use")
    port = port or crossbar_env.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="securechat-relay-bench-"))
    profiling = [f"--profile={profile}", "--profiler=cprofile", "--savestats"] if profile else []
    return await relayproc.start_relay(
        reactor,
        workdir,
        relay_args(port, workdir / "relay.sqlite"),
        twistd_options=profiling,
        startup_timeout_s=startup_timeout_s,
        remove_workdir=not keep_workdir,
    )


# --------------------------------------------------------------------------- provisioning


@dataclass(frozen=True)
class Identities:
    """Enrolled devices: one account per sender and per receiver, idle ones grouped."""

    senders: list[TestDevice]
    receivers: list[TestDevice]
    idle: list[TestDevice]

    def device(self, role: Role, index: int) -> TestDevice:
        return {"sender": self.senders, "receiver": self.receivers, "idle": self.idle}[role][index]


async def provision(
    reactor: IReactorCore,
    url: str,
    *,
    pairs: int,
    idle: int,
    idle_per_account: int,
    serializer: str,
    concurrency: int = 8,
) -> Identities:
    """Register accounts and enroll devices through the relay's real procedures."""
    password = secrets.token_urlsafe(16)
    run = secrets.token_hex(4)  # fresh emails even if a database were reused

    async def account_with(kind: str, index: int, devices: int) -> list[TestDevice]:
        email = f"bench-{run}-{kind}-{index}@bench.invalid"
        account = await register_account(reactor, url, email, password, serializer)
        session = await connect(reactor, url, password_login(account), serializer)
        try:
            return [
                await enroll_device(reactor, url, account, serializer=serializer, session=session)
                for _ in range(devices)
            ]
        finally:
            await leave(session)

    def one_device(kind: str, count: int) -> list[Callable[[], Any]]:
        return [partial(account_with, kind, i, 1) for i in range(count)]

    idle_jobs = [
        partial(account_with, "idle", i, min(idle_per_account, idle - start))
        for i, start in enumerate(range(0, idle, idle_per_account))
    ]
    groups = await bounded_gather(
        [*one_device("sender", pairs), *one_device("receiver", pairs), *idle_jobs], concurrency
    )
    identities = Identities(
        senders=[g[0] for g in groups[:pairs]],
        receivers=[g[0] for g in groups[pairs : 2 * pairs]],
        idle=[d for g in groups[2 * pairs :] for d in g],
    )
    # Each receiver has written to its sender once, as a contact who accepted a friend
    # request has: the pair is known to the relay, so the sender gets a contact's share
    # of the receiver's mailbox, not a stranger's (RelayConfig.mailbox_stranger_count).
    for sender, receiver in zip(identities.senders, identities.receivers, strict=True):
        session = await connect(reactor, url, receiver.key, serializer)
        try:
            await session.call(uris.MESSAGE_SEND, sender.user_id, [{
                "device_id": sender.device_id, "v": 1, "alg": "olm.v1", "type": 1,
                "body": b"hello"}])
        finally:
            await leave(session)
    return identities


# --------------------------------------------------------------------------- workload


@dataclass
class AckStats:
    calls: int = 0
    acked: int = 0  # envelopes the relay deleted
    failed_calls: int = 0
    dropped: int = 0  # ids never acked (the session was gone)


class _Acker:
    """Batches a receiver's envelope ids into ``sc.mailbox.ack`` calls."""

    def __init__(
        self,
        session: RelaySession,
        clock: IReactorTime,
        stats: AckStats,
        batch: int,
        interval_s: float,
    ) -> None:
        self._session = session
        self._clock = clock
        self._stats = stats
        self._batch = batch
        self._interval_s = interval_s
        self._ids: list[str] = []
        self._timer: IDelayedCall | None = None
        self._in_flight: set[Deferred[object]] = set()

    def add(self, envelope_id: str) -> None:
        self._ids.append(envelope_id)
        if len(self._ids) >= self._batch:
            self.flush()
        elif self._timer is None:
            self._timer = self._clock.callLater(self._interval_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        ids, self._ids = self._ids, []
        if not ids:
            return
        if not self._session.is_attached():
            self._stats.dropped += len(ids)
            return
        self._stats.calls += 1
        d: Deferred[object] = self._session.call(uris.MAILBOX_ACK, ids)
        self._in_flight.add(d)
        d.addCallbacks(self._acked, self._failed, errbackArgs=(len(ids),))
        d.addBoth(self._settled, d)

    def _acked(self, deleted: object) -> None:
        self._stats.acked += deleted if isinstance(deleted, int) else 0

    def _failed(self, _failure: Failure, count: int) -> None:
        self._stats.failed_calls += 1
        self._stats.dropped += count

    def _settled(self, _result: object, d: Deferred[object]) -> None:
        self._in_flight.discard(d)

    async def drain(self) -> None:
        """Ack what is left and wait for the answers."""
        self.flush()
        if self._in_flight:
            await DeferredList(list(self._in_flight), consumeErrors=True)


async def leave_bounded(
    session: ApplicationSession, clock: IReactorTime, timeout_s: float = 10.0
) -> None:
    """Leave and wait until the relay has seen it; drop the TCP connection if it hangs."""
    assert isinstance(session, RelaySession)
    if session.is_attached():
        try:
            session.leave()
        except Exception:  # already leaving
            pass
    if session.left.called:
        return
    waiter: Deferred[None] = Deferred()
    session.left.addBoth(lambda result: (waiter.called or waiter.callback(None), result)[1])
    waiter.addTimeout(timeout_s, clock)
    try:
        await waiter
    except Exception:
        tcp = getattr(session._transport, "transport", None)
        if tcp is not None:
            tcp.abortConnection()


@dataclass
class RelayWorkload:
    """Device sessions of the provisioned identities; see the module docstring."""

    reactor: IReactorCore
    url: str
    identities: Identities
    serializer: str = "msgpack"
    ack: bool = True
    ack_batch: int = 64
    ack_interval_s: float = 0.05
    stats: AckStats = field(default_factory=AckStats)
    _ackers: dict[int, _Acker] = field(default_factory=dict)

    def workload(self) -> Workload:
        return Workload(
            connect=self.connect, subscribe=self.subscribe, send=self.send, close=self.close
        )

    async def connect(self, role: Role, index: int) -> ApplicationSession:
        device = self.identities.device(role, index)
        return await connect(self.reactor, self.url, device.key, self.serializer)

    def subscribe(
        self, session: ApplicationSession, role: Role, index: int, handler: Handler
    ) -> Deferred[object]:
        assert isinstance(session, RelaySession)
        acker = None
        if role == "receiver" and self.ack:
            clock = cast(IReactorTime, self.reactor)
            acker = _Acker(session, clock, self.stats, self.ack_batch, self.ack_interval_s)
            self._ackers[id(session)] = acker

        def on_envelope(envelope: dict[str, Any]) -> None:
            if acker is not None:  # first: the handler may finish the run and close us
                acker.add(envelope["id"])
            handler(envelope["body"])

        topic = uris.inbox_topic(self.identities.device(role, index).device_id)
        return session.subscribe(on_envelope, topic)

    def send(self, session: ApplicationSession, target: int, payload: bytes) -> Deferred[object]:
        recipient = self.identities.receivers[target]
        envelope = {
            "device_id": recipient.device_id,
            "v": 1,
            "alg": "olm.v1",
            "type": 1,
            "body": payload,
        }
        return session.call(uris.MESSAGE_SEND, recipient.user_id, [envelope])

    async def close(self, session: ApplicationSession) -> None:
        acker = self._ackers.pop(id(session), None)
        if acker is not None:
            await acker.drain()
        await leave_bounded(session, cast(IReactorTime, self.reactor))

    async def unacked_envelopes(self) -> int:
        """Envelopes still in the receivers' mailboxes (each receiver logs in again)."""

        async def left(device: TestDevice) -> int:
            session = await connect(self.reactor, self.url, device.key, self.serializer)
            try:
                total = 0
                while True:  # mailbox_fetch_limit per call; ``more`` says if there is more
                    page = await session.call(uris.MAILBOX_FETCH)
                    total += len(page["envelopes"])
                    if not page["more"] or not page["envelopes"]:
                        return total
                    await session.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
            finally:
                await leave_bounded(session, cast(IReactorTime, self.reactor))

        counts = await bounded_gather(
            [partial(left, device) for device in self.identities.receivers], 8
        )
        return sum(counts)

    def ack_line(self, label: str, unacked: int | None = None) -> str:
        left = "" if unacked is None else f"; {unacked} left in the receivers' mailboxes afterwards"
        if not self.ack:
            return f"{label} acks: off (envelopes stay in the mailbox){left}"
        s = self.stats
        line = (
            f"{label} acks: on (sc.mailbox.ack every {self.ack_batch} ids or "
            f"{self.ack_interval_s * 1000:.0f} ms per receiver): {s.calls} calls, "
            f"{s.acked} envelopes deleted"
        )
        if s.failed_calls or s.dropped:
            line += f", {s.failed_calls} failed calls, {s.dropped} ids not acked"
        return line + left


# --------------------------------------------------------------------------- our half


@dataclass(frozen=True)
class RelaySettings:
    port: int = 0
    idle_per_account: int = 10
    ack: bool = True
    profile: Path | None = None
    keep_workdir: bool = False


@dataclass(frozen=True)
class OurResult:
    result: RouterResult
    ack_line: str
    provision_s: float
    identities: int


async def run_our_half(
    reactor: IReactorCore, options: BenchOptions, settings: RelaySettings
) -> OurResult:
    """Start our relay, provision identities, measure, stop."""
    node = await start_relay(
        reactor,
        port=settings.port,
        profile=settings.profile,
        keep_workdir=settings.keep_workdir,
    )
    try:
        started = time.monotonic()
        identities = await provision(
            reactor,
            node.url,
            pairs=options.pairs,
            idle=options.idle,
            idle_per_account=max(settings.idle_per_account, 1),
            serializer=options.serializer,
        )
        provision_s = time.monotonic() - started
        workload = RelayWorkload(
            reactor, node.url, identities, options.serializer, ack=settings.ack
        )
        result = await measure_router("ours", workload.workload(), [node.pid], options)
        unacked = await workload.unacked_envelopes()
        count = 2 * options.pairs + options.idle
        return OurResult(result, workload.ack_line("ours", unacked), provision_s, count)
    finally:
        await node.stop()


# --------------------------------------------------------------------------- report


def target_lines(ours: RouterResult, crossbar: RouterResult | None) -> list[str]:
    out = []
    if crossbar is not None:
        theirs = crossbar.throughput.result.msgs_per_s
        ratio = ours.throughput.result.msgs_per_s / theirs if theirs else float("nan")
        out.append(
            f"target throughput ratio ours/crossbar >= {TARGET_RATIO:.1f}: "
            f"{ratio:.2f} {verdict(ratio >= TARGET_RATIO)}"
        )
    if ours.idle is not None:
        kb = ours.idle.kb_per_session
        out.append(
            f"target idle memory <= {TARGET_IDLE_KB:.0f} KB/session: "
            f"{kb:.1f} KB {verdict(kb <= TARGET_IDLE_KB)}"
        )
    return out


Only = Literal["both", "ours", "crossbar"]


def parse_args(argv: list[str] | None = None) -> tuple[BenchOptions, RelaySettings, Only, int]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_bench_arguments(parser)
    add = parser.add_argument
    add(
        "--only",
        choices=["both", "ours", "crossbar"],
        default="both",
        help="run one half only (the ratio needs both)",
    )
    add("--relay-port", type=int, default=0, help="our relay's port; 0 picks a free one")
    add("--crossbar-port", type=int, default=0, help="crossbar's port; 0 picks a free one")
    add(
        "--idle-devices-per-account",
        type=int,
        default=10,
        help="idle devices enrolled per account (the relay's default device limit is 10)",
    )
    add("--no-ack", action="store_true", help="receivers do not call sc.mailbox.ack")
    add(
        "--profile-relay",
        type=Path,
        default=None,
        help="run our relay under cProfile and write the stats to this file",
    )
    add("--keep-relay-dir", action="store_true", help="keep the relay's database and log")
    ns = parser.parse_args(argv)
    settings = RelaySettings(
        port=ns.relay_port,
        idle_per_account=ns.idle_devices_per_account,
        ack=not ns.no_ack,
        profile=ns.profile_relay.resolve() if ns.profile_relay else None,
        keep_workdir=ns.keep_relay_dir,
    )
    return options_from_args(ns), settings, ns.only, ns.crossbar_port


def main(argv: list[str] | None = None) -> None:
    options, settings, only, crossbar_port = parse_args(argv)
    prepare_router_run(options, crossbar=only != "ours")

    async def run(reactor: IReactorCore) -> None:
        started = time.monotonic()
        print(
            f"workload: {options.pairs} pairs, {options.messages} msgs/sender x "
            f"{options.repeats} runs (+{options.warmup} warm-up), window {options.window}, "
            f"{options.payload_size} B payload, {options.serializer}, {options.idle} idle sessions",
            flush=True,
        )
        ours = theirs = None
        if only != "crossbar":
            ours = await run_our_half(reactor, options, settings)
            print(f"ours: provisioned {ours.identities} devices in {ours.provision_s:.1f}s")
            print("\n".join([*ours.result.lines(), ours.ack_line]), flush=True)
        if only != "ours":
            theirs = await run_crossbar_half(reactor, options, crossbar_port)
            print("\n".join(theirs.lines()), flush=True)
        if ours is not None and theirs is not None:
            print("\n".join(comparison_lines(ours.result, theirs)))
        if ours is not None:
            for line in target_lines(ours.result, theirs):
                print(line)
        if settings.profile is not None:
            print(f"relay profile: {settings.profile}")
        print(
            f"benchmark took {time.monotonic() - started:.1f}s "
            f"(crossbar {crossbar_env.CROSSBAR_VERSION})"
        )

    react(lambda reactor: Deferred.fromCoroutine(run(reactor)))


if __name__ == "__main__":
    main()
