"""Accounts and devices, read through a small cache (every send needs the device list)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from securechat.relay.records import Account, Device
from securechat.relay.storage import IRelayStorage


class Directory:
    def __init__(self, storage: IRelayStorage, size: int = 10_000) -> None:
        self._storage = storage
        self._size = size
        self._devices: OrderedDict[str, list[Device]] = OrderedDict()
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        # Bumped by every change, so a read that raced a change is not cached.
        self._generation: dict[str, int] = {}
        # Told of every change made here ("devices" | "account", user id): a cluster's
        # other nodes forget theirs (relay.cluster).
        self.changed: list[Callable[[str, str], None]] = []

    @defer.inlineCallbacks
    def account(self, user_id: str) -> Any:
        """Deferred[Account | None]."""
        if user_id in self._accounts:
            self._accounts.move_to_end(user_id)
            return self._accounts[user_id]
        account = yield self._storage.get_account(user_id)
        if account is not None:
            self._remember(self._accounts, user_id, account)
        return account

    def forget_account(self, user_id: str, tell: bool = True) -> None:
        """Call after changing an account's verifier or recovery blob."""
        self._accounts.pop(user_id, None)
        if tell:
            for listener in self.changed:
                listener("account", user_id)

    def devices(self, user_id: str) -> defer.Deferred[list[Device]]:
        """The user's devices, oldest first (from the cache when it has them)."""
        cached = self._devices.get(user_id)
        if cached is not None:
            self._devices.move_to_end(user_id)
            return defer.succeed(cached)
        generation = self._generation.get(user_id, 0)

        def loaded(devices: list[Device]) -> list[Device]:
            if self._generation.get(user_id, 0) == generation:
                self._remember(self._devices, user_id, devices)
            return devices

        return self._storage.list_devices(user_id).addCallback(loaded)

    def forget_devices(self, user_id: str, tell: bool = True) -> None:
        """Call after enrolling or removing a device of this user."""
        self._devices.pop(user_id, None)
        self._generation[user_id] = self._generation.get(user_id, 0) + 1
        if tell:
            for listener in self.changed:
                listener("devices", user_id)

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        if len(cache) > self._size:
            cache.popitem(last=False)
