"""Who is online: presence per contact, folded from the relay's per-device events.

The relay tells each device which devices of its contacts come and go (mutual
contacts only, `sc.presence.*`). A contact is online while at least one of their
devices is; everyone is offline while this device is not connected.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

import securechat.client.events as ev
from securechat.client.context import ClientContext
from securechat.protocol import uris


class Presence:
    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._online: dict[str, set[str]] = {}  # user -> their devices online
        ctx.events.subscribe(self._connection_changed, ev.ConnectionStateChanged)

    def is_online(self, peer_user_id: str) -> bool:
        return bool(self._online.get(peer_user_id))

    @defer.inlineCallbacks
    def declare_contacts(self) -> Any:
        """Tell the relay whose presence this device follows; fires with the
        [(user id, device id)] online now (each told as a PresenceChanged)."""
        session = self._ctx.session
        if session is None:
            return []
        listing = yield session.call(uris.PRESENCE_DECLARE, sorted(self._ctx.contacts))
        online = []
        for entry in listing:
            for device_id in entry["devices"]:
                self.device_changed(entry["user_id"], device_id, True)
                online.append((entry["user_id"], device_id))
        return online

    def device_changed(self, user_id: str, device_id: str, online: bool) -> None:
        self._ctx.events.emit(ev.PresenceChanged(user_id, device_id, online))
        devices = self._online.setdefault(user_id, set())
        was = bool(devices)
        (devices.add if online else devices.discard)(device_id)
        if bool(devices) != was:
            self._ctx.events.emit(ev.ContactPresenceChanged(user_id, bool(devices)))

    def _connection_changed(self, event: ev.ConnectionStateChanged) -> None:
        if event.state in (ev.ConnectionState.SYNCING, ev.ConnectionState.ONLINE):
            return
        for peer in [p for p, devices in self._online.items() if devices]:
            self._online[peer] = set()
            self._ctx.events.emit(ev.ContactPresenceChanged(peer, False))
