"""Key encodings and the device certificate both sides compute the same way."""

from __future__ import annotations

import hashlib
import json
import unicodedata


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def user_id_for_email(email: str) -> str:
    """The account's id on the relay: the relay never learns the email itself."""
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


def device_certificate(user_id: str, device_id: str, signing_key: str, identity_key: str) -> bytes:
    """The bytes the account identity key signs to vouch for a device."""
    return json.dumps(
        {
            "device_id": device_id,
            "identity_key": identity_key,
            "signing_key": signing_key,
            "user_id": user_id,
            "v": 1,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def prekey_statement(user_id: str, device_id: str, key_id: str, key: str,
                     fallback: bool) -> bytes:
    """The bytes a device's Ed25519 signing key signs to vouch for one of its one-time or
    fallback keys, so that a relay can neither substitute nor move them."""
    return json.dumps(
        {
            "device_id": device_id,
            "fallback": fallback,
            "key": key,
            "key_id": key_id,
            "user_id": user_id,
            "v": 1,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
