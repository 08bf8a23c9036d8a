"""Authentication: the WAMP methods `cryptosign`, `scram` and `anonymous`.

`Authenticator.hello` answers a HELLO with either a `Welcome` (anonymous) or a
`Challenge` whose `verify` checks the client's AUTHENTICATE. Refusals raise
`AuthRefused` with the URI the client sees in its ABORT. Every secret
comparison is constant-time; nothing secret is logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable
from typing import Any

import attrs
from autobahn.wamp.message import Authenticate, Hello
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from securechat.protocol import scram, uris
from securechat.relay import arguments
from securechat.relay.authorization import Principal
from securechat.relay.config import RelayConfig
from securechat.relay.limits import BucketsByKey
from securechat.relay.storage import IRelayStorage

METHODS = ("cryptosign", "scram", "anonymous")


class AuthRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@attrs.frozen
class Welcome:
    principal: Principal
    authmethod: str
    authextra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Challenge:
    method: str
    extra: dict[str, Any]
    verify: Callable[[Authenticate], Welcome]  # raises AuthRefused


class Authenticator:
    def __init__(self, storage: IRelayStorage, config: RelayConfig, clock: IReactorTime) -> None:
        self._storage = storage
        self._config = config
        self._clock = clock
        # Failed password attempts per account: an online guessing attack gets
        # a handful of tries a minute, whatever address it comes from.
        self._password_failures = BucketsByKey(clock, rate=5 / 60, burst=10)

    @defer.inlineCallbacks
    def hello(self, msg: Hello) -> Any:
        """Deferred firing with a Welcome or a Challenge; fails with AuthRefused."""
        if msg.realm != uris.REALM:
            raise AuthRefused(uris.WAMP_NO_SUCH_REALM, f"no realm {msg.realm!r}")
        offered = msg.authmethods or ["anonymous"]
        method = next((m for m in offered if m in METHODS), None)
        if method is None:
            raise AuthRefused(uris.WAMP_NO_AUTH_METHOD,
                              f"no supported authmethod in {offered!r}; use one of {METHODS}")
        extra = msg.authextra or {}
        if type(extra) is not dict:
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT, "authextra must be an object")
        if method == "anonymous":
            return Welcome(Principal(uris.ROLE_ANONYMOUS, "anonymous"), "anonymous")
        if method == "cryptosign":
            return (yield self._cryptosign(msg.authid, extra))
        return (yield self._scram(msg.authid, extra))

    # --- cryptosign: a device proves it holds its enrolled Ed25519 key ---------

    @defer.inlineCallbacks
    def _cryptosign(self, authid: str | None, extra: dict[str, Any]) -> Any:
        pubkey = extra.get("pubkey")
        if type(pubkey) is not str or not arguments.HEX_KEY.fullmatch(pubkey):
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT,
                              "cryptosign needs authextra.pubkey: 64 lowercase hex digits")
        device = yield self._storage.get_device_by_signing_key(pubkey)
        if device is None:
            raise AuthRefused(uris.ERR_NO_SUCH_DEVICE, "no device is enrolled with this key")
        if authid is not None and authid != device.device_id:
            raise AuthRefused(uris.ERR_WRONG_KEY, "this key belongs to another device")
        role = uris.ROLE_PENDING_DEVICE if device.pending else uris.ROLE_DEVICE
        if device.pending and device.created < (
                self._clock.seconds() - self._config.pending_device_ttl) * 1000:
            raise AuthRefused(uris.ERR_NO_SUCH_DEVICE,
                              "this device was not approved in time; enroll it again")
        challenge = os.urandom(32)

        def verify(auth: Authenticate) -> Welcome:
            try:
                signed = binascii.unhexlify(auth.signature)
            except (binascii.Error, ValueError):
                signed = b""
            signature, message = signed[:64], signed[64:]
            if len(signed) != 96 or not hmac.compare_digest(message, challenge):
                raise AuthRefused(uris.ERR_WRONG_KEY, "the signature is not over our challenge")
            try:
                Ed25519PublicKey.from_public_bytes(bytes.fromhex(pubkey)).verify(
                    signature, challenge
                )
            except (InvalidSignature, ValueError):
                raise AuthRefused(
                    uris.ERR_WRONG_KEY, "the challenge signature does not verify"
                ) from None
            return Welcome(
                Principal(role, device.device_id, device.user_id, device.device_id),
                "cryptosign",
                {"user_id": device.user_id, "device_id": device.device_id,
                 **({"pending": True} if device.pending else {})},
            )

        return Challenge("cryptosign", {"challenge": challenge.hex()}, verify)

    # --- scram: password login, the relay holding only a verifier -------------

    @defer.inlineCallbacks
    def _scram(self, authid: str | None, extra: dict[str, Any]) -> Any:
        if type(authid) is not str or not arguments.USER_ID.fullmatch(authid):
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT,
                              "scram needs authid: the account's user id (64 hex digits)")
        client_nonce = extra.get("nonce")
        if type(client_nonce) is not str or not 16 <= len(client_nonce) <= 128:
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT, "scram needs authextra.nonce")
        account = yield self._storage.get_account(authid)
        if account is None:
            raise AuthRefused(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id")
        server_nonce = client_nonce + base64.b64encode(os.urandom(18)).decode("ascii")
        message = scram.auth_message(authid, client_nonce, server_nonce, account.scram_salt,
                                     account.scram_iterations)

        def verify(auth: Authenticate) -> Welcome:
            if not self._password_failures.has(authid):
                raise AuthRefused(uris.ERR_RATE_LIMITED,
                                  "too many wrong passwords for this account; try again later")
            if not scram.verify_proof(account.stored_key, message, auth.signature):
                self._password_failures.take(authid)
                raise AuthRefused(uris.ERR_WRONG_PASSWORD, "wrong password")
            return Welcome(
                Principal(uris.ROLE_ACCOUNT, authid, authid),
                "scram",
                {"scram_server_signature": scram.server_signature(account.server_key, message)},
            )

        return Challenge(
            "scram",
            {
                "nonce": server_nonce,
                "kdf": account.scram_kdf,
                "salt": account.scram_salt,
                "iterations": account.scram_iterations,
                "memory": account.scram_memory,
            },
            verify,
        )
