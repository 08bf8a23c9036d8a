"""How far I trust a contact: safety numbers, verified marks, changed keys, nicknames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer

import securechat.client.events as ev
from securechat.client.context import ClientContext, now_ms
from securechat.client.directory import DeviceDirectory
from securechat.client.errors import ClientError
from securechat.client.keys import safety_number, safety_qr_payload
from securechat.protocol.encoding import unb64

MAX_ALIAS = 64  # characters of a nickname
MAX_NOTES = 4096  # characters of the private notes about a contact


class Trust:
    def __init__(self, ctx: ClientContext, directory: DeviceDirectory,
                 flush_outbox: Callable[[], defer.Deferred[None]]) -> None:
        self._ctx = ctx
        self._directory = directory
        self._flush_outbox = flush_outbox

    def safety_number(self, peer_user_id: str) -> str:
        """60 digits both sides compute alike from the two account keys."""
        ctx = self._ctx
        contact = ctx.contacts[peer_user_id]
        return safety_number(ctx.identity_public, ctx.me.user_id,
                             unb64(contact.peer_identity_key), peer_user_id)

    def safety_qr(self, peer_user_id: str) -> bytes:
        ctx = self._ctx
        contact = ctx.contacts[peer_user_id]
        return safety_qr_payload(ctx.identity_public, ctx.me.user_id,
                                 unb64(contact.peer_identity_key), peer_user_id)

    @defer.inlineCallbacks
    def accept_identity_key(self, peer_user_id: str) -> Any:
        """The user has seen the key-change warning and accepts the contact's new key;
        what waited for it is sent."""
        ctx = self._ctx
        contact = ctx.contacts.get(peer_user_id)
        if contact is None or contact.changed_identity_key is None:
            raise ClientError("no changed key to accept for this contact")
        yield ctx.store.accept_identity_key(peer_user_id)
        yield self._directory.accept_identity_key(peer_user_id, contact.changed_identity_key)
        yield self.contact_updated(peer_user_id)
        yield self._flush_outbox()

    @defer.inlineCallbacks
    def set_verified(self, peer_user_id: str, verified: bool = True) -> Any:
        """The user compared safety numbers (in person, or by scanning the QR code)."""
        ctx = self._ctx
        if peer_user_id not in ctx.contacts:
            raise ClientError("not a contact")
        if verified and ctx.contacts[peer_user_id].changed_identity_key:
            raise ClientError("accept the contact's new key before verifying it")
        yield ctx.store.set_verified(peer_user_id, verified)
        yield self.contact_updated(peer_user_id)

    @defer.inlineCallbacks
    def set_alias(self, peer_user_id: str, alias: str | None) -> Any:
        """A name for the contact that only I see (None or blank: their own name)."""
        ctx = self._ctx
        if peer_user_id not in ctx.contacts:
            raise ClientError("not a contact")
        alias = (alias or "").strip() or None
        if alias is not None and len(alias) > MAX_ALIAS:
            raise ClientError(f"a nickname can have at most {MAX_ALIAS} characters")
        yield ctx.store.set_alias(peer_user_id, alias, now_ms())
        yield self.contact_updated(peer_user_id)

    @defer.inlineCallbacks
    def set_notes(self, peer_user_id: str, notes: str | None) -> Any:
        """Private notes about a contact (None or blank: none); my devices only."""
        ctx = self._ctx
        if peer_user_id not in ctx.contacts:
            raise ClientError("not a contact")
        notes = (notes or "").strip() or None
        if notes is not None and len(notes) > MAX_NOTES:
            raise ClientError(f"notes can have at most {MAX_NOTES} characters")
        yield ctx.store.set_notes(peer_user_id, notes, now_ms())
        yield self.contact_updated(peer_user_id)

    @defer.inlineCallbacks
    def contact_updated(self, peer_user_id: str) -> Any:
        """The store changed a contact: read it again and say so."""
        ctx = self._ctx
        yield ctx.reload_contacts()
        contact = ctx.contacts.get(peer_user_id)
        if contact is not None:
            ctx.events.emit(ev.ContactUpdated(peer_user_id, contact))
