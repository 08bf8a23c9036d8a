"""The abuse benchmark: one account drives the relay as hard as it can; does it hold?

Run from the repository root::

    .venv/bin/python -m bench.bench_abuse [--seconds 20] [--mailbox-mb 256]

The relay runs as a child process (``twistd -n securechat-relay``, default
limits, throw-away database) on a free loopback port. One attacking account
(review finding H5) enrolls nine devices and first fills its own second device's
mailbox with large envelopes (``--mailbox-mb``, 250 KB each; the quota is
256 MB), and a third device's with ``--unread-mb``. Then, for ``--seconds``:

* **pipelined fetches**: the second device keeps 64 ``sc.mailbox.fetch`` calls
  in flight (the most a session may), re-reading the full mailbox without acking;
* **a peer that reads nothing**: the third device pipelines fetches of its own
  mailbox but never reads from its socket;
* **subscription floods**: six devices subscribe to as many topics of the
  account's namespace as they may (longest URIs allowed), and keep trying past
  the cap with over-long and new topics;
* **send flood**: the first device keeps 64 large ``sc.message.send`` calls in
  flight to its own devices (mostly refused once the mailbox is full).

The attacker runs in a process of its own. Meanwhile an honest client
(:mod:`bench.honest`, another account, in this process) keeps
``--window`` messages and publications in flight; its throughput is measured
for ``--seconds`` before the attack and again during it, in the same run.
Printed: the relay's RSS (start, peak, end; target under 150 MB) and the honest
client's throughput during the attack as a ratio to its throughput without.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, threads
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater, react

from bench import crossbar_env, relayproc
from bench.fuzz_router import RssSampler, quiet_logging, unhandled_lines
from bench.fuzzcases import encode
from bench.honest import HonestClient, HonestStats
from securechat.client.wamp import RelaySession, connect
from securechat.protocol import uris
from securechat.testing import TestDevice, enroll_device, leave, register_account

TARGET_RSS_MB = 150.0
BODY = 250 * 1024  # a large envelope (the relay allows 256 KiB)
IN_FLIGHT = 64  # the relay's default cap on a session's unanswered calls


@dataclass
class AttackStats:
    pages: int = 0
    page_bytes: int = 0
    fetch_refusals: int = 0
    unread_calls_sent: int = 0
    subscribed: int = 0
    subscribe_refusals: int = 0
    sends: int = 0
    send_refusals: int = 0
    errors: int = 0  # anything else (a dropped session, say)


class Attacker:
    """One account, nine devices (the relay's limit is ten)."""

    def __init__(self, reactor: Any, url: str) -> None:
        self.reactor = reactor
        self.url = url
        self.stats = AttackStats()
        self.stopping = False
        self.sessions: list[RelaySession] = []

    async def provision(self) -> None:
        email = f"attacker-{secrets.token_hex(4)}@bench.invalid"
        self.account = await register_account(self.reactor, self.url, email,
                                              secrets.token_urlsafe(12))
        names = ["sender", "mailbox", "unread", *(f"subs-{i}" for i in range(6))]
        self.devices: dict[str, TestDevice] = {}
        for name in names:
            self.devices[name] = await enroll_device(self.reactor, self.url, self.account, name)
        self.ns = uris.user_namespace(self.account.user_id)

    async def join(self, name: str) -> RelaySession:
        session = await connect(self.reactor, self.url, self.devices[name].key)
        self.sessions.append(session)
        return session

    def _envelopes(self, big_for: str, big: bool = True) -> list[dict[str, Any]]:
        return [{"device_id": name, "v": 1, "alg": "olm.v1", "type": 1,
                 "body": (b"\xab" * BODY) if big and name == big_for else b"."}
                for name in self.devices if name != "sender"]

    async def fill(self, sender: RelaySession, device: str, megabytes: int) -> int:
        """Large envelopes into `device`'s mailbox until it holds `megabytes` (or is full)."""
        count = megabytes * 1024 * 1024 // BODY
        stored = 0
        full = False

        async def lane(share: int) -> None:
            nonlocal stored, full
            for _ in range(share):
                if full:
                    return
                try:
                    await sender.call(uris.MESSAGE_SEND, self.account.user_id,
                                      self._envelopes(device))
                    stored += 1
                except ApplicationError as e:
                    if e.error != uris.ERR_MAILBOX_FULL:
                        raise
                    full = True

        lanes = 8
        await defer.gatherResults([defer.ensureDeferred(lane(-(-count // lanes)))
                                   for _ in range(lanes)])
        return stored

    # --- the attacks ----------------------------------------------------------------

    async def pipelined_fetches(self, session: RelaySession) -> None:
        async def lane() -> None:
            while not self.stopping:
                try:
                    page = await session.call(uris.MAILBOX_FETCH)
                except ApplicationError as e:
                    if e.error == uris.ERR_TOO_MANY_CALLS:
                        self.stats.fetch_refusals += 1
                        continue
                    self.stats.errors += 1
                    return
                self.stats.pages += 1
                self.stats.page_bytes += sum(len(e["body"]) for e in page["envelopes"])

        await defer.gatherResults([defer.ensureDeferred(lane()) for _ in range(IN_FLIGHT)])

    async def unread_fetches(self, session: RelaySession) -> None:
        """Pipeline fetches, never reading an answer: the socket is paused at once."""
        protocol = session._transport
        protocol.onMessage = lambda payload, is_binary: None
        protocol.transport.pauseProducing()  # reads nothing from now on
        request = 1
        while not self.stopping:
            for _ in range(IN_FLIGHT):
                protocol.sendMessage(encode("msgpack", [48, request, {}, uris.MAILBOX_FETCH]),
                                     True)
                request += 1
                self.stats.unread_calls_sent += 1
            await deferLater(self.reactor, 0.5, lambda: None)
            if request > 20 * IN_FLIGHT:
                break  # enough queued in the socket: the relay stopped reading long ago
        protocol.transport.abortConnection()

    async def subscription_flood(self, session: RelaySession, index: int) -> None:
        n = 0
        room = 256 - len(self.ns) - 12
        while not self.stopping:
            n += 1
            long = n % 5 == 0  # every fifth: longer than the relay allows
            topic = f"{self.ns}{index}.{n:09d}." + "t" * (room + (50 if long else 0))
            try:
                await session.subscribe(lambda *a: None, topic)
                self.stats.subscribed += 1
            except ApplicationError as e:
                if e.error not in (uris.ERR_TOO_MANY_SUBSCRIPTIONS, uris.ERR_URI_TOO_LONG,
                                   uris.ERR_RATE_LIMITED):
                    self.stats.errors += 1
                    return
                self.stats.subscribe_refusals += 1
                if e.error == uris.ERR_RATE_LIMITED:
                    await deferLater(self.reactor, e.kwargs.get("retry_after", 0.1),
                                     lambda: None)

    async def send_flood(self, session: RelaySession) -> None:
        async def lane() -> None:
            while not self.stopping:
                try:
                    await session.call(uris.MESSAGE_SEND, self.account.user_id,
                                       self._envelopes("mailbox"))
                    self.stats.sends += 1
                except ApplicationError as e:
                    if e.error not in (uris.ERR_MAILBOX_FULL, uris.ERR_TOO_MANY_CALLS,
                                       uris.ERR_RATE_LIMITED):
                        self.stats.errors += 1
                        return
                    self.stats.send_refusals += 1
                    if e.error == uris.ERR_RATE_LIMITED:
                        await deferLater(self.reactor, e.kwargs.get("retry_after", 0.1),
                                         lambda: None)

        await defer.gatherResults([defer.ensureDeferred(lane()) for _ in range(IN_FLIGHT)])


class AttackerProcess(ProcessProtocol):
    """The attacking account in its own process, so that its work does not count
    against the honest client's. Says FILLED, waits for GO, attacks, prints its
    AttackStats as JSON."""

    def __init__(self) -> None:
        self.output = b""
        self.filled: defer.Deferred[None] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if b"FILLED" in self.output and not self.filled.called:
            self.filled.callback(None)

    def errReceived(self, data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.flush()

    def processEnded(self, reason: Any) -> None:
        if not self.filled.called:
            self.filled.errback(RuntimeError("the attacker exited before filling"))
        self.ended.callback(None)

    def lines(self) -> list[str]:
        return self.output.decode(errors="replace").splitlines()

    def stats(self) -> AttackStats:
        for line in reversed(self.lines()):
            if line.startswith("{"):
                return AttackStats(**json.loads(line))
        return AttackStats(errors=-1)


async def run_attacker(reactor: Any, options: argparse.Namespace) -> int:
    """The attacker process: provision, fill, wait for GO on stdin, attack."""
    attacker = Attacker(reactor, options.attacker)
    await attacker.provision()
    sender = await attacker.join("sender")
    started = time.monotonic()
    stored = await attacker.fill(sender, "mailbox", options.mailbox_mb)
    stored_unread = await attacker.fill(sender, "unread", options.unread_mb)
    print(f"filled the mailboxes: {stored} + {stored_unread} envelopes of {BODY // 1024} KB "
          f"in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print("FILLED", flush=True)
    await threads.deferToThread(sys.stdin.readline)  # GO
    mailbox = await attacker.join("mailbox")
    unread = await attacker.join("unread")
    subs = [await attacker.join(f"subs-{i}") for i in range(6)]
    attacks = [
        defer.ensureDeferred(attacker.pipelined_fetches(mailbox)),
        defer.ensureDeferred(attacker.unread_fetches(unread)),
        defer.ensureDeferred(attacker.send_flood(sender)),
        *(defer.ensureDeferred(attacker.subscription_flood(s, i)) for i, s in enumerate(subs)),
    ]
    await deferLater(reactor, options.seconds + 1.0, lambda: None)
    attacker.stopping = True
    await defer.DeferredList(attacks, consumeErrors=True)
    for session in attacker.sessions:
        if session.is_attached():
            await leave(session)
    print(json.dumps(dataclasses.asdict(attacker.stats)), flush=True)
    return 0


async def bench(reactor: Any, options: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="securechat-abuse-"))
    port = crossbar_env.free_port()
    node = await relayproc.start_relay(
        reactor, workdir, [f"--listen=tcp:{port}:interface=127.0.0.1",
                           f"--db={workdir / 'relay.sqlite'}"],
        remove_workdir=not options.keep_workdir)
    try:
        honest = HonestClient(reactor, node.url)
        await honest.start()
        attacker = AttackerProcess()
        argv = [sys.executable, "-m", "bench.bench_abuse", "--attacker", node.url,
                "--seconds", str(options.seconds), "--mailbox-mb", str(options.mailbox_mb),
                "--unread-mb", str(options.unread_mb)]
        path = os.pathsep.join(p for p in (str(relayproc.REPO), os.environ.get("PYTHONPATH"))
                               if p)
        transport = reactor.spawnProcess(attacker, sys.executable, argv,
                                         env={**os.environ, "PYTHONPATH": path},
                                         path=str(relayproc.REPO))
        await attacker.filled

        sampler = RssSampler(reactor, node.pid)
        baseline = await honest.run(options.seconds, window=options.window)
        print(f"honest client alone: {baseline.rate:.0f} ops/s; relay RSS "
              f"{sampler.last:.0f} MB", flush=True)
        transport.write(b"GO\n")
        await deferLater(reactor, 1.0, lambda: None)  # the attack gets going first
        attacked = await honest.run(options.seconds, window=options.window)
        peak_during_attack = sampler.peak
        await attacker.ended
        crashed = node.protocol.ended.called
        await honest.stop()
        await deferLater(reactor, 1.0, lambda: None)
        sampler.stop()
    finally:
        errors = unhandled_lines(node.log_path) if node.log_path.exists() else []
        if options.keep_workdir:
            print(f"relay log: {node.log_path}")
        await node.stop()

    report(options, sampler, peak_during_attack, attacker.stats(), baseline, attacked,
           crashed, errors)
    ok = (not crashed and not errors and sampler.peak < TARGET_RSS_MB
          and not baseline.failures and not attacked.failures)
    return 0 if ok else 1


def report(options: argparse.Namespace, sampler: RssSampler, peak_attack: float,
           stats: AttackStats, baseline: HonestStats, attacked: HonestStats, crashed: bool,
           errors: list[str]) -> None:
    ratio = attacked.rate / baseline.rate if baseline.rate else 0.0
    mb = 1024 * 1024
    print(f"\nabuse benchmark ({options.seconds:.0f} s per phase, honest window "
          f"{options.window}, mailbox {options.mailbox_mb} MB)")
    print(f"  relay RSS: start {sampler.start:.0f} MB, peak {sampler.peak:.0f} MB "
          f"(during the attack {peak_attack:.0f} MB; target < {TARGET_RSS_MB:.0f}), "
          f"end {sampler.last:.0f} MB")
    print(f"  pipelined fetches: {stats.pages} pages, {stats.page_bytes / mb:.0f} MB "
          f"delivered, {stats.fetch_refusals} refused (too many calls)")
    print(f"  a peer that reads nothing: {stats.unread_calls_sent} fetch calls sent")
    print(f"  subscription floods: {stats.subscribed} accepted, "
          f"{stats.subscribe_refusals} refused")
    print(f"  send flood: {stats.sends} stored, {stats.send_refusals} refused; "
          f"other attack errors: {stats.errors}")
    print(f"  honest client alone: {baseline.rate:.0f} ops/s (p99 "
          f"{baseline.percentile_ms(99):.1f} ms, {baseline.failures} failures)")
    print(f"  honest client under attack: {attacked.rate:.0f} ops/s (p99 "
          f"{attacked.percentile_ms(99):.1f} ms, worst {attacked.worst_ms:.0f} ms, "
          f"{attacked.failures} failures)")
    print(f"  throughput ratio under attack / alone: {ratio:.2f}")
    print(f"  relay crashed: {crashed}; unhandled errors in its log: {len(errors)}")
    for line in errors[:10]:
        print(f"    {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of each measured phase")
    parser.add_argument("--mailbox-mb", type=int, default=256,
                        help="large envelopes in the fetched mailbox (the quota is 256)")
    parser.add_argument("--unread-mb", type=int, default=48,
                        help="large envelopes in the mailbox of the peer that reads nothing")
    parser.add_argument("--window", type=int, default=4,
                        help="the honest client's operations in flight")
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument("--attacker", metavar="URL", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    quiet_logging()
    status: list[int] = []

    async def run(reactor: Any) -> None:
        status.append(await (run_attacker if options.attacker else bench)(reactor, options))

    react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    sys.exit(status[0] if status else 1)


if __name__ == "__main__":
    main()
