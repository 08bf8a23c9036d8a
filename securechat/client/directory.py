"""Who has which devices: verified device lists and pinned account keys.

A user's devices are what the relay lists, kept only where the device certificate
verifies under the user's account key — pinned the first time it is seen (trust on
first use) and compared at every fetch after. A changed key stops sending to that
contact until the user accepts it (`trust.accept_identity_key`). Changes to a list are
told by `devices.DeviceWatch`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.devices as device_set
import securechat.client.events as ev
import securechat.client.prekeys as prekeys
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError, IdentityKeyChangedError, WrongPassword
from securechat.client.scram_pinning import login_policy
from securechat.client.secrets import SecretStore
from securechat.client.wamp import JoinRefused, Password
from securechat.protocol import uris
from securechat.protocol.encoding import b64, unb64
from securechat.protocol.keys import device_certificate

DeviceList = dict[str, str]  # device id -> Curve25519 identity key


class DeviceDirectory:
    log = Logger()

    def __init__(self, ctx: ClientContext,
                 contact_updated: Callable[[str], defer.Deferred[Any]]) -> None:
        self._ctx = ctx
        self.identity_keys: dict[str, str] = {}  # user -> pinned account key (b64)
        self.devices: dict[str, DeviceList] = {}  # user -> verified devices
        self._signing_keys: dict[tuple[str, str], str] = {}  # (user, device) -> Ed25519 hex
        self._watch = device_set.DeviceWatch(ctx, contact_updated)

    @defer.inlineCallbacks
    def load(self) -> Any:
        ctx = self._ctx
        self.identity_keys = yield ctx.store.identity_keys()
        self.identity_keys[ctx.me.user_id] = b64(ctx.identity_public)
        for user_id, device_id, identity_key, signing_key in (yield ctx.store.known_devices()):
            self.devices.setdefault(user_id, {})[device_id] = identity_key
            self._signing_keys[(user_id, device_id)] = signing_key

    # --- reading lists ---------------------------------------------------------------

    def check_device(self, user_id: str, device_id: str) -> None:
        """A device came online: if its user's list is known here and lacks it, it is
        new (or a ghost the relay made up, which the fetched list will not verify)."""
        known = self.devices.get(user_id)
        if known is not None and device_id not in known:
            self.refresh(user_id)

    def refresh(self, user_id: str) -> defer.Deferred[None]:
        """Fetch and verify a user's device list again (DeviceWatch tells what changed);
        in line with sending, which uses the list. Never fails."""
        if self._ctx.session is None:
            return defer.succeed(None)

        def failed(f: Failure) -> None:
            if f.check(TransportLost, Disconnected, ApplicationError, ClientError):
                self.log.info("device list not refreshed: {e}", e=type(f.value).__name__)
            else:
                self.log.failure("refreshing a device list failed", f)
        return self._ctx.outbound.run(self.devices_of, user_id, True).addCallbacks(
            lambda _: None, failed)

    @defer.inlineCallbacks
    def devices_of(self, user_id: str, refresh: bool = False) -> Any:
        """Deferred[DeviceList]: the user's devices whose certificates verify under
        their pinned account key. Call it under `ctx.outbound`."""
        if not refresh and user_id in self.devices:
            return self.devices[user_id]
        key = yield self._account_key(user_id)
        session = self._ctx.session
        if session is None:  # went offline meanwhile
            raise TransportLost()
        listed = yield session.call(uris.DEVICE_LIST, user_id)
        verifier = Ed25519PublicKey.from_public_bytes(unb64(key))
        verified = []
        for d in listed:
            if not d.get("signature"):
                continue  # pending: not (yet) approved by a device of that account
            try:
                verifier.verify(unb64(d["signature"]), device_certificate(
                    user_id, d["device_id"], d["signing_key"], d["identity_key"]))
            except (InvalidSignature, ValueError, KeyError, TypeError):
                self.log.warn("ignoring a device whose certificate does not verify")
                continue
            verified.append((d["device_id"], d["identity_key"], d["signing_key"]))
        yield self._ctx.store.replace_devices(user_id, verified)
        current = {d: ik for d, ik, _ in verified}
        previous = self.devices.get(user_id)
        for device_id, _, signing_key in verified:
            self._signing_keys[(user_id, device_id)] = signing_key
        for device_id, identity_key in (previous or {}).items():
            if current.get(device_id) != identity_key:  # gone, or re-enrolled with a new key
                self._ctx.olm.forget(user_id, device_id)
        self.devices[user_id] = current
        yield self._watch.changed(user_id, previous, current)
        return current

    @defer.inlineCallbacks
    def sender_identity_key(self, sender: str, device_id: str) -> Any:
        """Deferred[str | None]: the verified key of a device that sent us something."""
        known = self.devices.get(sender, {}).get(device_id)
        if known is not None or self._ctx.session is None:
            return known
        try:
            devices = yield self.devices_of(sender, refresh=True)
        except (IdentityKeyChangedError, ApplicationError, TransportLost, Disconnected):
            return None
        return devices.get(device_id)

    def prekey_signed(self, user_id: str, device_id: str, key: dict[str, Any]) -> bool:
        if prekeys.verifies(self._signing_keys.get((user_id, device_id)), user_id, device_id,
                            key):
            return True
        self.log.warn("ignoring a prekey without a valid signature of its device")
        return False

    # --- account keys ----------------------------------------------------------------

    @defer.inlineCallbacks
    def _account_key(self, user_id: str) -> Any:
        ctx = self._ctx
        pinned = self.identity_keys.get(user_id)
        if user_id == ctx.me.user_id:
            return pinned
        current = yield self.fetch_identity_key(user_id)
        if pinned is not None and current != pinned:
            contact = ctx.contacts.get(user_id)
            if contact is not None and contact.changed_identity_key != current:
                yield ctx.store.set_changed_identity_key(user_id, current)
                yield ctx.reload_contacts()
                ctx.events.emit(ev.IdentityKeyChanged(user_id, contact.peer_email))
            elif contact is None:
                yield self._watch.request_key_changed(user_id)
            raise IdentityKeyChangedError("this contact's identity key changed")
        return current

    @defer.inlineCallbacks
    def fetch_identity_key(self, user_id: str) -> Any:
        """Deferred[str]: the account key the relay lists for `user_id`, pinned here if
        none was (trust on first use). Raises ApplicationError(no_such_account)."""
        session = self._ctx.session
        if session is None:
            raise TransportLost()
        public = yield session.call(uris.ACCOUNT_PUBLIC, user_id)
        key = public["identity_key"]
        if user_id not in self.identity_keys:
            yield self._ctx.store.pin_identity_key(user_id, key)  # trust on first use
            self.identity_keys[user_id] = key
        return key

    @defer.inlineCallbacks
    def accept_identity_key(self, user_id: str, key: str) -> Any:
        """The user accepted a contact's new account key: pin it, re-read their devices."""
        yield self._ctx.store.pin_identity_key(user_id, key)
        self.identity_keys[user_id] = key
        self.devices.pop(user_id, None)

    # --- my own devices ----------------------------------------------------------------

    @defer.inlineCallbacks
    def linked_devices(self) -> Any:
        """Deferred[list[LinkedDevice]]: my account's devices (name, added when, last
        seen; this one marked), those whose certificates verify under my account key.
        Offline: what this device knows, without times."""
        me = self._ctx.me
        session = self._ctx.session
        if session is None:
            known = self.devices.get(me.user_id) or {me.device_id: ""}
            return [device_set.LinkedDevice(d, d, None, None, d == me.device_id)
                    for d in sorted(known)]
        yield self._ctx.outbound.run(self.devices_of, me.user_id, True)
        listed = yield session.call(uris.DEVICE_LIST, me.user_id)
        return device_set.linked_devices(listed, self.devices.get(me.user_id, {}),
                                         me.device_id)

    @defer.inlineCallbacks
    def remove_device(self, device_id: str, password: str) -> Any:
        """Remove another device of my account: it is signed out, and nothing is encrypted
        to it any more. Needs the master password (checked here first: WrongPassword),
        which the relay checks again (a password session, not this device's)."""
        ctx = self._ctx
        if device_id == ctx.me.device_id:
            raise ClientError("this is the device you are using: remove it from another "
                              "device, or remove the account here")
        yield threads.deferToThread(SecretStore(ctx.account_dir, ctx.me.user_id, password).load)
        credentials = Password(ctx.me.user_id, password, (yield login_policy(ctx.store)))
        try:
            yield ctx.relay.call_once(
                credentials,
                {uris.ERR_NO_SUCH_DEVICE: ClientError("your account has no such device "
                                                      "(it was removed already?)")},
                uris.DEVICE_REMOVE, device_id)
        except JoinRefused as e:
            if e.reason == uris.ERR_WRONG_PASSWORD:
                raise WrongPassword("the relay did not accept this password") from None
            raise
        yield self.refresh(ctx.me.user_id)
