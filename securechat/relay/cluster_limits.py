"""Rate limits that hold across a cluster's nodes: token buckets in Redis.

A limit per account, per email or per address must not grow with the number of
nodes (a client spreading its requests over them would get N times the rate), so in a
cluster those buckets live in Redis, each updated by one Lua script (atomic: two nodes
taking at once cannot both spend the last token). If Redis cannot be reached, the
node falls back to its own buckets for that request: limits loosen to per-node for a
moment rather than refusing everyone or letting everyone through.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from securechat.relay.cluster import RedisBus
from securechat.relay.limits import BucketsByKey

_TAKE = """
local b = redis.call('HMGET', KEYS[1], 't', 's')
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens = tonumber(b[1]) or burst
local stamp = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if want <= tokens then tokens = tokens - want else wait = (want - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisBuckets:
    """Like `limits.BucketsByKey`, but `take` answers a Deferred, counted in Redis."""

    log = Logger()

    def __init__(self, bus: RedisBus, clock: IReactorTime, name: str, rate: float,
                 burst: float) -> None:
        self._bus = bus
        self._clock = clock
        self._name = name
        self._rate = rate
        self._burst = burst
        self._fallback = BucketsByKey(clock, rate, burst)

    def take(self, key: str, tokens: float = 1.0) -> defer.Deferred[float]:
        d = self._bus.redis.eval(_TAKE, [self._bus.key("rate", self._name, key)],
                                 [repr(self._rate), repr(self._burst),
                                  repr(self._clock.seconds()), repr(float(tokens))])
        d.addCallback(lambda wait: float(wait.decode() if isinstance(wait, bytes) else wait))
        d.addErrback(self._unreachable, key, tokens)
        return d

    def has(self, key: str, tokens: float = 1.0) -> bool:
        return self._fallback.has(key, tokens)

    def _unreachable(self, failure: Any, key: str, tokens: float) -> float:
        self.log.warn("rate limit {name} counted on this node only (Redis: {why})",
                      name=self._name, why=failure.getErrorMessage())
        return self._fallback.take(key, tokens)


def shared_buckets(bus: RedisBus, clock: IReactorTime) -> Any:
    """The factory a cluster node's RelayContext makes its global limits with."""
    return lambda name, rate, burst: RedisBuckets(bus, clock, name, rate, burst)
