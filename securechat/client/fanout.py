"""One frame to every device: the Sesame pattern over Olm.

A frame for a user goes to each of their verified devices and, as a copy marked with
`to`, to each of my own other devices, every one through its own Olm session (started
from a claimed, signed prekey when there is none). The relay accepts the whole set or
names it stale (`device_mismatch`): the lists are then read again and it is tried anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client.context import ClientContext
from securechat.client.directory import DeviceDirectory
from securechat.client.errors import ClientError, IdentityKeyChangedError
from securechat.client.olm import ALG, CRYPTO_VERSION
from securechat.protocol import frames, uris

MAX_ATTEMPTS = 3  # device lists read again after a mismatch, at most this often


class Fanout:
    log = Logger()

    def __init__(self, ctx: ClientContext, directory: DeviceDirectory) -> None:
        self._ctx = ctx
        self._directory = directory
        # Devices that could not decrypt us: the next frame to each starts a fresh
        # session (see `restart_session`).
        self._restart: dict[tuple[str, str], None] = {}

    def restart_session(self, user_id: str, device_id: str) -> None:
        """Start a fresh Olm session with that device at the next frame sent to it."""
        self._restart[(user_id, device_id)] = None

    def deliver(self, recipient: str, frame: bytes, copy_to_own: bool,
                live: bool = False) -> Any:
        """As `deliver_answered`, firing with the session rows only."""
        return self.deliver_answered(recipient, frame, copy_to_own, live).addCallback(
            lambda result: result[0])

    @defer.inlineCallbacks
    def deliver_answered(self, recipient: str, frame: bytes, copy_to_own: bool,
                         live: bool = False) -> Any:
        """Encrypt an encoded frame (`Frame.encode()`) for every device of `recipient`
        (and copies for my other devices) and hand it to the relay, reading the device
        lists again if it names them stale. Fires once the relay took it with (the Olm
        session rows to persist, the relay's answer). Call under `ctx.outbound`. (The
        outbox pipelines `encrypt_for` and the relay's answers itself.) `live`: an
        ephemeral frame (call signaling, typing), pushed only to devices online now and
        never stored; the answer's `delivered` lists the devices that got it."""
        procedure = uris.MESSAGE_SEND_LIVE if live else uris.MESSAGE_SEND
        session = self._ctx.session
        if session is None:
            raise TransportLost()
        refresh = False
        for _attempt in range(MAX_ATTEMPTS):
            envelopes, sent_to = yield self.encrypt_for(recipient, frame, copy_to_own, refresh)
            try:
                answer = yield session.call(procedure, recipient, envelopes)
            except ApplicationError as e:
                if e.error != uris.ERR_DEVICE_MISMATCH:
                    raise
                self.log.info("device list changed for a recipient; refreshing")
                refresh = True
                continue
            return self.session_rows(sent_to), answer
        # A device without keys to start a session, say: this entry waits, others go on.
        raise ClientError("the recipient's devices cannot all be reached yet")

    def session_rows(self, sent_to: Sequence[tuple[str, str]]) -> list[Any]:
        """The Olm session rows to store after sending to these devices, taken now (so
        the database never goes back to an older ratchet than one it holds). A device
        forgotten meanwhile (its user's list re-read) has nothing left to keep."""
        olm = self._ctx.olm
        return [olm.pickle_sessions(*peer) for peer in dict.fromkeys(sent_to)
                if peer in olm.peers]

    @defer.inlineCallbacks
    def encrypt_for(self, recipient: str, frame: bytes, copy_to_own: bool,
                    refresh: bool = False) -> Any:
        """Deferred[(envelopes, [(user, device)] they go to)]: `frame` encrypted for every
        device of `recipient`, and copies for my other devices; `refresh` re-reads the
        lists. Call under `ctx.outbound`."""
        ctx, me = self._ctx, self._ctx.me
        if ctx.session is None:
            raise TransportLost()
        contact = ctx.contacts.get(recipient)
        if contact is not None and contact.changed_identity_key:
            raise IdentityKeyChangedError("the contact's key changed: accept it first")
        known = self._directory.devices
        # The lists known here are used as they are (no detour through a Deferred).
        peer_devices = None if refresh else known.get(recipient)
        if peer_devices is None:
            peer_devices = yield self._directory.devices_of(recipient, refresh)
        own_devices: dict[str, str] = {}
        if copy_to_own and recipient != me.user_id:
            own_devices = (None if refresh else known.get(me.user_id)) or \
                (yield self._directory.devices_of(me.user_id, refresh))
        targets = [(recipient, d, k) for d, k in peer_devices.items()]
        targets += [(me.user_id, d, k) for d, k in own_devices.items()]
        targets = [t for t in targets if t[1] != me.device_id]
        if any((user, device_id) in self._restart or
               not ctx.olm.has_session(user, device_id, identity_key)
               for user, device_id, identity_key in targets):
            yield self._ensure_sessions(targets)
        envelopes, sent_to = self._encrypt(recipient, frame, targets)
        if not envelopes:
            raise ClientError("none of the recipient's devices can be reached")
        return envelopes, sent_to

    def _encrypt(self, recipient: str, frame: bytes, targets: Sequence[tuple[str, str, str]],
                 ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        ctx, me = self._ctx, self._ctx.me
        olm = ctx.olm
        envelopes, sent_to = [], []
        for user, device_id, identity_key in targets:
            if not olm.has_session(user, device_id, identity_key):
                continue  # no key to start one: the relay will name it as missing
            binding = frames.Binding(me.user_id, me.device_id, olm.identity_key,
                                     user, device_id, identity_key)
            copy_to = recipient if user == me.user_id and recipient != user else None
            kind, body = olm.encrypt(user, device_id, identity_key,
                                     frames.bind(frame, binding, copy_to))
            envelopes.append({"device_id": device_id, "v": CRYPTO_VERSION, "alg": ALG,
                              "type": kind, "body": body})
            sent_to.append((user, device_id))
        return envelopes, sent_to

    @defer.inlineCallbacks
    def _ensure_sessions(self, targets: Sequence[tuple[str, str, str]]) -> Any:
        olm = self._ctx.olm
        by_user: dict[str, list[tuple[str, str]]] = {}
        for user, device_id, identity_key in targets:
            if ((user, device_id) in self._restart or
                    not olm.has_session(user, device_id, identity_key)):
                by_user.setdefault(user, []).append((device_id, identity_key))
        for user, missing in by_user.items():
            wanted = dict(missing)
            session = self._ctx.session
            if session is None:
                raise TransportLost()
            bundles = yield session.call(uris.PREKEYS_CLAIM, user, sorted(wanted))
            for bundle in bundles:
                key = bundle.get("one_time_key")
                device_id = bundle["device_id"]
                # Only keys of devices we verified, with the identity key we verified,
                # signed by that device.
                if (key and wanted.get(device_id) == bundle["identity_key"]
                        and self._directory.prekey_signed(user, device_id, key)):
                    olm.start_session(user, device_id, bundle["identity_key"], key["key"])
                    self._restart.pop((user, device_id), None)

