"""The device set is visible: telling the user when a device joins or leaves an account.

The client core verifies every device list it fetches (`SecureChatClient._devices_of`) and
hands the old and the new verified list to `DeviceWatch.changed`. What changed becomes
events (`DeviceAdded`, `DeviceRemoved`) and durable traces, so a change is never silent:

* my own account: a notice kept until I dismiss it (`device_notices`) — "a new device was
  added to your account, remove it?";
* a contact: a system line in the conversation ("Bob signed in on a new device"), and a
  verified contact loses the mark and is flagged for comparing safety numbers again;
* someone with a pending friend request whose account key changed: the request says so.

The first list ever learned for a user is not news (a new contact, a fresh install).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.events as ev
from securechat.client.context import ClientContext, now_ms
from securechat.client.model import (
    DeviceNotice,
    MessageStatus,
    MessageType,
    Sender,
    StoredMessage,
    new_message_id,
)


@attrs.frozen
class LinkedDevice:
    """One device of my own account, as `client.linked_devices()` lists it."""

    device_id: str
    name: str  # devices have no names yet: the device id
    added_at: int | None  # ms, as the relay recorded it (None when offline)
    last_seen: int | None  # ms, when it last connected (None: never, or unknown)
    this_device: bool


def device_changes(previous: Mapping[str, str] | None,
                   current: Mapping[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(added [(device id, identity key)], removed [device id]) between two verified
    lists {device id: identity key}. A device id whose key changed is both: a different
    device now answers to that id. No previous list: nothing changed."""
    if previous is None:
        return [], []
    added = [(d, k) for d, k in sorted(current.items()) if previous.get(d) != k]
    removed = [d for d, k in sorted(previous.items()) if current.get(d) != k]
    return added, removed


def linked_devices(listed: Sequence[Any], verified: Mapping[str, str],
                   this_device: str) -> list[LinkedDevice]:
    """My devices from `sc.device.list` (own user: with `created` and `last_seen`), only
    those whose certificate verified (`verified`: device id -> identity key)."""
    devices = []
    for entry in listed:
        if not isinstance(entry, dict):
            continue
        device_id = entry.get("device_id")
        if not isinstance(device_id, str) or verified.get(device_id) != entry.get(
                "identity_key"):
            continue  # the relay lists it, but its certificate does not verify
        devices.append(LinkedDevice(device_id, device_id, _ms(entry.get("created")),
                                    _ms(entry.get("last_seen")), device_id == this_device))
    return devices


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


class DeviceWatch:
    """Turns changes of verified device lists into events, notices and flags."""

    log = Logger()

    def __init__(self, ctx: ClientContext,
                 contact_updated: Callable[[str], defer.Deferred[Any]]) -> None:
        self._ctx = ctx
        self._contact_updated = contact_updated

    def changed(self, user_id: str, previous: Mapping[str, str] | None,
                current: Mapping[str, str]) -> defer.Deferred[None]:
        """Call after a user's verified device list was replaced (never fails: what
        cannot be recorded is logged; the list itself is already in place)."""
        added, removed = device_changes(previous, current)
        if not added and not removed:
            return defer.succeed(None)
        d = self._record(user_id, added, removed)
        return d.addErrback(lambda f: self.log.failure("recording a device change failed", f))

    @defer.inlineCallbacks
    def _record(self, user_id: str, added: list[tuple[str, str]], removed: list[str]) -> Any:
        ctx = self._ctx
        store, me = ctx.store, ctx.me
        own = user_id == me.user_id
        contact = ctx.contacts.get(user_id)
        happened: list[Any] = []
        for device_id in removed:
            notice = None
            if own:
                yield store.drop_device_notice(device_id)
            elif contact is not None:
                notice = yield self._line(contact.sid, MessageType.DEVICE_REMOVED, device_id)
            happened.append(ev.DeviceRemoved(user_id, device_id, own, notice))
        for device_id, identity_key in added:
            if own and device_id == me.device_id:
                continue  # this device itself, re-listed: not news to me
            notice = None
            if own:
                yield store.add_device_notice(DeviceNotice(device_id, identity_key, now_ms()))
            elif contact is not None:
                notice = yield self._line(contact.sid, MessageType.DEVICE_ADDED, device_id)
            happened.append(ev.DeviceAdded(user_id, device_id, identity_key, own, notice))
        recheck = contact is not None and (yield store.devices_changed(user_id))
        for event in happened:
            self.log.info("{kind} for {who}", kind=type(event).__name__,
                          who="my account" if own else "another account")
            ctx.events.emit(event)
        if recheck:
            yield self._contact_updated(user_id)

    @defer.inlineCallbacks
    def _line(self, sid: str, kind: str, device_id: str) -> Any:
        """A system line in a contact's conversation; it survives restarts like any
        message (and, like any, can be deleted for me)."""
        now = now_ms()
        message = StoredMessage(new_message_id(now), sid, Sender.SYSTEM, device_id, kind, now,
                                MessageStatus.READ, True, None)
        yield self._ctx.store.add_message(message)
        return message

    @defer.inlineCallbacks
    def request_key_changed(self, user_id: str) -> Any:
        """`user_id` is not a contact and their account key is not the pinned one: if a
        friend request with them is pending, mark it (once) and say so."""
        request = yield self._ctx.store.mark_request_key_changed(user_id)
        if request is not None:
            self.log.warn("the account key of someone with a pending friend request changed")
            self._ctx.events.emit(ev.IdentityKeyChanged(user_id, request.email, True))
