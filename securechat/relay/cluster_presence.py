"""Presence across a cluster's nodes: `presence.Presence`'s rules, its state in Redis.

Who is online (a hash per user: device id -> node id) and each user's declared
contacts (a set per user, kept while one of the user's devices is online, as the
single-node relay keeps it in memory) live in Redis, so every node sees every node's
devices. Events go through the context's `push`, which reaches a device on any node
(relay.cluster). A node that dies without saying so leaves its devices in the hashes:
each node keeps a heartbeat key alive, and devices of a node whose heartbeat has
expired count as offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.relay import arguments
from securechat.relay.cluster import RedisBus
from securechat.relay.context import Caller, RelayContext
from securechat.relay.presence import MAX_CONTACTS

HEARTBEAT = 2.0  # seconds between a node's heartbeats
HEARTBEAT_TTL = 7  # seconds a heartbeat counts for (a node silent this long is dead)


_OFFLINE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterPresence:
    log = Logger()

    def __init__(self, ctx: RelayContext, bus: RedisBus) -> None:
        self._push = ctx.push
        self._bus = bus
        self._redis = bus.redis
        self._live_nodes: set[str] = {bus.node_id}
        self._turns: dict[str, defer.DeferredLock] = {}  # see _in_turn
        self._dead_nodes: set[str] = set()  # seen with an expired heartbeat
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.clock = ctx.clock

    def start(self) -> None:
        self._heartbeat.start(HEARTBEAT, now=True).addErrback(
            lambda f: self.log.failure("presence heartbeat stopped", f))

    def stop(self) -> None:
        if self._heartbeat.running:
            self._heartbeat.stop()

    @defer.inlineCallbacks
    def _beat(self) -> Any:
        try:
            yield self._redis.set(self._bus.key("node", self._bus.node_id), b"1",
                                  expire=HEARTBEAT_TTL)
            yield self._redis.sadd(self._bus.key("nodes"), self._bus.node_id)
            nodes = [_text(n) for n in (yield self._redis.smembers(self._bus.key("nodes")))]
            alive = (yield self._redis.mget([self._bus.key("node", n) for n in nodes])
                     ) if nodes else []
            self._live_nodes = {n for n, a in zip(nodes, alive, strict=True) if a} | {
                self._bus.node_id}
            dead = [n for n in nodes if n not in self._live_nodes]
            if dead:  # node ids are never reused: a silent one is gone for good
                self._dead_nodes.update(dead)
                yield self._redis.srem(self._bus.key("nodes"), dead)
        except Exception as e:  # Redis restarting: try again at the next beat
            self.log.warn("presence heartbeat failed: {why}", why=str(e))

    def _key(self, kind: str, user_id: str) -> str:
        return self._bus.key(kind, user_id)

    @defer.inlineCallbacks
    def _online(self, user_id: str) -> Any:
        """Deferred[set of the user's online device ids] (on live nodes)."""
        found = {_text(d): _text(n) for d, n in
                 ((yield self._redis.hgetall(self._key("online", user_id))) or {}).items()}
        unknown = sorted(set(found.values()) - self._live_nodes - self._dead_nodes)
        if unknown:  # a node started since the last heartbeat, or a dead one
            alive = yield self._redis.mget([self._bus.key("node", n) for n in unknown])
            self._live_nodes |= {n for n, a in zip(unknown, alive, strict=True) if a}
        for device_id, node in found.items():
            if node in self._dead_nodes:  # its node died without saying goodbye
                self._redis.eval(_OFFLINE, [self._key("online", user_id),
                                            self._key("contacts", user_id)],
                                 [device_id, node]).addErrback(lambda _: None)
        return {d for d, node in found.items() if node in self._live_nodes}

    @defer.inlineCallbacks
    def _contacts(self, user_id: str) -> Any:
        return {_text(c) for c in (yield self._redis.smembers(self._key("contacts", user_id)))}

    @defer.inlineCallbacks
    def _mutual(self, user_id: str) -> Any:
        mine = yield self._contacts(user_id)
        mutual = set()
        for peer in mine:
            if (yield self._redis.sismember(self._key("contacts", peer), user_id)):
                mutual.add(peer)
        return mutual

    # --- what the router tells us (fire and forget) --------------------------------------

    def device_online(self, user_id: str, device_id: str) -> defer.Deferred[None]:
        return self._in_turn(device_id, self._device_online, user_id, device_id)

    @defer.inlineCallbacks
    def _device_online(self, user_id: str, device_id: str) -> Any:
        yield self._redis.hset(self._key("online", user_id), device_id, self._bus.node_id)
        for watcher in (yield self._mutual(user_id)) | {user_id}:
            yield self._tell(watcher, uris.PEER_ONLINE, user_id, [device_id], skip=device_id)

    def device_offline(self, user_id: str, device_id: str) -> defer.Deferred[None]:
        return self._in_turn(device_id, self._device_offline, user_id, device_id)

    def _in_turn(self, device_id: str, fn: Any, *args: Any) -> defer.Deferred[None]:
        """Run a device's comings and goings on this node one after the other: an
        offline still reading Redis must not remove the online that followed it."""
        lock = self._turns.setdefault(device_id, defer.DeferredLock())
        d = lock.run(lambda: self._logged(fn(*args)))

        def done(result: Any) -> Any:
            if not lock.locked and not lock.waiting and self._turns.get(device_id) is lock:
                del self._turns[device_id]
            return result
        return d.addBoth(done)

    @defer.inlineCallbacks
    def _device_offline(self, user_id: str, device_id: str) -> Any:
        watchers = (yield self._mutual(user_id)) | {user_id}
        # One step in Redis: only if the device is still online here (a reconnect may
        # have won the race, here or on another node), and the user's contact list
        # goes with their last device (a device that connects declares it again).
        gone = yield self._redis.eval(_OFFLINE, [self._key("online", user_id),
                                                 self._key("contacts", user_id)],
                                      [device_id, self._bus.node_id])
        if gone:
            for watcher in watchers:
                yield self._tell(watcher, uris.PEER_OFFLINE, user_id, [device_id],
                                 skip=device_id)

    def devices_changed(self, user_id: str, skip: str | None = None) -> defer.Deferred[None]:
        return self._logged(self._devices_changed(user_id, skip))

    @defer.inlineCallbacks
    def _devices_changed(self, user_id: str, skip: str | None) -> Any:
        for target in (yield self._online(user_id)):
            if target != skip:
                self._push(uris.presence_topic(target),
                           [{"event": uris.DEVICES_CHANGED, "user_id": user_id}])

    def _logged(self, d: defer.Deferred[Any]) -> defer.Deferred[None]:
        return d.addErrback(lambda f: self.log.warn("presence across nodes failed: {why}",
                                                    why=f.getErrorMessage()))

    # --- procedures ------------------------------------------------------------------

    def procedures(self) -> dict[str, Any]:
        return {uris.PRESENCE_DECLARE: self.declare, uris.PRESENCE_SESSIONS: self.sessions}

    @defer.inlineCallbacks
    def declare(self, caller: Caller, contacts: list[Any]) -> Any:
        arguments.listing("contacts", contacts, MAX_CONTACTS)
        user = caller.principal.user_id
        assert user is not None
        new = {arguments.user_id("contacts[]", c) for c in contacts} - {user}
        key = self._key("contacts", user)
        old = yield self._contacts(user)
        yield self._redis.delete([key])
        if new:
            yield self._redis.sadd(key, sorted(new))
        caller_device = caller.principal.device_id
        for peer, event in [(p, uris.PEER_ONLINE) for p in new - old] + [
                (p, uris.PEER_OFFLINE) for p in old - new]:
            if (yield self._redis.sismember(self._key("contacts", peer), user)):
                yield self._introduce(user, peer, event, caller_device)
        return (yield self.sessions(caller))

    @defer.inlineCallbacks
    def sessions(self, caller: Caller) -> Any:
        user = caller.principal.user_id
        assert user is not None
        listing = []
        for peer in sorted((yield self._mutual(user)) | {user}):
            devices = (yield self._online(peer)) - {caller.principal.device_id}
            if devices:
                listing.append({"user_id": peer, "devices": sorted(devices)})
        return listing

    # --- helpers ---------------------------------------------------------------------

    @defer.inlineCallbacks
    def _introduce(self, a: str, b: str, event: str, caller_device: str | None) -> Any:
        yield self._tell(a, event, b, (yield self._online(b)), skip=caller_device)
        yield self._tell(b, event, a, (yield self._online(a)))

    @defer.inlineCallbacks
    def _tell(self, watcher: str, event: str, user_id: str, devices: Iterable[str],
              skip: str | None = None) -> Any:
        targets = yield self._online(watcher)
        for device_id in list(devices):
            for target in targets:
                if target != skip and target != device_id:
                    self._push(uris.presence_topic(target),
                               [{"event": event, "user_id": user_id, "device_id": device_id}])
