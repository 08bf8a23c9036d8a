"""Token buckets: how every rate limit of the relay is counted."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

T = TypeVar("T")


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(self, clock: IReactorTime, rate: float, burst: float) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._stamp = clock.seconds()

    def _refill(self) -> None:
        now = self._clock.seconds()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def has(self, tokens: float = 1.0) -> bool:
        """Whether `tokens` could be taken now (taking none)."""
        self._refill()
        return tokens <= self._tokens

    def take(self, tokens: float = 1.0) -> float:
        """Take tokens if there are enough; return 0, or the seconds to wait for them."""
        self._refill()
        if tokens <= self._tokens:
            self._tokens -= tokens
            return 0.0
        return (tokens - self._tokens) / self._rate


class BucketsByKey:
    """One bucket per key (an account, a peer address), the least recently used dropped."""

    def __init__(self, clock: IReactorTime, rate: float, burst: float, size: int = 65536) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._size = size
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def has(self, key: str, tokens: float = 1.0) -> bool:
        return self._bucket(key).has(tokens)

    def take(self, key: str, tokens: float = 1.0) -> float:
        return self._bucket(key).take(tokens)

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._clock, self._rate, self._burst)
            if len(self._buckets) > self._size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


def after_take(wait: float | defer.Deferred[float], then: Callable[[float], T]) -> Any:
    """`then(wait)` once a bucket's answer is known: at once for this process's own
    buckets (the hot path stays synchronous), later for a cluster's (in Redis)."""
    if isinstance(wait, defer.Deferred):
        return wait.addCallback(then)
    return then(wait)
