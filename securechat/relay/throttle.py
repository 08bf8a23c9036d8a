"""Throttling password guesses without letting anyone lock the owner out (M6).

Three counters, each meant for one kind of attacker:

* per (account, source): a guesser at one address (or IPv6 /64) gets a few free
  failures, then waits twice as long after each further one. Only that source
  waits: the owner elsewhere is not affected.
* per source, over every account: cycling through many accounts from one
  address (to guess, or to push its own entries out of memory) gains nothing.
* per account, over every source: when many sources guess at one account,
  answers (right or wrong alike, so timing tells nothing) come later, by at
  most `password_max_delay`. Never a refusal: the owner still gets in.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.interfaces import IReactorTime

from securechat.relay.config import RelayConfig
from securechat.relay.connections import address_key
from securechat.relay.limits import BucketsByKey


class _Backoff:
    __slots__ = ("failures", "not_before")

    def __init__(self) -> None:
        self.failures = 0
        self.not_before = 0.0


class _DelayingBucket:
    """A token bucket that may go into debt: each take is told how long to wait."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.stamp = now


class PasswordThrottle:
    def __init__(self, clock: IReactorTime, config: RelayConfig, size: int = 65536) -> None:
        self._clock = clock
        self._config = config
        self._size = size
        self._backoff: OrderedDict[tuple[str, str], _Backoff] = OrderedDict()
        self._accounts: OrderedDict[str, _DelayingBucket] = OrderedDict()
        self._sources = BucketsByKey(clock, config.password_source_rate,
                                     config.password_source_burst, size)

    def refused_for(self, user_id: str, peer: str) -> float:
        """Seconds this source must wait before its next guess at this account (0: go)."""
        entry = self._backoff.get((user_id, address_key(peer)))
        wait = entry.not_before - self._clock.seconds() if entry is not None else 0.0
        if wait > 0:
            return wait
        if not self._sources.has(address_key(peer)):
            return self._sources.take(address_key(peer))
        return 0.0

    def delay(self, user_id: str, guessed_wrong: bool) -> float:
        """Seconds to hold this answer back (the account's bucket; a wrong guess spends)."""
        config = self._config
        now = self._clock.seconds()
        bucket = self._accounts.get(user_id)
        if bucket is None:
            bucket = _DelayingBucket(config.password_account_burst, now)
            self._remember(self._accounts, user_id, bucket)
        else:
            self._accounts.move_to_end(user_id)
        rate = config.password_account_rate
        bucket.tokens = min(config.password_account_burst,
                            bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            wait = 0.0
        else:
            wait = min((1 - bucket.tokens) / rate, config.password_max_delay)
        if guessed_wrong:
            # Debt deeper than the longest delay buys nothing: cap it there.
            bucket.tokens = max(bucket.tokens - 1, 1 - config.password_max_delay * rate)
        return wait

    def failed(self, user_id: str, peer: str) -> None:
        config = self._config
        key = (user_id, address_key(peer))
        entry = self._backoff.get(key)
        if entry is None:
            entry = _Backoff()
            self._remember(self._backoff, key, entry)
        else:
            self._backoff.move_to_end(key)
        entry.failures += 1
        beyond = entry.failures - config.password_free_failures
        if beyond > 0:
            wait = min(config.password_backoff * 2 ** min(beyond - 1, 40),
                       config.password_backoff_max)
            entry.not_before = self._clock.seconds() + wait
        self._sources.take(address_key(peer))

    def succeeded(self, user_id: str, peer: str) -> None:
        self._backoff.pop((user_id, address_key(peer)), None)

    def _remember(self, cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
        cache[key] = value
        if len(cache) > self._size:
            cache.popitem(last=False)
