"""An honest client that keeps messages and publications flowing while a relay is attacked.

One account with two devices: the sender alternates ``sc.message.send`` to the
receiver (which gets the envelope on its inbox and acks it) and acknowledged
PUBLISHes in the account's own namespace (which the receiver gets as EVENTs).
An operation counts once the receiver has it; its latency is from the call to
then. Used by ``bench/fuzz_router.py`` and ``bench/bench_abuse.py``.
"""

from __future__ import annotations

import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from autobahn.wamp.types import PublishOptions
from twisted.internet import defer
from twisted.internet.task import deferLater

from securechat.client.wamp import RelaySession, connect
from securechat.protocol import uris
from securechat.testing import enroll_device, leave, register_account

OP_TIMEOUT_S = 10.0


@dataclass
class HonestStats:
    ops: int = 0  # operations the receiver got
    failures: int = 0  # calls refused or lost, and operations not received in time
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.latencies, default=0.0)

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


class HonestClient:
    def __init__(self, reactor: Any, url: str, serializer: str = "msgpack") -> None:
        self.reactor = reactor
        self.url = url
        self.serializer = serializer
        self._waiting: dict[bytes, defer.Deferred[None]] = {}
        self._seq = 0
        self.sender: RelaySession | None = None
        self.receiver: RelaySession | None = None

    async def start(self) -> None:
        email = f"honest-{secrets.token_hex(4)}@bench.invalid"
        self.account = await register_account(self.reactor, self.url, email,
                                              secrets.token_urlsafe(12), self.serializer)
        sender = await enroll_device(self.reactor, self.url, self.account, "honest-sender",
                                     self.serializer)
        receiver = await enroll_device(self.reactor, self.url, self.account,
                                       "honest-receiver", self.serializer)
        self.receiver_device = receiver
        self.topic = uris.user_namespace(self.account.user_id) + "ping"
        self.sender = await connect(self.reactor, self.url, sender.key, self.serializer)
        self.receiver = await connect(self.reactor, self.url, receiver.key, self.serializer)
        await self.receiver.subscribe(self._envelope, uris.inbox_topic("honest-receiver"))
        await self.receiver.subscribe(self._arrived, self.topic)

    def _envelope(self, envelope: dict[str, Any]) -> None:
        assert self.receiver is not None
        self.receiver.call(uris.MAILBOX_ACK, [envelope["id"]]).addErrback(lambda _: None)
        self._arrived(envelope["body"])

    def _arrived(self, tag: bytes) -> None:
        d = self._waiting.pop(bytes(tag), None)
        if d is not None:
            d.callback(None)

    async def _one(self, stats: HonestStats) -> None:
        assert self.sender is not None
        self._seq += 1
        tag = struct.pack(">Q", self._seq)
        arrived: defer.Deferred[None] = defer.Deferred()
        self._waiting[tag] = arrived
        arrived.addTimeout(OP_TIMEOUT_S, self.reactor)
        start = time.perf_counter()
        try:
            if self._seq % 2:
                await self.sender.call(uris.MESSAGE_SEND, self.account.user_id, [{
                    "device_id": "honest-receiver", "v": 1, "alg": "olm.v1", "type": 1,
                    "body": tag}])
            else:
                await self.sender.publish(self.topic, tag,
                                          options=PublishOptions(acknowledge=True))
            await arrived
        except Exception:
            stats.failures += 1
            self._waiting.pop(tag, None)
            return
        stats.ops += 1
        stats.latencies.append(time.perf_counter() - start)

    async def run(self, seconds: float, window: int = 1,
                  until: defer.Deferred[Any] | None = None,
                  pause: float = 0.0) -> HonestStats:
        """Keep `window` operations going for `seconds` (or until `until` fires),
        each lane waiting `pause` seconds between its operations."""
        stats = HonestStats()
        start = time.perf_counter()
        deadline = start + seconds

        def going() -> bool:
            return time.perf_counter() < deadline and not (until is not None and until.called)

        async def lane() -> None:
            while going():
                await self._one(stats)
                if pause or (stats.failures and not self.connected()):
                    await deferLater(self.reactor, pause or 0.1, lambda: None)

        await defer.gatherResults([defer.ensureDeferred(lane()) for _ in range(window)])
        stats.seconds = time.perf_counter() - start
        return stats

    def connected(self) -> bool:
        return all(s is not None and s.is_attached() for s in (self.sender, self.receiver))

    async def stop(self) -> None:
        for session in (self.sender, self.receiver):
            if session is not None:
                await leave(session)
