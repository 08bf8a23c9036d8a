"""A locked screen over an open account (issue 11: "a locked app can still receive and
notify, name only, if the user allows it"): the account stays open and connected, and
unlocking checks the master password against this device's sealed keys, without
closing or reopening anything.

The trade-off is the user's to choose (the desktop client's setting is off by default):
while the screen is locked this way the account's keys, the database key among them,
stay in this process's memory, as they do while it is unlocked; a lock that closes the
account takes them out of memory and stops receiving.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, threads

import securechat.client.pin as pin_lock
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError
from securechat.client.secrets import SecretStore


class ScreenLock:
    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx

    @defer.inlineCallbacks
    def check_password(self, password: str) -> Any:
        """Deferred[None]; fails with WrongPassword unless `password` opens this device's
        keys (a KDF: on a thread)."""
        store = SecretStore(self._ctx.account_dir, self._ctx.me.user_id, password)
        yield threads.deferToThread(store.load)

    @property
    def has_pin(self) -> bool:
        return pin_lock.has_pin(self._ctx.account_dir)

    @defer.inlineCallbacks
    def check_pin(self, pin: str) -> Any:
        """Deferred[None]; fails with WrongPin (PinLocked at the last try, which erases
        the PIN, as on the lock screen: the tries count is the same) unless `pin` opens
        this device's keys, and they are this open account's."""
        keys = yield threads.deferToThread(pin_lock.unlock, self._ctx.account_dir, pin)
        if keys.get("identity_public") != self._ctx.identity_public.hex():
            raise ClientError("the PIN opens other keys than this account's: use your "
                              "master password")
