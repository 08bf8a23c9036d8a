"""Ephemeral TURN credentials in coturn's REST format (`use-auth-secret`).

The username is `EXPIRY:RANDOM`: coturn reads only the expiry (before the `:`) and checks
the HMAC, so the part after it need not name anyone. It is random rather than the user
id, so that the TURN server and its logs do not learn who calls (security review, M8).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from twisted.internet.interfaces import IReactorTime

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from securechat.relay.context import Caller
from securechat.relay.errors import refuse


def turn_password(secret: str, username: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    ).decode("ascii")


class TurnCredentials:
    def __init__(self, config: RelayConfig, clock: IReactorTime) -> None:
        self._config = config
        self._clock = clock

    def procedures(self) -> dict[str, Any]:
        return {uris.TURN_CREDENTIALS: self.credentials}

    def credentials(self, caller: Caller) -> dict[str, Any]:
        secret = self._config.turn_secret
        if not secret:
            refuse(uris.ERR_TURN_DISABLED, "this relay has no TURN server configured")
        ttl = self._config.turn_ttl
        username = f"{int(self._clock.seconds()) + ttl}:{secrets.token_hex(8)}"
        return {
            "username": username,
            "password": turn_password(secret, username),
            "ttl": ttl,
            "uris": list(self._config.turn_uris),
        }
