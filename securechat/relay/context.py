"""What the relay's procedure handlers share, and what they are handed.

The router builds one `RelayContext` and gives it to each handler (accounts,
recovery, email codes, prekeys, delivery, presence): the configuration, the
storage, the directory, the clock, and the few things a handler may ask of the
realm. So no handler imports the router, and the broker and the dealer route
between sessions typed as `Session`, not the router's session class: only
`router.py` knows every part of the relay, and nothing imports it but the
service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
from autobahn.wamp import message as wamp
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from securechat.relay.authorization import Principal
from securechat.relay.config import RelayConfig
from securechat.relay.directory import Directory
from securechat.relay.limits import BucketsByKey
from securechat.relay.storage import IRelayStorage


@attrs.frozen
class Caller:
    """Who calls a relay procedure: handlers authorize by owner with this."""

    principal: Principal
    peer: str  # the peer's network address (for per-address limits)
    session_id: int


class Session(Protocol):
    """A client's live WAMP session (session.RouterSession), as the broker, the dealer
    and the handlers see it."""

    id: int
    principal: Principal
    peer: str  # the client's network address
    welcomed: bool
    fetching: defer.DeferredLock  # one mailbox page at a time (Delivery.fetch)

    def send(self, msg: wamp.Message) -> None: ...

    def send_error(self, request: Any, uri: str, *args: Any, **kwargs: Any) -> None: ...

    def log_refusal(self, what: str, **fields: Any) -> None: ...

    def drained(self) -> defer.Deferred[None]: ...


@attrs.frozen
class RelayContext:
    config: RelayConfig
    storage: IRelayStorage
    directory: Directory
    clock: IReactorTime
    sessions: Mapping[int, Session]  # the welcomed sessions by id, kept by the router
    # An EVENT with these positional arguments to every subscriber of the topic;
    # returns how many got it.
    push: Callable[[str, list[Any]], int]
    # End a device's session and any handshake in progress for it: (device id, close
    # reason URI, message).
    kick_device: Callable[[str, str, str], None]
    # An account was registered in this session (an anonymous one then ends).
    registered: Callable[[int], None]
    # Rate limits that must hold across a cluster's nodes: (name, rate, burst) ->
    # buckets in Redis (relay.cluster_limits); None: this process's own buckets.
    shared_buckets: Callable[[str, float, float], Any] | None = None
    # One of several nodes (relay.cluster): caches may lag a change made on another.
    clustered: bool = False
    # `push` answering whether the event reached a live session on any node: a count,
    # or in a cluster, for a device connected to another node, a Deferred of one (the
    # nodes that took it from Redis). None: `push`'s count says it all (one node).
    push_reaching: Callable[[str, list[Any]], Any] | None = None

    def buckets(self, name: str, rate: float, burst: float) -> Any:
        """Token buckets by key for a limit that is global (per account, per email, per
        address): `take` answers 0, the seconds to wait, or a Deferred of either (in a
        cluster, where the buckets live in Redis; see `limits.after_take`)."""
        if self.shared_buckets is not None:
            return self.shared_buckets(name, rate, burst)
        return BucketsByKey(self.clock, rate, burst)

    def now_ms(self) -> int:
        """The relay clock, in milliseconds since the epoch."""
        return int(self.clock.seconds() * 1000)
