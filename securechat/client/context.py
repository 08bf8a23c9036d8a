"""What every feature of an open account shares: one `ClientContext` per client.

The feature modules (friends, messages, trust, the outbox, the inbox, the device
directory …) each hold the context and the few other features they call, wired
explicitly by `SecureChatClient`; none of them imports another's state through `self`
of a god object. What lives here is only what truly is shared: the store, the Olm
machine, the event bus, the live relay session, who I am, and the contacts cache.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
from twisted.internet import defer

from securechat.client.connection import ConnectionMachine
from securechat.client.endpoint import RelayEndpoint
from securechat.client.errors import ClientError
from securechat.client.events import EventBus
from securechat.client.keys import AccountSecrets
from securechat.client.model import Contact, Me
from securechat.client.olm import OlmMachine
from securechat.client.storage import AccountStore
from securechat.client.wamp import DeviceKey, RelaySession


def now_ms() -> int:
    return int(time.time() * 1000)


@attrs.define(eq=False)
class ClientContext:
    reactor: Any
    relay: RelayEndpoint
    store: AccountStore
    me: Me
    events: EventBus
    olm: OlmMachine
    device_key: DeviceKey
    identity_public: bytes  # my account's Ed25519 key
    # The account's identity seed and mnemonic are here only when the account was
    # opened with the master password; a PIN unlocks only what this device needs.
    secrets: AccountSecrets | None
    account_dir: str  # data_dir/<user id>, locked by this client until it stops
    contacts: dict[str, Contact] = attrs.Factory(dict)
    blocked: set[str] = attrs.Factory(set)
    # Envelopes are handled one at a time, in order; sends too (Olm ratchets are
    # sequential, and a device list must not change under a send).
    inbound: defer.DeferredLock = attrs.Factory(defer.DeferredLock)
    outbound: defer.DeferredLock = attrs.Factory(defer.DeferredLock)
    connection: ConnectionMachine | None = None  # set once, by SecureChatClient
    closed: bool = False  # stop() closed the database

    @property
    def session(self) -> RelaySession | None:
        """The relay session while joined, else None."""
        return self.connection.session if self.connection is not None else None

    @property
    def online(self) -> bool:
        return self.session is not None

    def contact(self, peer_user_id: str) -> Contact:
        """The contact, for something the user does with them (not blocked)."""
        contact = self.contacts.get(peer_user_id)
        if contact is None:
            raise ClientError("not a contact")
        if peer_user_id in self.blocked:
            raise ClientError("this contact is blocked")
        return contact

    def peer_of(self, sid: str) -> str | None:
        """The contact whose conversation this is."""
        return next((c.peer_user_id for c in self.contacts.values() if c.sid == sid), None)

    @defer.inlineCallbacks
    def reload_contacts(self) -> Any:
        """Read the contacts again after the store changed them."""
        self.contacts = {c.peer_user_id: c for c in (yield self.store.contacts())}

    def emit(self, event: object) -> defer.Deferred[None]:
        """Tell the subscribers (usable as a frame's `notify`)."""
        self.events.emit(event)
        return defer.succeed(None)
