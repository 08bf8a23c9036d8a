"""Presence: which devices are online, told only to users who declared each other.

A user sees another's devices come and go only if both declared each other
as contacts (mutual). A user's own devices always see each other. Events go
to `sc.presence.<device_id>` as `{"event": "PEER_ONLINE"|"PEER_OFFLINE",
"user_id": ..., "device_id": ...}`. Contact lists live in memory: every
device declares its list when it connects, so a relay restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from securechat.protocol import uris
from securechat.relay import arguments
from securechat.relay.context import Caller, RelayContext

MAX_CONTACTS = 5000


class Presence:
    def __init__(self, ctx: RelayContext) -> None:
        self._push = ctx.push
        self._online: dict[str, set[str]] = {}  # user id -> online device ids
        self._contacts: dict[str, set[str]] = {}  # user id -> declared contacts

    # --- what the router tells us ------------------------------------------------

    def device_online(self, user_id: str, device_id: str) -> None:
        self._online.setdefault(user_id, set()).add(device_id)
        for watcher in self._watchers(user_id):
            self._tell(watcher, uris.PEER_ONLINE, user_id, [device_id], skip=device_id)

    def device_offline(self, user_id: str, device_id: str) -> None:
        devices = self._online.get(user_id)
        if devices is None:
            return
        devices.discard(device_id)
        for watcher in self._watchers(user_id):
            self._tell(watcher, uris.PEER_OFFLINE, user_id, [device_id], skip=device_id)
        if not devices:
            # Nobody of this user is online: forget the list; a device that
            # connects declares it again.
            del self._online[user_id]
            self._contacts.pop(user_id, None)

    def devices_changed(self, user_id: str, skip: str | None = None) -> None:
        """A device of the user was enrolled or removed: tell the user's online devices
        (but `skip`), so that they fetch the device list again and show the change."""
        for target in list(self._online.get(user_id, ())):
            if target != skip:
                self._push(uris.presence_topic(target),
                           [{"event": uris.DEVICES_CHANGED, "user_id": user_id}])

    # --- procedures --------------------------------------------------------------

    def procedures(self) -> dict[str, Any]:
        return {uris.PRESENCE_DECLARE: self.declare, uris.PRESENCE_SESSIONS: self.sessions}

    def declare(self, caller: Caller, contacts: list[Any]) -> list[dict[str, Any]]:
        """Replace the caller's user's contact list; returns the session list."""
        arguments.listing("contacts", contacts, MAX_CONTACTS)
        user = caller.principal.user_id
        assert user is not None
        new = {arguments.user_id("contacts[]", c) for c in contacts} - {user}
        old = self._contacts.get(user, set())
        self._contacts[user] = new
        # Pairs that became (or stopped being) mutual learn of each other now;
        # the calling device learns from the session list it gets back.
        caller_device = caller.principal.device_id
        for peer in new - old:
            if user in self._contacts.get(peer, ()):
                self._introduce(user, peer, uris.PEER_ONLINE, caller_device)
        for peer in old - new:
            if user in self._contacts.get(peer, ()):
                self._introduce(user, peer, uris.PEER_OFFLINE, caller_device)
        return self.sessions(caller)

    def sessions(self, caller: Caller) -> list[dict[str, Any]]:
        """The SESSION_LIST: every mutual contact (and the caller's own user) online."""
        user = caller.principal.user_id
        assert user is not None
        listing = []
        for peer in sorted(self._mutual(user) | {user}):
            devices = self._online.get(peer, set()) - {caller.principal.device_id}
            if devices:
                listing.append({"user_id": peer, "devices": sorted(devices)})
        return listing

    # --- helpers -------------------------------------------------------------------

    def _mutual(self, user: str) -> set[str]:
        return {p for p in self._contacts.get(user, ()) if user in self._contacts.get(p, ())}

    def _watchers(self, user: str) -> set[str]:
        return self._mutual(user) | {user}

    def _introduce(self, a: str, b: str, event: str, caller_device: str | None) -> None:
        """Tell each side's online devices about the other's online devices."""
        self._tell(a, event, b, self._online.get(b, ()), skip=caller_device)
        self._tell(b, event, a, self._online.get(a, ()))

    def _tell(self, watcher: str, event: str, user_id: str, devices: Iterable[str],
              skip: str | None = None) -> None:
        for device_id in list(devices):
            for target in self._online.get(watcher, ()):
                if target != skip and target != device_id:
                    self._push(
                        uris.presence_topic(target),
                        [{"event": event, "user_id": user_id, "device_id": device_id}],
                    )
