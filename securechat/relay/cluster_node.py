"""The router's side of a cluster: what it publishes and what it does with what other
nodes publish (see relay.cluster for the channels and why)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.protocol import uris
from securechat.relay.cluster import EVENT, FORGET, KICK, RedisBus
from securechat.relay.cluster_presence import ClusterPresence
from securechat.relay.context import RelayContext

_DEVICE_TOPICS = (uris.INBOX_TOPIC_PREFIX, uris.PRESENCE_TOPIC_PREFIX)
REPLACED = "this device connected again elsewhere"
CATCH_UP_MARGIN = 5.0  # seconds before Redis was seen to go whose envelopes are pushed again
CATCH_UP_PAGE = 500  # envelopes per device pushed again, at most (the rest: next fetch)


def device_of(topic: str) -> str | None:
    """The device a per-device topic belongs to (its inbox or presence), else None."""
    for prefix in _DEVICE_TOPICS:
        if topic.startswith(prefix):
            return topic[len(prefix):]
    return None


class ClusterNode:
    def __init__(self, router: Any, bus: RedisBus) -> None:
        self._router = router
        self._bus = bus
        self._directory_channel = bus.key("directory")
        router.directory.changed.append(self._directory_changed_here)
        bus.listen(self._directory_channel, self._directory_changed_elsewhere)
        bus.resubscribed.append(self._catch_up)

    # --- events ----------------------------------------------------------------------

    def push(self, topic: str, args: list[Any]) -> int:
        """An EVENT to the topic's subscribers here, or, for a device connected to
        another node, through its channel. Returns how many got it here."""
        reached = self.push_reaching(topic, args)
        return reached if isinstance(reached, int) else 0

    def push_reaching(self, topic: str, args: list[Any]) -> int | defer.Deferred[int]:
        """`push`, answering how many took it: the subscribers here (at once), or for a
        device not connected here, Deferred[the nodes that took it from its channel]
        (Redis PUBLISH's count: a node listens on a device's channel exactly while the
        device is connected to it; 0 if none does, or Redis is away)."""
        device_id = device_of(topic)
        if device_id is None or self._router.has_device(device_id):
            return int(self._router.broker.deliver(topic, args))
        return self._bus.publish(self._bus.device_channel(device_id), EVENT, [topic, args])

    # --- devices ---------------------------------------------------------------------

    def device_attached(self, device_id: str) -> None:
        """A device's session was welcomed here: listen on its channel, and close any
        session of it on another node (one live session per device)."""
        channel = self._bus.device_channel(device_id)
        self._bus.listen(channel, lambda kind, fields: self._for_device(device_id, kind,
                                                                          fields))
        self._bus.publish(channel, KICK, [uris.CLOSE_REPLACED, REPLACED])

    def device_detached(self, device_id: str) -> None:
        self._bus.unlisten(self._bus.device_channel(device_id))

    def kick_elsewhere(self, device_id: str, reason: str, message: str) -> None:
        self._bus.publish(self._bus.device_channel(device_id), KICK, [reason, message])

    def _for_device(self, device_id: str, kind: str, fields: list[Any]) -> None:
        if kind == EVENT:
            topic, args = fields
            self._router.broker.deliver(topic, args)
        elif kind == KICK:
            reason, message = fields
            self._router.kick_here(device_id, reason, message)

    @defer.inlineCallbacks
    def _catch_up(self, lost_at: float) -> Any:
        """Redis was away: live events for this node's devices published meanwhile are
        lost. Push each device what its mailbox got since (it de-duplicates by id), and
        say again which devices are online here (a restarted Redis forgot)."""
        since = int((lost_at - CATCH_UP_MARGIN) * 1000)
        storage = self._router.storage
        for device_id, session in list(self._router.device_sessions().items()):
            user_id = session.principal.user_id
            if session.principal.role == uris.ROLE_DEVICE and user_id is not None:
                self._router.presence.device_online(user_id, device_id)
            page = yield storage.fetch_mailbox(device_id, int(self._router.clock.seconds()
                                                              * 1000),
                                               CATCH_UP_PAGE, 1 << 20, 256)
            for envelope in page.envelopes:
                if envelope.ts >= since:
                    self._router.broker.deliver(uris.inbox_topic(device_id),
                                                [envelope.event()])

    # --- the directory cache ---------------------------------------------------------

    def _directory_changed_here(self, kind: str, user_id: str) -> None:
        self._bus.publish(self._directory_channel, FORGET, [kind, user_id])

    def _directory_changed_elsewhere(self, kind: str, fields: list[Any]) -> None:
        if kind != FORGET:
            return
        what, user_id = fields
        if what == "devices":
            self._router.directory.forget_devices(user_id, tell=False)
        elif what == "account":
            self._router.directory.forget_account(user_id, tell=False)


def join(router: Any, bus: RedisBus, ctx: RelayContext) -> ClusterPresence:
    """Make the router a cluster node; returns its presence (shared through Redis)."""
    router._cluster = ClusterNode(router, bus)
    return ClusterPresence(ctx, bus)
