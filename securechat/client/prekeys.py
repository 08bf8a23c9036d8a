"""Signed prekeys: a device vouches for each one-time and fallback key it publishes,
and a session is started only from a key whose signature its certificate verifies.
The relay can then neither substitute keys of its own nor move keys between devices."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from securechat.client.wamp import DeviceKey
from securechat.protocol.keys import prekey_statement


def signed(device_key: DeviceKey, user_id: str, one_time_keys: dict[str, str],
           fallback: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arguments of `sc.prekeys.publish`, every key signed by this device."""
    def signature(key_id: str, key: str, is_fallback: bool) -> str:
        statement = prekey_statement(user_id, device_key.device_id, key_id, key, is_fallback)
        return base64.b64encode(device_key.sign(statement)).decode("ascii")
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
            base64.b64decode(signature + "=" * (-len(signature) % 4)), prekey_statement(
                user_id, device_id, str(key["key_id"]), str(key["key"]),
                bool(key.get("fallback"))))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True
