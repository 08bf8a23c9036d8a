"""Recovery blobs and master passwords: update, fetch by phrase holders, change, reset.

- `sc.account.recovery.update` (a device of the account): replace the recovery blob
  with one sealed under the recovery phrase (the only kind accepted).
- `sc.account.recovery.fetch` (anyone): an account's public identity key, its
  phrase-sealed recovery blob and the salt of its current SCRAM verifier. Safe to
  hand out because the blob is sealed under 128 bits of entropy; a blob still sealed
  under the password (an account not opened since) is never handed out this way.
- `sc.account.password.change` (a SCRAM session, i.e. the current password): install
  a new verifier.
- `sc.account.password.reset` (anyone): install a new verifier, signed by the account
  identity key (which only the phrase, via the blob, or one of the account's devices
  has), over the current salt and a recent timestamp.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer
from twisted.logger import Logger

from securechat.protocol import scram, uris
from securechat.protocol.recovery import (
    RESET_MAX_SKEW_MS,
    is_phrase_sealed,
    password_reset_message,
)
from securechat.relay import arguments
from securechat.relay.accounts import MAX_RECOVERY_BLOB
from securechat.relay.context import Caller, RelayContext
from securechat.relay.errors import invalid, refuse
from securechat.relay.limits import BucketsByKey

# Unauthenticated fetches and resets per peer address: enough for people who lost a
# password, too few to scrape blobs (which are useless without the phrase anyway).
ANONYMOUS_RATE = 0.2  # per second
ANONYMOUS_BURST = 10.0


def parse_verifier(value: Any) -> scram.ScramVerifier:
    """A `scram_verifier` argument, with the same bounds as at registration."""
    v = arguments.mapping("scram_verifier", value)
    if v.get("kdf") != scram.KDF_ARGON2ID:
        invalid(f"scram_verifier.kdf must be {scram.KDF_ARGON2ID!r}")
    arguments.b64_bytes("scram_verifier.salt", v.get("salt"), 16, padded=True)
    return scram.ScramVerifier(
        kdf=scram.KDF_ARGON2ID,
        salt=v["salt"],
        iterations=arguments.integer("scram_verifier.iterations", v.get("iterations"),
                                     scram.MIN_ITERATIONS, scram.MAX_ITERATIONS),
        memory=arguments.integer("scram_verifier.memory", v.get("memory"),
                                 scram.MIN_MEMORY_KIB, scram.MAX_MEMORY_KIB),
        stored_key=arguments.b64_bytes("scram_verifier.stored_key", v.get("stored_key"), 32),
        server_key=arguments.b64_bytes("scram_verifier.server_key", v.get("server_key"), 32),
    )


class Recovery:
    log = Logger()

    def __init__(self, ctx: RelayContext) -> None:
        self._ctx = ctx
        self._storage = ctx.storage
        self._directory = ctx.directory
        self._anonymous = BucketsByKey(ctx.clock, ANONYMOUS_RATE, ANONYMOUS_BURST)

    def procedures(self) -> dict[str, Any]:
        return {
            uris.ACCOUNT_RECOVERY_UPDATE: self.update,
            uris.ACCOUNT_RECOVERY_FETCH: self.fetch,
            uris.ACCOUNT_PASSWORD_CHANGE: self.change_password,
            uris.ACCOUNT_PASSWORD_RESET: self.reset_password,
        }

    @defer.inlineCallbacks
    def update(self, caller: Caller, recovery_blob: Any) -> Any:
        """Replace the caller's account's recovery blob with a phrase-sealed one."""
        user_id = caller.principal.user_id
        blob = arguments.blob("recovery_blob", recovery_blob, MAX_RECOVERY_BLOB)
        if not is_phrase_sealed(blob):
            invalid("recovery_blob must be sealed under the recovery phrase (binary, "
                    "starting with 'SCR2')")
        updated = yield self._storage.set_recovery_blob(user_id, blob)
        self._directory.forget_account(user_id)
        if not updated:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "the account no longer exists")
        self.log.info("recovery blob of an account updated from {peer}", peer=caller.peer)
        return True

    @defer.inlineCallbacks
    def fetch(self, caller: Caller, user_id: Any) -> Any:
        arguments.user_id("user_id", user_id)
        self._limit(caller)
        account = yield self._directory.account(user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id")
        if not is_phrase_sealed(account.recovery_blob):
            refuse(uris.ERR_RECOVERY_UNAVAILABLE,
                   "this account's recovery data is not yet sealed under its recovery "
                   "phrase: open the account with its password on one of its devices first")
        return {"identity_key": account.identity_key, "recovery_blob": account.recovery_blob,
                "scram_salt": account.scram_salt}

    @defer.inlineCallbacks
    def change_password(self, caller: Caller, scram_verifier: Any) -> Any:
        """The caller logged in with the current password (SCRAM): install a new one."""
        user_id = caller.principal.user_id
        verifier = parse_verifier(scram_verifier)
        account = yield self._storage.get_account(user_id)
        if account is not None and verifier.salt == account.scram_salt:
            # A reset is bound to the current salt: a new password always brings a new one.
            invalid("scram_verifier.salt must be new (not the current salt)")
        changed = yield self._storage.replace_verifier(user_id, verifier)
        self._directory.forget_account(user_id)
        if not changed:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "the account no longer exists")
        self.log.info("password of an account changed from {peer}", peer=caller.peer)
        return True

    @defer.inlineCallbacks
    def reset_password(self, caller: Caller, user_id: Any, scram_verifier: Any,
                       timestamp: Any, signature: Any) -> Any:
        """Install a new verifier signed by the account identity key."""
        arguments.user_id("user_id", user_id)
        verifier = parse_verifier(scram_verifier)
        arguments.integer("timestamp", timestamp, 0, 2**53)
        raw_signature = arguments.b64_bytes("signature", signature, 64)
        self._limit(caller)
        account = yield self._storage.get_account(user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id")
        message = password_reset_message(user_id, account.scram_salt, scram_verifier, timestamp)
        key = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(account.identity_key + "=" * (-len(account.identity_key) % 4)))
        try:
            key.verify(raw_signature, message)
        except InvalidSignature:
            # Also what a request made against an older verifier (a replay) gets.
            refuse(uris.ERR_BAD_SIGNATURE, "the reset is not signed by the account identity "
                   "key over its current password verifier")
        if abs(self._ctx.clock.seconds() * 1000 - timestamp) > RESET_MAX_SKEW_MS:
            refuse(uris.ERR_RESET_EXPIRED, "the reset request is too old (or the device's "
                   "clock is off): start again")
        if verifier.salt == account.scram_salt:
            # The signed current salt is what makes a request work once: it must change.
            invalid("scram_verifier.salt must be new (not the current salt)")
        replaced = yield self._storage.replace_verifier(user_id, verifier, account.scram_salt)
        self._directory.forget_account(user_id)
        if not replaced:
            refuse(uris.ERR_RESET_EXPIRED, "the password changed meanwhile: start again")
        self.log.info("password of an account reset from {peer}", peer=caller.peer)
        return True

    def _limit(self, caller: Caller) -> None:
        wait = self._anonymous.take(caller.peer)
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "too many recovery requests from this address",
                   retry_after=round(wait, 3))
