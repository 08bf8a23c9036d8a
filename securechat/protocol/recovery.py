"""What relay and client agree on for account recovery and password reset.

The recovery blob the relay keeps for an account is opaque to it except for its
first four bytes: `PHRASE_SEALED_MAGIC` marks a blob sealed under the account's
128-bit recovery phrase (the only kind the relay hands to an unauthenticated
caller, or accepts as an update). A password reset is signed by the account
identity key over `password_reset_message(...)`.
"""

from __future__ import annotations

import json

PHRASE_SEALED_MAGIC = b"SCR2"
# A reset request is refused when its timestamp is further than this from the relay's clock.
RESET_MAX_SKEW_MS = 10 * 60 * 1000


def is_phrase_sealed(blob: object) -> bool:
    return isinstance(blob, bytes) and blob.startswith(PHRASE_SEALED_MAGIC)


def password_reset_message(user_id: str, current_salt: str, verifier: dict[str, object],
                           timestamp_ms: int) -> bytes:
    """The bytes the account identity key signs to replace the account's SCRAM verifier.

    The current verifier's salt is inside, so a signed request works once: after it (or
    any other password change) the salt differs and a replay is refused."""
    return json.dumps(
        {
            "current_salt": current_salt,
            "purpose": "sc.account.password.reset",
            "timestamp": timestamp_ms,
            "user_id": user_id,
            "v": 1,
            "verifier": {k: verifier[k] for k in ("iterations", "kdf", "memory", "salt",
                                                  "server_key", "stored_key")},
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
