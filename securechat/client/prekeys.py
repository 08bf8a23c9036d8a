"""Signed prekeys: a device vouches for each one-time and fallback key it publishes,
and a session is started only from a key whose signature its certificate verifies.
The relay can then neither substitute keys of its own nor move keys between devices.

`PrekeyPublisher` keeps enough of this device's one-time keys on the relay."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client.context import ClientContext
from securechat.client.wamp import DeviceKey
from securechat.protocol import uris
from securechat.protocol.encoding import b64, unb64
from securechat.protocol.keys import prekey_statement

LOW_WATER = 20  # fewer one-time keys than this on the relay: publish a batch
BATCH = 50


def signed(device_key: DeviceKey, user_id: str, one_time_keys: dict[str, str],
           fallback: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arguments of `sc.prekeys.publish`, every key signed by this device."""
    def signature(key_id: str, key: str, is_fallback: bool) -> str:
        statement = prekey_statement(user_id, device_key.device_id, key_id, key, is_fallback)
        return b64(device_key.sign(statement))
    return ({key_id: {"key": key, "signature": signature(key_id, key, False)}
             for key_id, key in one_time_keys.items()},
            {**fallback, "signature": signature(fallback["key_id"], fallback["key"], True)})


def verifies(signing_key_hex: str | None, user_id: str, device_id: str,
             key: dict[str, Any]) -> bool:
    """Whether a claimed `one_time_key` bundle entry is signed by the device whose
    verified signing key (hex) is given."""
    if not isinstance(key, dict):
        return False
    try:
        signature = str(key.get("signature") or "")
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(signing_key_hex or "")).verify(
            unb64(signature), prekey_statement(
                user_id, device_id, str(key["key_id"]), str(key["key"]),
                bool(key.get("fallback"))))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


class PrekeyPublisher:
    log = Logger()

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._topping_up = False  # a top-up is under way

    @defer.inlineCallbacks
    def top_up(self, rotate_fallback: bool = False) -> Any:
        """Publish one-time keys when few are left, each signed by this device, with a
        new fallback key; `rotate_fallback` replaces the fallback key in any case (a
        session was just made: perhaps with it)."""
        if self._topping_up:
            return  # one top-up at a time: a second would publish the same keys again
        self._topping_up = True
        try:
            yield self._publish(rotate_fallback)
        finally:
            self._topping_up = False

    def refill(self, rotate_fallback: bool = True) -> None:
        """`top_up` in the background (a key was used up): failures are only logged."""
        if self._ctx.session is not None:
            self.top_up(rotate_fallback).addErrback(
                lambda f: self.log.info("prekey top-up failed: {e}", e=type(f.value).__name__))

    @defer.inlineCallbacks
    def _publish(self, rotate_fallback: bool) -> Any:
        ctx = self._ctx
        session = ctx.session
        if session is None:
            return
        count = yield session.call(uris.PREKEYS_COUNT)
        if count >= LOW_WATER and not rotate_fallback:
            return
        keys = ctx.olm.new_one_time_keys(max(0, BATCH - count) if count < LOW_WATER else 0)
        yield session.call(uris.PREKEYS_PUBLISH, *signed(
            ctx.device_key, ctx.me.user_id, keys, ctx.olm.new_fallback_key()))
        ctx.olm.mark_published()
        yield ctx.store.save_olm_account(ctx.olm.pickle_account())
