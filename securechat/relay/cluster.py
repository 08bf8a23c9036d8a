"""Relay nodes that share the work, through Redis (`--redis redis://host:port/db`).

Every node keeps its own WAMP sessions. What one node must tell another goes over
Redis pub/sub, one channel per connected device (as Synapse's replication streams
and Centrifugo do, never a protocol of our own):

* an EVENT for a device connected to another node (a live envelope, a presence
  change) is PUBLISHed on that device's channel; the node holding the device
  SUBSCRIBEs to it while the device is connected and delivers it;
* "one live session per device": a node that welcomes a device publishes a kick on
  its channel, and the node holding the older session closes it (`sc.close.replaced`);
  a removed device is kicked the same way;
* a change to an account's devices is published on the cluster's directory channel,
  so every node forgets its cached device list.

Redis only carries live traffic: the mailbox in PostgreSQL is the truth. If Redis
restarts, live pushes are lost for a moment and clients get them from the mailbox
(they fetch it on every reconnect); the subscriber connection reconnects and
subscribes again by itself. Channels are named after the database number as well,
because Redis pub/sub ignores it.

txredisapi: Twisted-native (no thread hop per publish), pipelines commands on one
connection, reconnects by itself, and has a subscriber protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import msgpack
import txredisapi
from twisted.internet import defer, endpoints
from twisted.logger import Logger

KICK = "k"  # [reason URI, message]: close this device's session on your node
EVENT = "e"  # [topic, args]: deliver this EVENT to the device's session
FORGET = "f"  # ["devices" | "account", user id]: a directory change


class RedisUrlError(ValueError):
    pass


def parse_redis_url(url: str) -> tuple[str, int, int]:
    """(host, port, database number) of redis://host:port/db."""
    parsed = urlparse(url)
    if parsed.scheme != "redis" or not parsed.hostname:
        raise RedisUrlError(f"{url!r} is not a Redis URL: use redis://host:port/db")
    path = parsed.path.strip("/") or "0"
    if not path.isdigit():
        raise RedisUrlError(f"the Redis database in {url!r} must be a number")
    return parsed.hostname, parsed.port or 6379, int(path)


class _Subscriber(txredisapi.SubscriberProtocol):
    bus: RedisBus

    def connectionMade(self) -> Any:
        d = super().connectionMade()
        self.factory.bus._subscriber_connected(self)
        return d

    def messageReceived(self, pattern: Any, channel: Any, message: Any) -> None:
        self.factory.bus._received(channel, message)


class RedisBus:
    """This node's Redis connections: commands, and the channels it listens on."""

    log = Logger()

    def __init__(self, reactor: Any, url: str) -> None:
        host, port, db = parse_redis_url(url)
        self.url = url
        self.node_id = os.urandom(8).hex()
        self._prefix = f"sc:{db}:"
        self.redis = txredisapi.lazyConnection(host, port, dbid=db, reconnect=True,
                                              charset=None, convertNumbers=False,
                                              connectTimeout=5, replyTimeout=5)
        factory = txredisapi.SubscriberFactory()
        factory.charset = None
        factory.convertNumbers = False
        factory.protocol = _Subscriber
        factory.bus = self
        factory.startConnecting(endpoints.TCP4ClientEndpoint(reactor, host, port, timeout=5))
        self._sub_factory = factory
        self._subscriber: _Subscriber | None = None
        self._handlers: dict[bytes, Callable[[str, list[Any]], None]] = {}
        self._reactor = reactor
        self._lost_at: float | None = None  # when the subscriber connection went
        # Called with that time once subscribed again: what was published meanwhile
        # never arrived, and must be made up for (from the mailbox).
        self.resubscribed: list[Callable[[float], Any]] = []

    def key(self, *parts: str) -> str:
        """A Redis key (or channel) of this cluster."""
        return self._prefix + ":".join(parts)

    def device_channel(self, device_id: str) -> str:
        return self.key("dev", device_id)

    # --- subscribing -----------------------------------------------------------------

    def listen(self, channel: str, handler: Callable[[str, list[Any]], None]) -> None:
        """Call handler(kind, fields) for each message published on `channel` by
        another node, until `unlisten`."""
        self._handlers[channel.encode()] = handler
        if self._subscriber is not None:
            self._subscriber.subscribe(channel).addErrback(self._lost_subscription)

    def unlisten(self, channel: str) -> None:
        if self._handlers.pop(channel.encode(), None) is not None and \
                self._subscriber is not None:
            self._subscriber.unsubscribe(channel).addErrback(self._lost_subscription)

    def _subscriber_connected(self, subscriber: _Subscriber) -> None:
        self._subscriber = subscriber
        subscriber.whenDisconnected().addCallback(self._subscriber_lost, subscriber)
        d = (subscriber.subscribe([c.decode() for c in self._handlers]) if self._handlers
             else defer.succeed(None))
        d.addCallbacks(self._subscribed, self._lost_subscription)

    def _subscribed(self, _: Any) -> None:
        self.log.info("subscribed to Redis ({count} channels)", count=len(self._handlers))
        lost_at, self._lost_at = self._lost_at, None
        if lost_at is not None:
            for callback in self.resubscribed:
                defer.maybeDeferred(callback, lost_at).addErrback(
                    lambda f: self.log.failure("catching up after Redis came back", f))

    def _subscriber_lost(self, _: Any, subscriber: _Subscriber) -> None:
        if self._subscriber is subscriber:
            self._subscriber = None
            self._lost_at = self._reactor.seconds()
            self.log.warn("lost the Redis subscriber connection: live delivery between "
                          "nodes pauses (mailboxes keep everything) until it is back")

    def _lost_subscription(self, failure: Any) -> None:
        self.log.warn("a Redis (un)subscribe failed: {why}", why=failure.getErrorMessage())

    def _received(self, channel: Any, message: Any) -> None:
        handler = self._handlers.get(channel if isinstance(channel, bytes)
                                     else channel.encode())
        if handler is None:
            return
        try:
            node, kind, fields = msgpack.unpackb(message, raw=False)
        except (ValueError, TypeError, msgpack.UnpackException):
            self.log.warn("an unreadable message on a cluster channel was dropped")
            return
        if node != self.node_id:
            handler(kind, fields)

    # --- publishing ------------------------------------------------------------------

    def publish(self, channel: str, kind: str, fields: list[Any]) -> defer.Deferred[int]:
        """Deferred[how many nodes listen]; a Redis failure is logged, not raised (the
        mailbox still has what a live push would have carried)."""
        message = msgpack.packb([self.node_id, kind, fields], use_bin_type=True)
        d = self.redis.publish(channel, message)
        d.addErrback(self._publish_failed)
        return d

    def _publish_failed(self, failure: Any) -> int:
        self.log.warn("a Redis publish failed: {why}", why=failure.getErrorMessage())
        return 0

    def ping(self) -> defer.Deferred[Any]:
        return self.redis.ping()

    @defer.inlineCallbacks
    def stop(self) -> Any:
        yield defer.gatherResults([self._sub_factory.disconnect(), self.redis.disconnect()],
                                  consumeErrors=True).addErrback(lambda _: None)
