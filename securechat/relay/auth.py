"""Authentication: the WAMP methods `cryptosign`, `scram` and `anonymous`.

`Authenticator.hello` answers a HELLO with either a `Welcome` (anonymous) or a
`Challenge` whose `verify` checks the client's AUTHENTICATE (a Deferred: a
device is read again at that moment, and password answers may be held back).
Refusals raise `AuthRefused` with the URI the client sees in its ABORT. Every
secret comparison is constant-time; nothing secret is logged.

A SCRAM HELLO for an account that does not exist gets a challenge all the
same, with a salt derived from a relay secret (the same every time) and the
default costs, and fails at AUTHENTICATE exactly as a wrong password does:
a HELLO tells nobody whether an email has an account (L1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any

import attrs
from autobahn.wamp.message import Authenticate, Hello
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime

from securechat.protocol import scram, uris
from securechat.relay import arguments
from securechat.relay.authorization import Principal
from securechat.relay.config import RelayConfig
from securechat.relay.records import Account
from securechat.relay.storage import IRelayStorage
from securechat.relay.throttle import PasswordThrottle

METHODS = ("cryptosign", "scram", "anonymous")


class AuthRefused(Exception):
    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


@attrs.frozen
class Welcome:
    principal: Principal
    authmethod: str
    authextra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Challenge:
    method: str
    extra: dict[str, Any]
    # Deferred[Welcome], failing with AuthRefused.
    verify: Callable[[Authenticate], defer.Deferred[Welcome]]
    device_id: str | None = None  # the device a cryptosign challenge is for


class Authenticator:
    def __init__(self, storage: IRelayStorage, config: RelayConfig, clock: IReactorTime) -> None:
        self._storage = storage
        self._config = config
        self._clock = clock
        self._throttle = PasswordThrottle(clock, config)
        self._fake_salt_key: bytes | None = None

    @defer.inlineCallbacks
    def hello(self, msg: Hello, peer: str = "") -> Any:
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
        return (yield self._scram(msg.authid, extra, peer))

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

        @defer.inlineCallbacks
        def verify(auth: Authenticate) -> Any:
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
            # Read the device again now: it may have been removed since HELLO (H6).
            current = yield self._storage.get_device_by_signing_key(pubkey)
            if (current is None or current.device_id != device.device_id
                    or current.user_id != device.user_id
                    or current.signature != device.signature):
                # Removed, or enrolled again (another account, another certificate): the
                # role and owner read at HELLO no longer hold.
                raise AuthRefused(uris.ERR_NO_SUCH_DEVICE, "this device has been removed")
            return Welcome(
                Principal(role, device.device_id, device.user_id, device.device_id),
                "cryptosign",
                {"user_id": device.user_id, "device_id": device.device_id,
                 **({"pending": True} if device.pending else {})},
            )

        return Challenge("cryptosign", {"challenge": challenge.hex()}, verify, device.device_id)

    # --- scram: password login, the relay holding only a verifier -------------

    @defer.inlineCallbacks
    def _scram(self, authid: str | None, extra: dict[str, Any], peer: str) -> Any:
        if type(authid) is not str or not arguments.USER_ID.fullmatch(authid):
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT,
                              "scram needs authid: the account's user id (64 hex digits)")
        client_nonce = extra.get("nonce")
        if type(client_nonce) is not str or not 16 <= len(client_nonce) <= 128:
            raise AuthRefused(uris.ERR_INVALID_ARGUMENT, "scram needs authextra.nonce")
        account = yield self._storage.get_account(authid)
        if account is None:
            account = yield self._stand_in(authid)
        server_nonce = client_nonce + base64.b64encode(os.urandom(18)).decode("ascii")
        message = scram.auth_message(authid, client_nonce, server_nonce, account.scram_salt,
                                     account.scram_iterations)
        user_id = authid

        @defer.inlineCallbacks
        def verify(auth: Authenticate) -> Any:
            wait = self._throttle.refused_for(user_id, peer)
            if wait:
                raise AuthRefused(uris.ERR_RATE_LIMITED,
                                  "too many wrong passwords from this address; try again later",
                                  retry_after=round(wait, 3))
            # A stand-in's stored key is random: no proof matches it.
            right = scram.verify_proof(account.stored_key, message, auth.signature)
            delay = self._throttle.delay(user_id, guessed_wrong=not right)
            if right:
                self._throttle.succeeded(user_id, peer)
            else:
                self._throttle.failed(user_id, peer)
            if delay:
                yield task.deferLater(self._clock, delay, lambda: None)
            if not right:
                raise AuthRefused(uris.ERR_WRONG_PASSWORD, "wrong password")
            return Welcome(
                Principal(uris.ROLE_ACCOUNT, user_id, user_id),
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

    @defer.inlineCallbacks
    def _stand_in(self, user_id: str) -> Any:
        """What an unknown account's challenge is made of: a salt that is the same at
        every HELLO (HMAC of the user id under a relay secret), the default costs, and
        keys nobody holds."""
        if self._fake_salt_key is None:
            self._fake_salt_key = yield self._storage.relay_secret("scram-stand-in-salt")
        salt = hmac.new(self._fake_salt_key, user_id.encode("ascii"), hashlib.sha256).digest()
        return Account(
            user_id=user_id,
            identity_key="",
            scram_kdf=scram.KDF_ARGON2ID,
            scram_salt=base64.b64encode(salt[:16]).decode("ascii"),
            scram_iterations=max(scram.DEFAULT_ITERATIONS, self._config.min_scram_iterations),
            scram_memory=max(scram.DEFAULT_MEMORY_KIB, self._config.min_scram_memory),
            stored_key=os.urandom(32),
            server_key=os.urandom(32),
            recovery_blob=b"",
        )
