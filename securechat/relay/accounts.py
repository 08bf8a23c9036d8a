"""Account registration and recovery, device enrollment and removal."""

from __future__ import annotations

from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer
from twisted.logger import Logger

from securechat.protocol import scram, uris
from securechat.protocol.encoding import unb64
from securechat.protocol.keys import device_certificate
from securechat.relay import arguments
from securechat.relay.connections import address_key
from securechat.relay.context import Caller, RelayContext
from securechat.relay.emailcodes import EmailVerification
from securechat.relay.errors import invalid, refuse
from securechat.relay.presence import Presence
from securechat.relay.records import Account, Device
from securechat.relay.storage import AccountExists, DeviceExists, TooManyDevices

MAX_RECOVERY_BLOB = 16 * 1024


class Accounts:
    log = Logger()

    def __init__(self, ctx: RelayContext, email_verification: EmailVerification,
                 presence: Presence) -> None:
        self._ctx = ctx
        self._storage = ctx.storage
        self._directory = ctx.directory
        self._email_verification = email_verification
        self._presence = presence
        config = ctx.config
        self._registrations = ctx.buckets("register", config.register_rate,
                                          config.register_burst)

    def procedures(self) -> dict[str, Any]:
        return {
            uris.ACCOUNT_REGISTER: self.register,
            uris.ACCOUNT_RECOVERY: self.recovery,
            uris.ACCOUNT_PUBLIC: self.public,
            uris.DEVICE_ENROLL: self.enroll,
            uris.DEVICE_REMOVE: self.remove_device,
            uris.DEVICE_LIST: self.list_devices,
            uris.DEVICE_CERTIFY: self.certify,
        }

    @defer.inlineCallbacks
    def register(self, caller: Caller, user_id: Any, identity_key: Any, scram_verifier: Any,
                 recovery_blob: Any, email_code: Any = None) -> Any:
        """Create an account: its id, public identity key, SCRAM verifier, recovery blob;
        `email_code` is the code sc.account.verify_email mailed (unless the relay runs
        without email verification)."""
        config = self._ctx.config
        arguments.user_id("user_id", user_id)
        arguments.b64_bytes("identity_key", identity_key, 32)
        v = arguments.mapping("scram_verifier", scram_verifier)
        if v.get("kdf") != scram.KDF_ARGON2ID:
            invalid(f"scram_verifier.kdf must be {scram.KDF_ARGON2ID!r}")
        # Clients decode the salt exactly as sent (autobahn without fixing padding).
        arguments.b64_bytes("scram_verifier.salt", v.get("salt"), 16, padded=True)
        iterations = arguments.integer("scram_verifier.iterations", v.get("iterations"),
                                       scram.MIN_ITERATIONS, scram.MAX_ITERATIONS)
        memory = arguments.integer("scram_verifier.memory", v.get("memory"),
                                   scram.MIN_MEMORY_KIB, scram.MAX_MEMORY_KIB)
        if iterations < config.min_scram_iterations or memory < config.min_scram_memory:
            # A cheap verifier makes an offline attack on a stolen database cheap (L3).
            refuse(uris.ERR_WEAK_VERIFIER,
                   f"this relay needs Argon2id of at least {config.min_scram_iterations} "
                   f"passes and {config.min_scram_memory} KiB for the password verifier",
                   min_iterations=config.min_scram_iterations,
                   min_memory=config.min_scram_memory)
        account = Account(
            user_id=user_id,
            identity_key=identity_key,
            scram_kdf=scram.KDF_ARGON2ID,
            scram_salt=v["salt"],
            scram_iterations=iterations,
            scram_memory=memory,
            stored_key=arguments.b64_bytes("scram_verifier.stored_key", v.get("stored_key"), 32),
            server_key=arguments.b64_bytes("scram_verifier.server_key", v.get("server_key"), 32),
            recovery_blob=_as_bytes(arguments.blob("recovery_blob", recovery_blob,
                                                   MAX_RECOVERY_BLOB)),
        )
        # An IPv6 /64 is one address.
        wait = yield self._registrations.take(address_key(caller.peer))
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "too many registrations from this address",
                   retry_after=round(wait, 3))
        # Only whoever reads the email's mail gets this far when verification is on, so
        # "already exists" below tells nobody else anything.
        yield self._email_verification.spend(user_id, email_code)
        try:
            yield self._storage.create_account(account)
        except AccountExists:
            refuse(uris.ERR_ACCOUNT_EXISTS, "an account with this user id already exists")
        self.log.info("account registered from {peer}", peer=caller.peer)
        self._ctx.registered(caller.session_id)
        return {"user_id": user_id}

    @defer.inlineCallbacks
    def recovery(self, caller: Caller) -> Any:
        """The caller's account identity key (public) and its encrypted recovery blob."""
        account = yield self._directory.account(caller.principal.user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "the account no longer exists")
        return {"identity_key": account.identity_key, "recovery_blob": account.recovery_blob}

    @defer.inlineCallbacks
    def public(self, caller: Caller, user_id: Any) -> Any:
        """Any account's public identity key: what its device certificates are signed by."""
        arguments.user_id("user_id", user_id)
        account = yield self._directory.account(user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id")
        return {"user_id": user_id, "identity_key": account.identity_key}

    @defer.inlineCallbacks
    def enroll(self, caller: Caller, device_id: Any, signing_key: Any, identity_key: Any,
               signature: Any) -> Any:
        """Enroll a device whose keys the account identity key signed, or, with a null
        signature, a pending device that an existing device must approve (certify)."""
        user_id = caller.principal.user_id
        arguments.device_id("device_id", device_id)
        arguments.text("signing_key", signing_key, 64, arguments.HEX_KEY)
        arguments.b64_bytes("identity_key", identity_key, 32)
        raw_signature = None if signature is None else arguments.b64_bytes(
            "signature", signature, 64)
        account = yield self._directory.account(user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "the account no longer exists")
        if raw_signature is not None:
            _check_certificate(account, device_id, signing_key, identity_key, raw_signature)
        yield self.expire_pending()  # stale requests must not hold device slots
        device = Device(device_id, user_id, signing_key, identity_key, signature or "",
                        self._ctx.now_ms())
        try:
            yield self._storage.add_device(device, self._ctx.config.max_devices)
        except DeviceExists:
            refuse(uris.ERR_DEVICE_EXISTS, "a device with this id or key is already enrolled")
        except TooManyDevices:
            refuse(uris.ERR_TOO_MANY_DEVICES,
                   f"the account already has {self._ctx.config.max_devices} devices; "
                   "remove one first", max_devices=self._ctx.config.max_devices)
        finally:
            self._directory.forget_devices(user_id)
        self._presence.devices_changed(user_id)
        self.log.info("{kind} device enrolled for an account from {peer}",
                      kind="pending" if device.pending else "certified", peer=caller.peer)
        return device.public()

    @defer.inlineCallbacks
    def certify(self, caller: Caller, device_id: Any, signature: Any) -> Any:
        """An approved device of the account certifies a pending one: the signature must
        be the account identity key's over the pending device's enrolled keys."""
        user_id = caller.principal.user_id
        arguments.device_id("device_id", device_id)
        raw_signature = arguments.b64_bytes("signature", signature, 64)
        device = yield self._storage.get_device(device_id)
        if device is None or device.user_id != user_id:
            refuse(uris.ERR_NO_SUCH_DEVICE, "the account has no device with this id")
        if not device.pending:
            refuse(uris.ERR_DEVICE_EXISTS, "this device is already certified")
        account = yield self._directory.account(user_id)
        if account is None:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "the account no longer exists")
        _check_certificate(account, device_id, device.signing_key, device.identity_key,
                           raw_signature)
        try:
            certified = yield self._storage.certify_device(user_id, device_id, signature)
        finally:
            self._directory.forget_devices(user_id)
        if not certified:  # removed (or certified) while we checked
            refuse(uris.ERR_NO_SUCH_DEVICE, "the account has no pending device with this id")
        self.log.info("a pending device was certified by {authid}", authid=caller.principal.authid)
        return attrs.evolve(device, signature=signature).public()

    @defer.inlineCallbacks
    def expire_pending(self) -> Any:
        """Remove pending devices nobody approved in time (and end their sessions)."""
        cutoff = (self._ctx.clock.seconds() - self._ctx.config.pending_device_ttl) * 1000
        stale = yield self._storage.remove_pending_devices(int(cutoff))
        for device in stale:
            self._directory.forget_devices(device.user_id)
            self._ctx.kick_device(device.device_id, uris.CLOSE_DEVICE_REMOVED,
                                     "this device was not approved in time")
        if stale:
            self.log.info("removed {count} pending devices nobody approved", count=len(stale))
        return len(stale)

    @defer.inlineCallbacks
    def remove_device(self, caller: Caller, device_id: Any) -> Any:
        """Remove one of the caller's own devices (its prekeys and mailbox go too).

        A password (SCRAM) session may remove any device of its account; a device
        session only itself (L6): a stolen device must not evict its owner's others."""
        arguments.device_id("device_id", device_id)
        principal = caller.principal
        user_id = principal.user_id
        if principal.role == uris.ROLE_PENDING_DEVICE and device_id != principal.device_id:
            refuse(uris.ERR_DEVICE_PENDING, "a device waiting for approval may remove only itself")
        if principal.role == uris.ROLE_DEVICE and device_id != principal.device_id:
            refuse(uris.WAMP_NOT_AUTHORIZED,
                   "a device may remove only itself; removing another device needs the "
                   "account's password (sign in with SCRAM)")
        removed = yield self._storage.remove_device(user_id, device_id)
        self._directory.forget_devices(user_id)
        if not removed:
            refuse(uris.ERR_NO_SUCH_DEVICE, "the account has no device with this id")
        # Its live session and any handshake it has in progress (H6).
        self._ctx.kick_device(device_id, uris.CLOSE_DEVICE_REMOVED,
                                 "this device was removed from its account")
        self._presence.devices_changed(user_id, skip=device_id)
        return True

    @defer.inlineCallbacks
    def list_devices(self, caller: Caller, user_id: Any = None) -> Any:
        """A user's devices with their public keys (an account login, or a device waiting
        for approval, sees only its own). The caller's own devices also say when they were
        enrolled and last connected: nobody else learns that."""
        if user_id is None or caller.principal.role in (uris.ROLE_ACCOUNT,
                                                        uris.ROLE_PENDING_DEVICE):
            user_id = caller.principal.user_id
        arguments.user_id("user_id", user_id)
        devices = yield self._directory.devices(user_id)
        if user_id != caller.principal.user_id:
            return [d.public() for d in devices]
        seen = yield self._storage.last_seen(user_id)
        return [{**d.public(), "created": d.created, "last_seen": seen.get(d.device_id)}
                for d in devices]


def _check_certificate(account: Account, device_id: str, signing_key: str, identity_key: str,
                       signature: bytes) -> None:
    account_key = Ed25519PublicKey.from_public_bytes(unb64(account.identity_key))
    try:
        account_key.verify(signature, device_certificate(account.user_id, device_id,
                                                         signing_key, identity_key))
    except InvalidSignature:
        refuse(uris.ERR_BAD_SIGNATURE,
               "the device keys are not signed by the account identity key")


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")
