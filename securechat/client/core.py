"""The client core: one account on one device, driven by the reactor, no GUI inside.

`SecureChatClient.register` / `.login` / `.open` give a client for an account;
`start()` connects (in the background, reconnecting as needed) and everything
else is a method returning a Deferred or an event on `client.events`.

Every frame goes to every device of the peer and, as a copy marked with `to`,
to my own other devices, each through its own Olm session (the Sesame
pattern). The relay stores what it accepts until each device acks it; the
outbox keeps what the relay has not accepted yet, across crashes.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client import devices as device_set
from securechat.client import events as ev
from securechat.client import linking, prekeys, recovery, registration
from securechat.client import pin as pin_lock
from securechat.client.accountlock import AccountLock
from securechat.client.clock import message_timestamp, relay_timestamp
from securechat.client.connection import ConnectionMachine
from securechat.client.errors import AccountInUse, ClientError, NoSuchAccount
from securechat.client.keys import (
    AccountSecrets,
    WrongPassword,
    safety_number,
    safety_qr_payload,
    session_id,
)
from securechat.client.olm import ALG, CRYPTO_VERSION, DecryptionFailed, OlmMachine
from securechat.client.relay_url import relay_url_checked
from securechat.client.scram_pinning import (
    Floor,
    Pinned,
    ScramParameters,
    login_policy,
    pin_scram_parameters,
)
from securechat.client.secrets import SecretStore
from securechat.client.storage import (
    STATUS_DELIVERED,
    STATUS_PENDING,
    STATUS_READ,
    STATUS_SENT,
    AccountStore,
    Contact,
    DeviceNotice,
    Me,
    Request,
    StoredMessage,
    database_key,
)
from securechat.client.wamp import Anonymous, DeviceKey, JoinRefused, Password, connect, leave
from securechat.protocol import frames, scram, uris
from securechat.protocol.frames import Frame
from securechat.protocol.keys import (
    device_certificate,
    normalise_email,
    user_id_for_email,
)

PREKEY_LOW_WATER = 20
PREKEY_BATCH = 50
RECEIPT_DELAY = 0.05  # seconds delivery receipts wait to be sent together
MAX_RECEIPT_IDS = 500
RECENT_ENVELOPES = 4096
OUTBOX_WINDOW = 32  # outbox entries with the relay at once: half its calls-in-flight limit
MAX_ALIAS = 64
STOP_PATIENCE = 3.0  # seconds stop() waits on the relay before dropping the connection
UNWEDGE_INTERVAL = 600.0  # seconds between two fresh sessions for the same device


class IdentityKeyChangedError(ClientError):
    pass


class AccountExists(ClientError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _now_ms() -> int:
    return int(time.time() * 1000)


_id_counter = itertools.count()


def new_message_id(timestamp_ms: int) -> str:
    """Time-ordered ids (like UUIDv7): messages with equal timestamps still sort in the
    order this device created them, and ids never collide across devices."""
    return f"{timestamp_ms:012x}{next(_id_counter) % 65536:04x}{os.urandom(8).hex()}"


class KdfCost:
    """Argon2id costs for the password-derived keys (tests lower the memory)."""

    def __init__(self, memory_kib: int = scram.DEFAULT_MEMORY_KIB,
                 iterations: int = scram.DEFAULT_ITERATIONS) -> None:
        self.memory_kib = memory_kib
        self.iterations = iterations


@attrs.frozen
class ConversationSummary:
    last_message: StoredMessage | None
    unread: int


PIN_COST = KdfCost(memory_kib=131072, iterations=3)  # about half a second per PIN guess


class SecureChatClient:
    log = Logger()

    def __init__(self, reactor: Any, url: str, store: AccountStore, me: Me,
                 secrets: AccountSecrets | None, device_key: DeviceKey, olm: OlmMachine,
                 serializer: str = "msgpack", lock: AccountLock | None = None,
                 identity_public: bytes = b"", ca_file: str | None = None) -> None:
        self.reactor = reactor
        self._lock = lock  # held until stop()
        # The account's identity seed and mnemonic are here only when the account was
        # opened with the master password; a PIN unlocks only what this device needs.
        self._identity_public = secrets.identity_public if secrets else identity_public
        self.url = url
        self.store = store
        self.me = me
        self.events = ev.EventBus()
        self._secrets = secrets
        self._device_key = device_key
        self._olm = olm
        self._serializer = serializer
        self._ca_file = ca_file  # trusted for a wss:// relay instead of the system's CAs
        self.connection = ConnectionMachine(reactor, self._dial, self._online, self.events.emit)
        self.contacts: dict[str, Contact] = {}
        self.blocked: set[str] = set()
        self._identity_keys: dict[str, str] = {}  # pinned account keys
        self._devices: dict[str, dict[str, str]] = {}  # user -> device -> curve key
        self._signing_keys: dict[tuple[str, str], str] = {}  # (user, device) -> Ed25519 hex
        self._inbound = defer.DeferredLock()  # envelopes are handled one at a time, in order
        self._outbound = defer.DeferredLock()  # sends too: Olm ratchets are sequential
        self._acks: list[str] = []
        self._ack_call: Any = None
        self._flush_requested = False
        self._flush_waiters: list[defer.Deferred[None]] = []
        self._recent: set[str] = set()  # envelope ids handled by this process, newest last
        self._recent_order: collections.deque[str] = collections.deque()
        self._receipts: dict[str, list[str]] = {}  # peer -> delivered ids not yet receipted
        self._receipt_call: Any = None
        self._closed = False  # stop() closed the database
        # Devices that could not decrypt us or we them: a fresh session goes to each
        # with a DUMMY frame (at most once per UNWEDGE_INTERVAL per device).
        self._unwedge: dict[tuple[str, str], None] = {}
        self._unwedged_at: dict[tuple[str, str], float] = {}
        self._devices_checked: dict[str, float] = {}  # user -> when its devices were re-read
        self._topping_up = False  # a prekey top-up is under way
        self._recovery_sealed = False  # the relay's blob is checked to be under the phrase
        self.stop_patience = STOP_PATIENCE
        self._device_watch = device_set.DeviceWatch(self, new_message_id)
        self.approvals = linking.DeviceApprovals(
            reactor, me, lambda: self.connection.session, lambda: self._secrets, olm,
            device_key.public_hex, lambda: self._olm.identity_key, self.events.emit,
            lambda: self._devices_of(self.me.user_id, refresh=True))

    # === creating and opening accounts ============================================

    @classmethod
    def register(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                 name: str = "", cost: KdfCost | None = None,
                 serializer: str = "msgpack", email_code: str | None = None,
                 ca_file: str | None = None, insecure_ws: bool = False) -> defer.Deferred[Any]:
        """Create an account and this device. Fires with (client, mnemonic): show the
        mnemonic once; it is the master key. `email_code` is the code the relay mailed
        after `registration.request_email_code` (None for a relay that does not ask).
        `ca_file` (here and in `login`, `open`): a PEM certificate or CA that a wss://
        relay's certificate must chain to. A ws:// `url` off loopback needs `insecure_ws`
        (client.relay_url)."""
        return relay_url_checked(url, insecure_ws).addCallback(lambda _: _setting_up(
            data_dir, email, "this account already exists on this device",
            lambda: cls._register(reactor, data_dir, url, email, password, name,
                                  cost or KdfCost(), serializer, email_code, ca_file)))

    @classmethod
    @defer.inlineCallbacks
    def _register(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                  name: str, cost: KdfCost, serializer: str, email_code: str | None,
                  ca_file: str | None) -> Any:
        user_id = user_id_for_email(email)
        secrets = AccountSecrets.generate()
        verifier = yield threads.deferToThread(scram.make_verifier, password, cost.iterations,
                                               cost.memory_kib)
        blob = recovery.seal_blob(secrets, user_id)  # under the phrase, never the password
        yield _call_once(
            reactor, url, Anonymous(), serializer,
            {uris.ERR_ACCOUNT_EXISTS: AccountExists("an account with this email already exists"),
             **registration.REGISTER_ERRORS},
            uris.ACCOUNT_REGISTER, user_id, _b64(secrets.identity_public), {
                "kdf": verifier.kdf, "salt": verifier.salt, "iterations": verifier.iterations,
                "memory": verifier.memory, "stored_key": _b64(verifier.stored_key),
                "server_key": _b64(verifier.server_key)}, blob,
            *([] if email_code is None else [email_code]), ca_file=ca_file)
        try:
            client = yield cls._enroll(reactor, data_dir, url, email, password, secrets, cost,
                                       serializer, ScramParameters.of(verifier), name, ca_file)
        except ClientError as e:
            # The account exists now: without its phrase no device could ever get its key.
            raise recovery.CreatedNotSetUp(str(e), secrets.mnemonic) from None
        return client, secrets.mnemonic

    @classmethod
    def login(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
              cost: KdfCost | None = None, serializer: str = "msgpack",
              recovery_phrase: str | None = None, ca_file: str | None = None,
              floor: KdfCost | None = None, insecure_ws: bool = False) -> defer.Deferred[Any]:
        """Sign in on a new device with email, master password (which logs in to the relay)
        and the recovery phrase (which opens the account key); enrolls this device.
        A mistyped phrase raises InvalidRecoveryPhrase before any network use; a wrong
        password WrongPassword, a wrong phrase WrongRecoveryPhrase, no phrase
        RecoveryPhraseNeeded: each changes nothing, here or on the relay. The relay may not
        ask for password hashing cheaper than `floor` (the default costs; only tests lower
        it): LoginParametersRefused, before any proof is sent."""
        floor = floor or KdfCost()
        return relay_url_checked(url, insecure_ws).addCallback(lambda _: _setting_up(
            data_dir, email, "this account is already set up on this device: open it",
            lambda: cls._login(reactor, data_dir, url, email, password, cost or KdfCost(),
                               serializer, recovery_phrase, ca_file,
                               Floor(floor.iterations, floor.memory_kib))))

    @classmethod
    @defer.inlineCallbacks
    def _login(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
               cost: KdfCost, serializer: str, phrase: str | None,
               ca_file: str | None, floor: Floor) -> Any:
        user_id = user_id_for_email(email)
        if phrase is not None:
            phrase = recovery.check_phrase(phrase)
        try:
            session = yield connect(reactor, url, Password(user_id, password, floor), serializer,
                                    ca_file=ca_file)
        except JoinRefused as e:
            raise _password_refused(e) from None
        try:
            answer = yield session.call(uris.ACCOUNT_RECOVERY)
        finally:
            yield leave(session)
        if phrase is None:
            raise recovery.RecoveryPhraseNeeded(
                "signing in on a new device takes the account's 12-word recovery phrase too")
        secrets = yield recovery.secrets_from_relay(bytes(answer["recovery_blob"]), phrase,
                                                    password, user_id)
        # From here on this device accepts only what this login did (and proved right).
        client = yield cls._enroll(reactor, data_dir, url, email, password, secrets, cost,
                                   serializer, session.scram_parameters, ca_file=ca_file)
        return client

    @classmethod
    @defer.inlineCallbacks
    def _enroll(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                secrets: AccountSecrets, cost: KdfCost, serializer: str,
                scram_parameters: ScramParameters, name: str = "",
                ca_file: str | None = None) -> Any:
        user_id = user_id_for_email(email)
        credentials = Password(user_id, password, Pinned(scram_parameters))
        local_key = os.urandom(32)
        olm = OlmMachine.create(local_key)
        device_key = DeviceKey.generate(uuid.uuid4().hex[:16])
        certificate = device_certificate(user_id, device_key.device_id, device_key.public_hex,
                                         olm.identity_key)
        yield _call_once(
            reactor, url, credentials, serializer,
            {uris.ERR_TOO_MANY_DEVICES:
             ClientError("this account has too many devices: remove one first")},
            uris.DEVICE_ENROLL, device_key.device_id, device_key.public_hex, olm.identity_key,
            _b64(secrets.identity.sign(certificate)), ca_file=ca_file)
        client = yield cls._set_up_device(reactor, data_dir, url, email, password, secrets,
                                          cost, serializer, name, local_key, olm, device_key,
                                          ca_file, scram_parameters)
        return client

    @classmethod
    @defer.inlineCallbacks
    def _set_up_device(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                       secrets: AccountSecrets, cost: KdfCost, serializer: str, name: str,
                       local_key: bytes, olm: OlmMachine, device_key: DeviceKey,
                       ca_file: str | None = None,
                       scram_parameters: ScramParameters | None = None) -> Any:
        """The local account of a device the relay has enrolled: database, sealed keys, and
        the SCRAM parameters its login proved (pinned: client.scram_pinning), if known."""
        user_id = user_id_for_email(email)
        credentials = Password(user_id, password, Pinned(scram_parameters)
                               if scram_parameters is not None else Floor())
        account_dir = os.path.join(data_dir, user_id)
        os.makedirs(account_dir, mode=0o700, exist_ok=True)
        lock = _lock_account(account_dir)
        store = AccountStore(os.path.join(account_dir, "account.sqlite"), reactor,
                             database_key(local_key))
        try:
            yield store.start()
            yield store.set_me(normalise_email(email), user_id, device_key.device_id)
            if scram_parameters is not None:
                yield pin_scram_parameters(store, scram_parameters)
            if name:
                yield store.run(lambda c: c.execute("UPDATE me SET public_name=?", (name,)))
            yield store.save_olm_account(olm.pickle_account())
            keys = {"local_key": local_key.hex(), "device_seed": device_key.seed.hex(),
                    "identity_seed": secrets.identity_seed.hex(), "mnemonic": secrets.mnemonic}
            yield threads.deferToThread(
                SecretStore(account_dir, user_id, password, cost.memory_kib).save, keys)
            recovery.save_local_copy(account_dir, user_id, keys)
            me = yield store.me()
            client = cls(reactor, url, store, me, secrets, device_key, olm, serializer, lock,
                         ca_file=ca_file)
            yield client._load()
        except BaseException:
            # Nothing half-made stays behind: not the local account (it could be neither
            # opened nor set up again) nor, if the relay lets us, the enrolled device.
            yield store.stop()
            lock.release()
            shutil.rmtree(account_dir, ignore_errors=True)
            yield _call_once(reactor, url, credentials, serializer, {},
                             uris.DEVICE_REMOVE, device_key.device_id,
                             ca_file=ca_file).addErrback(
                lambda f: cls.log.info("could not withdraw the half-enrolled device: {e}",
                                       e=type(f.value).__name__))
            raise
        return client

    @classmethod
    @defer.inlineCallbacks
    def link(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             cost: KdfCost | None = None, serializer: str = "msgpack",
             ca_file: str | None = None, floor: KdfCost | None = None,
             insecure_ws: bool = False) -> Any:
        """Sign in on a new device by approval on an existing device of the account.

        Enrolls this device pending (the password alone gives no account key) and asks
        the account's devices for approval. Fires with a linking.NewDeviceLink once the
        request is out: show `wait_code()`'s code, then `confirm()` or `cancel()`;
        `wait_result()` fires with the client once the key arrived. `floor`, `insecure_ws`:
        as for `login`."""
        yield relay_url_checked(url, insecure_ws)
        floor = floor or KdfCost()
        account_dir = os.path.abspath(os.path.join(data_dir, user_id_for_email(email)))
        if os.path.exists(account_dir) or account_dir in _SETTING_UP:
            raise ClientError("this account is already set up on this device: open it")
        _SETTING_UP.add(account_dir)
        try:
            link = yield cls._link(reactor, data_dir, url, email, password, cost or KdfCost(),
                                   serializer, ca_file, Floor(floor.iterations, floor.memory_kib))
        except BaseException:
            _SETTING_UP.discard(account_dir)
            raise
        link.wait_result().addBoth(lambda _: _SETTING_UP.discard(account_dir))
        return link

    @classmethod
    @defer.inlineCallbacks
    def _link(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
              cost: KdfCost, serializer: str, ca_file: str | None, floor: Floor) -> Any:
        user_id = user_id_for_email(email)
        local_key = os.urandom(32)
        olm = OlmMachine.create(local_key)
        device_key = DeviceKey.generate(uuid.uuid4().hex[:16])
        try:
            yield _call_once(
                reactor, url, Password(user_id, password, floor), serializer,
                {uris.ERR_TOO_MANY_DEVICES:
                 ClientError("this account has too many devices: remove one first")},
                uris.DEVICE_ENROLL, device_key.device_id, device_key.public_hex,
                olm.identity_key, None, ca_file=ca_file)
        except JoinRefused as e:
            raise _password_refused(e) from None
        link = linking.NewDeviceLink(
            reactor, url, user_id, device_key, olm, serializer,
            lambda secrets: cls._set_up_device(reactor, data_dir, url, email, password,
                                               secrets, cost, serializer, "", local_key, olm,
                                               device_key, ca_file), ca_file=ca_file)
        try:
            yield link.start()
        except BaseException:
            link.cancel()  # withdraws the pending device
            yield link.wait_result().addErrback(lambda _: None)
            raise
        return link

    @classmethod
    def open(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             serializer: str = "msgpack", ca_file: str | None = None,
             insecure_ws: bool = False) -> defer.Deferred[Any]:
        """Open an account already on this device, without the network (phase 1).
        Call `start()` to connect in the background (phase 2)."""
        user_id = user_id_for_email(email)
        return relay_url_checked(url, insecure_ws).addCallback(lambda _: cls._open(
            reactor, data_dir, url, email, serializer,
            lambda account_dir: threads.deferToThread(
                SecretStore(account_dir, user_id, password).load), ca_file))

    @classmethod
    def open_with_pin(cls, reactor: Any, data_dir: str, url: str, email: str, pin: str,
                      serializer: str = "msgpack",
                      ca_file: str | None = None,
                      insecure_ws: bool = False) -> defer.Deferred[Any]:
        """`open` with the account's quick-unlock PIN (see `set_pin`). Raises WrongPin
        with the tries left, or PinLocked once too many were wrong."""
        return relay_url_checked(url, insecure_ws).addCallback(lambda _: cls._open(
            reactor, data_dir, url, email, serializer,
            lambda account_dir: threads.deferToThread(pin_lock.unlock, account_dir, pin),
            ca_file))

    @staticmethod
    def has_pin(data_dir: str, email: str) -> bool:
        return pin_lock.has_pin(os.path.join(data_dir, user_id_for_email(email)))

    @staticmethod
    def pin_keychain_bound() -> bool:
        """Whether a PIN set now is bound to the OS keychain (else a copy of the account
        directory is enough to guess it offline)."""
        return pin_lock.keychain_bound()

    @classmethod
    @defer.inlineCallbacks
    def _open(cls, reactor: Any, data_dir: str, url: str, email: str, serializer: str,
              keys_for: Callable[[str], defer.Deferred[dict[str, str]]],
              ca_file: str | None = None) -> Any:
        """Open with the device keys `keys_for(account_dir)` unseals (with the password,
        or with the PIN: then without the account's identity seed and mnemonic)."""
        user_id = user_id_for_email(email)
        account_dir = os.path.join(data_dir, user_id)
        if not os.path.isdir(account_dir):
            raise ClientError("this account is not set up on this device")
        lock = _lock_account(account_dir)
        try:
            keys = yield keys_for(account_dir)
            client = yield cls._open_locked(reactor, account_dir, url, keys, serializer, lock,
                                            ca_file)
        except BaseException:
            lock.release()  # a wrong password, say: the account is free again
            raise
        return client

    @classmethod
    @defer.inlineCallbacks
    def _open_locked(cls, reactor: Any, account_dir: str, url: str, keys: dict[str, str],
                     serializer: str, lock: AccountLock, ca_file: str | None = None) -> Any:
        local_key = bytes.fromhex(keys["local_key"])
        store = AccountStore(os.path.join(account_dir, "account.sqlite"), reactor,
                             database_key(local_key))
        yield store.start()
        try:
            me = yield store.me()
            olm = OlmMachine.restore((yield store.olm_account()), (yield store.olm_sessions()),
                                     local_key)
            secrets = (AccountSecrets(bytes.fromhex(keys["identity_seed"]), keys["mnemonic"])
                       if "identity_seed" in keys else None)
            recovery.keep_local_copy(account_dir, me.user_id, keys)
            client = cls(reactor, url, store, me, secrets,
                         DeviceKey(me.device_id, bytes.fromhex(keys["device_seed"])), olm,
                         serializer, lock, bytes.fromhex(keys.get("identity_public", "")),
                         ca_file=ca_file)
            yield client._load()
        except BaseException:
            yield store.stop()
            raise
        return client

    @defer.inlineCallbacks
    def _load(self) -> Any:
        self.contacts = {c.peer_user_id: c for c in (yield self.store.contacts())}
        self.blocked = yield self.store.blocked()
        self._identity_keys = yield self.store.identity_keys()
        self._identity_keys[self.me.user_id] = _b64(self._identity_public)
        for user_id, device_id, identity_key, signing_key in (yield self.store.known_devices()):
            self._devices.setdefault(user_id, {})[device_id] = identity_key
            self._signing_keys[(user_id, device_id)] = signing_key

    # === lifecycle ====================================================================

    def start(self) -> None:
        """Connect in the background; reconnects with backoff until `stop()`."""
        self.connection.start()

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Finish what is in hand, ack what was stored, disconnect, close the database
        and free the account. A relay that stops answering cannot hold this up for more
        than a few seconds: the connection is then dropped without a goodbye."""
        try:
            # What was stored need not come again: ack it, if the relay answers in time.
            yield self._within(self._inbound_settled())
            yield self._within(self._flush_acks())
            self.approvals.stop()
            session = self.connection.session
            self.connection.stop()
            if session is not None and not (yield self._within(session.disconnected)):
                session.abort()
                yield session.disconnected
            # Offline now: whatever still waits on the relay fails at once.
            yield self._inbound_settled()
            yield self._outbound.run(_nothing)
            if self._ack_call is not None and self._ack_call.active():
                self._ack_call.cancel()  # unacked envelopes come again and are skipped
            if self._receipt_call is not None and self._receipt_call.active():
                self._receipt_call.cancel()
                yield self._send_receipts()  # into the outbox: sent at the next start
                yield self._outbound.run(_nothing)
        finally:
            self._closed = True
            yield self.store.stop()
            if self._lock is not None:
                self._lock.release()

    def _within(self, d: defer.Deferred[Any]) -> defer.Deferred[bool]:
        """Fires True when `d` fires within `stop_patience` seconds, else False (`d` is
        left alone)."""
        result: defer.Deferred[bool] = defer.Deferred()
        timer = self.reactor.callLater(self.stop_patience,
                                       lambda: result.called or result.callback(False))

        def fired(outcome: Any) -> Any:
            if timer.active():
                timer.cancel()
            if not result.called:
                result.callback(True)
            return outcome
        d.addBoth(fired)
        return result

    # === quick unlock =================================================================

    @defer.inlineCallbacks
    def set_pin(self, password: str, pin: str, cost: KdfCost | None = None) -> Any:
        """Let `pin` unlock this account on this device instead of the master password,
        which must be given (and is checked) to set it. The PIN seals only this device's
        keys, never the password or the account's identity key (see client.pin)."""
        pin_lock.check_format(pin)
        account_dir = self.account_dir
        stored = yield threads.deferToThread(
            SecretStore(account_dir, self.me.user_id, password).load)
        device_keys = {"local_key": stored["local_key"], "device_seed": stored["device_seed"],
                       "identity_public": self._identity_public.hex()}
        cost = cost or PIN_COST
        yield threads.deferToThread(pin_lock.set_pin, account_dir, pin, device_keys,
                                    cost.iterations, cost.memory_kib)

    def remove_pin(self) -> defer.Deferred[None]:
        return threads.deferToThread(pin_lock.remove_pin, self.account_dir)

    # === master password =======================================================

    @defer.inlineCallbacks
    def change_password(self, old: str, new: str, cost: KdfCost | None = None) -> Any:
        """Change the master password: checked here (WrongPassword), then the relay takes a
        new verifier (from a login with the old one), then this device's keys are sealed
        under the new one. The PIN stays valid; other devices keep their own password."""
        cost = cost or KdfCost()
        parameters = yield recovery.change_password(
            self.reactor, self.url, self._serializer, self.account_dir, self.me.user_id, old,
            new, cost.iterations, cost.memory_kib, (yield login_policy(self.store)),
            self._ca_file)
        yield pin_scram_parameters(self.store, parameters)

    @staticmethod
    def reset_password(reactor: Any, data_dir: str, url: str, email: str, recovery_phrase: str,
                       new_password: str, cost: KdfCost | None = None,
                       serializer: str = "msgpack",
                       ca_file: str | None = None) -> defer.Deferred[bool | None]:
        """Forgot password: the recovery phrase sets a new one on the relay and, if this
        device has the account (closed), seals its keys under it. Fires True (this device's
        account re-sealed), False (it could not be: sign in again here) or None (this device
        has no copy of the account). See client.recovery."""
        cost = cost or KdfCost()
        return recovery.reset_password(reactor, data_dir, url, email, recovery_phrase,
                                       new_password, cost.iterations, cost.memory_kib,
                                       serializer, ca_file)

    @defer.inlineCallbacks
    def password_credentials(self, password: str) -> Any:
        """Deferred[Password]: credentials for a SCRAM login to this account from this
        device, accepting only the parameters pinned here (client.scram_pinning). Every
        password login of an open client (a password change, removing a device) uses
        these, never a bare `Password`."""
        return Password(self.me.user_id, password, (yield login_policy(self.store)))

    @property
    def account_dir(self) -> str:
        assert self._lock is not None
        return self._lock.account_dir

    def reconnect_now(self) -> None:
        """While offline and waiting to retry: try again at once (a user's "Retry")."""
        self.connection.retry_now()

    @property
    def online(self) -> bool:
        return self.connection.session is not None

    def _dial(self) -> defer.Deferred[Any]:
        return connect(self.reactor, self.url, self._device_key, self._serializer,
                       ca_file=self._ca_file)

    @defer.inlineCallbacks
    def _online(self, session: Any) -> Any:
        try:
            yield session.subscribe(self._envelope_arrived, uris.inbox_topic(self.me.device_id))
            yield session.subscribe(self._presence_event, uris.presence_topic(self.me.device_id))
            yield self._declare_contacts()
            # Devices added or removed while this one was away are told now.
            yield self._refresh_devices(self.me.user_id)
            yield self._top_up_prekeys(session)
            if self._secrets is not None and not self._recovery_sealed:
                self._recovery_sealed = yield recovery.keep_relay_blob_sealed(
                    session, self._secrets, self.me.user_id)
            while True:
                page = yield session.call(uris.MAILBOX_FETCH)
                for envelope in page["envelopes"]:
                    yield self._inbound.run(self._receive, envelope)
                yield self._inbound_settled()
                yield self._flush_acks()  # before the next page, or it would be this one
                if not page["more"]:
                    break
            yield self.flush_outbox()
            self.events.emit(ev.CaughtUp())
        except (TransportLost, Disconnected, ApplicationError) as e:
            self.log.info("connection lost while catching up: {error}", error=type(e).__name__)

    @defer.inlineCallbacks
    def _declare_contacts(self) -> Any:
        session = self.connection.session
        if session is None:
            return
        listing = yield session.call(uris.PRESENCE_DECLARE, sorted(self.contacts))
        for entry in listing:
            for device_id in entry["devices"]:
                self.events.emit(ev.PresenceChanged(entry["user_id"], device_id, True))
                self._check_device(entry["user_id"], device_id)

    @defer.inlineCallbacks
    def _top_up_prekeys(self, session: Any, rotate_fallback: bool = False) -> Any:
        """Publish one-time keys when few are left, each signed by this device, with a
        new fallback key; `rotate_fallback` replaces the fallback key in any case (a
        session was just made: perhaps with it)."""
        if self._topping_up:
            return  # one top-up at a time: a second would publish the same keys again
        self._topping_up = True
        try:
            yield self._publish_prekeys(session, rotate_fallback)
        finally:
            self._topping_up = False

    @defer.inlineCallbacks
    def _publish_prekeys(self, session: Any, rotate_fallback: bool) -> Any:
        count = yield session.call(uris.PREKEYS_COUNT)
        if count >= PREKEY_LOW_WATER and not rotate_fallback:
            return
        keys = self._olm.new_one_time_keys(max(0, PREKEY_BATCH - count)
                                           if count < PREKEY_LOW_WATER else 0)
        yield session.call(uris.PREKEYS_PUBLISH, *prekeys.signed(
            self._device_key, self.me.user_id, keys, self._olm.new_fallback_key()))
        self._olm.mark_published()
        yield self.store.save_olm_account(self._olm.pickle_account())


    def _presence_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == uris.DEVICES_CHANGED:
            # A hint only: the list fetched (and verified) now says what changed.
            self._refresh_devices(self.me.user_id)
            return
        if event.get("event") == uris.PREKEYS_LOW:
            self._refill_prekeys(rotate_fallback=False)
            return
        online = event.get("event") == uris.PEER_ONLINE
        self.events.emit(ev.PresenceChanged(event.get("user_id", ""), event.get("device_id", ""),
                                            online))
        if online:
            self._check_device(event.get("user_id", ""), event.get("device_id", ""))
            self.flush_outbox()

    # === the device set ===================================================================

    def _check_device(self, user_id: str, device_id: str) -> None:
        """A device came online: if its user's list is known here and lacks it, it is
        new (or a ghost the relay made up, which the fetched list will not verify)."""
        known = self._devices.get(user_id)
        if known is not None and device_id not in known:
            self._refresh_devices(user_id)

    def _refresh_devices(self, user_id: str) -> defer.Deferred[None]:
        """Fetch and verify a user's device list again (DeviceWatch tells what changed);
        in line with sending, which uses the list. Never fails."""
        if self.connection.session is None:
            return defer.succeed(None)

        def failed(f: Failure) -> None:
            if f.check(TransportLost, Disconnected, ApplicationError, ClientError):
                self.log.info("device list not refreshed: {e}", e=type(f.value).__name__)
            else:
                self.log.failure("refreshing a device list failed", f)
        return self._outbound.run(self._devices_of, user_id, True).addCallbacks(
            lambda _: None, failed)

    @defer.inlineCallbacks
    def linked_devices(self) -> Any:
        """My account's devices (name, added when, last seen; this one marked), those
        whose certificates verify under my account key. Offline: what this device knows,
        without times."""
        session = self.connection.session
        if session is None:
            known = self._devices.get(self.me.user_id) or {self.me.device_id: ""}
            return [device_set.LinkedDevice(d, d, None, None, d == self.me.device_id)
                    for d in sorted(known)]
        yield self._outbound.run(self._devices_of, self.me.user_id, True)
        listed = yield session.call(uris.DEVICE_LIST, self.me.user_id)
        return device_set.linked_devices(listed, self._devices.get(self.me.user_id, {}),
                                         self.me.device_id)

    @defer.inlineCallbacks
    def remove_device(self, device_id: str, password: str) -> Any:
        """Remove another device of my account: it is signed out, and nothing is encrypted
        to it any more. Needs the master password (checked here first: WrongPassword),
        which the relay checks again (a password session, not this device's)."""
        if device_id == self.me.device_id:
            raise ClientError("this is the device you are using: remove it from another "
                              "device, or remove the account here")
        yield threads.deferToThread(
            SecretStore(self.account_dir, self.me.user_id, password).load)
        try:
            yield _call_once(
                self.reactor, self.url, (yield self.password_credentials(password)),
                self._serializer,
                {uris.ERR_NO_SUCH_DEVICE: ClientError("your account has no such device "
                                                      "(it was removed already?)")},
                uris.DEVICE_REMOVE, device_id, ca_file=self._ca_file)
        except JoinRefused as e:
            if e.reason == uris.ERR_WRONG_PASSWORD:
                raise WrongPassword("the relay did not accept this password") from None
            raise
        yield self._refresh_devices(self.me.user_id)

    def device_notices(self) -> defer.Deferred[list[DeviceNotice]]:
        """Devices added to my account that I have not acknowledged (oldest first)."""
        return self.store.device_notices()

    def dismiss_device_notice(self, device_id: str) -> defer.Deferred[bool]:
        """"It was me": the notice of this new device goes."""
        return self.store.drop_device_notice(device_id)

    # === friends ========================================================================

    @defer.inlineCallbacks
    def add_friend(self, email: str) -> Any:
        """Send a FRIEND_REQUEST (the first Olm pre-key message to each of their devices)."""
        email = normalise_email(email)
        peer = user_id_for_email(email)
        if peer == self.me.user_id:
            raise ClientError("you cannot add yourself")
        if peer in self.contacts:
            raise ClientError("already a contact")
        if self.connection.session is not None:  # offline, the request waits in the outbox
            try:
                yield self._fetch_identity_key(peer)
            except ApplicationError as e:
                if e.error == uris.ERR_NO_SUCH_ACCOUNT:
                    raise NoSuchAccount("there is no account with this email") from None
                raise
        request = Request(peer, email, "", "out", "pending", _now_ms())
        yield self.store.set_request(request)
        yield self._queue(peer, Frame(frames.FRIEND_REQUEST, session_id(email, self.me.email),
                                      {"email": self.me.email, "name": self.me.public_name,
                                       "to_email": email}))
        return request

    @defer.inlineCallbacks
    def accept_friend(self, peer_user_id: str) -> Any:
        request = yield self._pending_request(peer_user_id, "in")
        yield self._become_contacts(request.user_id, request.email, request.name)
        yield self.store.set_request(Request(request.user_id, request.email, request.name, "in",
                                             "accepted", _now_ms()))
        yield self._queue(peer_user_id, Frame(
            frames.FRIEND_ACCEPT, session_id(request.email, self.me.email),
            {"email": self.me.email, "name": self.me.public_name, "to_email": request.email}))
        return self.contacts[peer_user_id]

    @defer.inlineCallbacks
    def deny_friend(self, peer_user_id: str) -> Any:
        request = yield self._pending_request(peer_user_id, "in")
        yield self.store.set_request(Request(request.user_id, request.email, request.name, "in",
                                             "denied", _now_ms()))
        yield self._queue(peer_user_id, Frame(
            frames.FRIEND_DENY, session_id(request.email, self.me.email),
            {"email": self.me.email, "to_email": request.email}))

    @defer.inlineCallbacks
    def _pending_request(self, peer_user_id: str, direction: str) -> Any:
        for request in (yield self.store.requests()):
            if (request.user_id == peer_user_id and request.direction == direction
                    and request.action == "pending"):
                return request
        raise ClientError("there is no pending friend request from this user")

    def requests(self) -> defer.Deferred[list[Request]]:
        return self.store.requests()

    @defer.inlineCallbacks
    def _become_contacts(self, peer: str, email: str, name: str) -> Any:
        key = self._identity_keys.get(peer)
        if key is None:
            key = yield self._fetch_identity_key(peer)
        sid = session_id(email, self.me.email)
        yield self.store.add_contact(sid, peer, email, name, key, _now_ms())
        # A friendship answers whatever request there was, before anyone is told of it
        # (a requests list refreshed on ContactAdded must not still show it pending).
        for direction in ("in", "out"):
            yield self._answer_request(peer, direction, "accepted")
        self.contacts = {c.peer_user_id: c for c in (yield self.store.contacts())}
        self.events.emit(ev.ContactAdded(peer, sid))
        yield self._declare_contacts().addErrback(lambda _: None)
        for held in (yield self.store.take_held(peer)):
            outcome = self._interpret(frames.parse(held), peer)
            yield outcome.apply()
            if outcome.message is not None and not (yield self.store.add_message(
                    outcome.message)):
                continue  # a copy of a message stored already: shown once
            yield outcome.notify()

    @defer.inlineCallbacks
    def block(self, peer_user_id: str, blocked: bool = True) -> Any:
        """Blocked users' envelopes are dropped unread; nothing is sent to them."""
        contact = self.contacts.get(peer_user_id)
        email = contact.peer_email if contact else ""
        yield self.store.set_blocked(peer_user_id, email, blocked, _now_ms())
        self.blocked = yield self.store.blocked()

    # === trust ==========================================================================

    def approve_device(self, device_id: str) -> linking.Approval:
        """Start comparing codes with a new device of this account that asked for approval
        (DeviceApprovalRequested). The returned Approval gives the code (`wait_code()`,
        also the ApprovalCode event); then `confirm()` if both screens show the same
        code, `reject()` if not (the device is removed)."""
        return self.approvals.approve(device_id)

    def reject_device(self, device_id: str) -> None:
        """Refuse a new device that asked for approval: it is removed from the account."""
        approval = self.approvals.requests.get(device_id)
        if approval is None:
            raise ClientError("no device of this account is waiting for approval with this id")
        approval.reject()

    def safety_number(self, peer_user_id: str) -> str:
        contact = self.contacts[peer_user_id]
        return safety_number(self._identity_public, self.me.user_id,
                             _unb64(contact.peer_identity_key), peer_user_id)

    def safety_qr(self, peer_user_id: str) -> bytes:
        contact = self.contacts[peer_user_id]
        return safety_qr_payload(self._identity_public, self.me.user_id,
                                 _unb64(contact.peer_identity_key), peer_user_id)

    @defer.inlineCallbacks
    def accept_identity_key(self, peer_user_id: str) -> Any:
        """The user has seen the key-change warning and accepts the contact's new key."""
        contact = self.contacts.get(peer_user_id)
        if contact is None or contact.changed_identity_key is None:
            raise ClientError("no changed key to accept for this contact")
        yield self.store.accept_identity_key(peer_user_id)
        yield self.store.pin_identity_key(peer_user_id, contact.changed_identity_key)
        self._identity_keys[peer_user_id] = contact.changed_identity_key
        self._devices.pop(peer_user_id, None)
        yield self._contact_updated(peer_user_id)
        yield self.flush_outbox()

    @defer.inlineCallbacks
    def set_verified(self, peer_user_id: str, verified: bool = True) -> Any:
        """The user compared safety numbers (in person, or by scanning the QR code)."""
        if peer_user_id not in self.contacts:
            raise ClientError("not a contact")
        if verified and self.contacts[peer_user_id].changed_identity_key:
            raise ClientError("accept the contact's new key before verifying it")
        yield self.store.set_verified(peer_user_id, verified)
        yield self._contact_updated(peer_user_id)

    @defer.inlineCallbacks
    def set_alias(self, peer_user_id: str, alias: str | None) -> Any:
        """A name for the contact that only I see (None or blank: their own name)."""
        if peer_user_id not in self.contacts:
            raise ClientError("not a contact")
        alias = (alias or "").strip() or None
        if alias is not None and len(alias) > MAX_ALIAS:
            raise ClientError(f"a nickname can have at most {MAX_ALIAS} characters")
        yield self.store.set_alias(peer_user_id, alias, _now_ms())
        yield self._contact_updated(peer_user_id)

    @defer.inlineCallbacks
    def _contact_updated(self, peer_user_id: str) -> Any:
        self.contacts = {c.peer_user_id: c for c in (yield self.store.contacts())}
        self.events.emit(ev.ContactUpdated(peer_user_id))

    # === messages =========================================================================

    @defer.inlineCallbacks
    def send_text(self, peer_user_id: str, text: str, reply_to: str | None = None) -> Any:
        """Store the message at once (optimistic, status pending) and send it."""
        contact = self._contact(peer_user_id)
        if not text.strip():
            raise ClientError("the message is empty")
        if len(text) > frames.MAX_TEXT:
            raise ClientError("the message is too long")
        now = _now_ms()
        message = StoredMessage(new_message_id(now), contact.sid, "me", text, "text", now,
                                STATUS_PENDING, True, reply_to)
        frame = Frame(frames.MSG, contact.sid, {"id": message.id, "text": text,
                                                "timestamp": message.timestamp,
                                                "replyTo": reply_to})
        yield self._queue(peer_user_id, frame, message)
        return message

    def messages(self, peer_user_id: str, limit: int = 50,
                 before: tuple[int, str] | None = None,
                 after: tuple[int, str] | None = None) -> defer.Deferred[list[StoredMessage]]:
        """A page of the conversation, oldest first: the newest `limit` messages (before
        the (timestamp, id) key `before`, if given), or the oldest `limit` after `after`."""
        return self.store.messages(self._contact(peer_user_id).sid, limit, before, after)

    def unread_count(self, peer_user_id: str) -> defer.Deferred[int]:
        return self.store.unread_count(self._contact(peer_user_id).sid)

    @defer.inlineCallbacks
    def summaries(self) -> Any:
        """{contact user id: ConversationSummary}: what the session list shows, in one
        query however many conversations there are."""
        by_sid = yield self.store.summaries()
        return {peer: ConversationSummary(*by_sid.get(c.sid, (None, 0)))
                for peer, c in self.contacts.items()}

    @defer.inlineCallbacks
    def mark_read(self, peer_user_id: str) -> Any:
        """Mark the conversation read and send a read receipt for what was unread; my
        other devices get a copy and mark the same messages read."""
        contact = self._contact(peer_user_id)
        ids = yield self.store.mark_read(contact.sid)
        if ids:
            yield self._queue(peer_user_id, Frame(frames.RECEIPT, contact.sid,
                                                  {"ids": ids, "status": frames.RECEIPT_READ}))
        return ids

    @defer.inlineCallbacks
    def delete_message(self, message_id: str) -> Any:
        """Delete a message on this device only ("delete for me"), mine or theirs."""
        message = yield self.store.message(message_id)
        if message is None:
            raise ClientError("no such message")
        yield self.store.delete_message(message_id, message.sid, message.sender)
        self.events.emit(ev.MessageDeleted(message_id, message.sid))

    @defer.inlineCallbacks
    def unsend_message(self, message_id: str) -> Any:
        """Delete one of my messages for everyone: here, on my other devices and on the
        recipient's (hard delete, no placeholder)."""
        message = yield self.store.message(message_id)
        if message is None:
            raise ClientError("no such message")
        if message.sender != "me":
            raise ClientError("only your own messages can be unsent")
        peer = next((c.peer_user_id for c in self.contacts.values() if c.sid == message.sid),
                    None)
        if peer is None:
            raise ClientError("this conversation is gone")
        yield self.store.delete_message(message_id, message.sid, message.sender)
        self.events.emit(ev.MessageDeleted(message_id, message.sid))
        yield self._queue(peer, Frame(frames.DELETE, message.sid, {"id": message_id}))

    @defer.inlineCallbacks
    def send_typing(self, peer_user_id: str, typing: bool = True) -> Any:
        """Ephemeral: sent now if online, never queued."""
        contact = self._contact(peer_user_id)
        if not self.online:
            return
        frame = Frame(frames.TYPING, contact.sid, {"typing": typing})
        try:
            yield self._outbound.run(self._deliver, peer_user_id, frame, False)
        except (ClientError, ApplicationError, TransportLost, Disconnected) as e:
            self.log.info("typing indicator not sent: {error}", error=type(e).__name__)

    def _contact(self, peer_user_id: str) -> Contact:
        contact = self.contacts.get(peer_user_id)
        if contact is None:
            raise ClientError("not a contact")
        if peer_user_id in self.blocked:
            raise ClientError("this contact is blocked")
        return contact

    # === the send path ======================================================================

    @defer.inlineCallbacks
    def _queue(self, recipient: str, frame: Frame, message: StoredMessage | None = None,
               copy_to_own: bool = True) -> Any:
        stored = {"frame": frame.encode().decode(), "own": copy_to_own}
        yield self.store.queue(recipient, json.dumps(stored).encode(), message)
        if message is not None:
            self.events.emit(ev.MessageSent(message))
        self.flush_outbox()

    def flush_outbox(self) -> defer.Deferred[None]:
        """Send everything queued, in order; stops at the first thing that must wait.
        Fires once a pass that started after this request is done; requests made
        while a pass waits to start are served by that one pass."""
        if self._closed:
            return defer.succeed(None)  # stopped: the outbox is sent at the next start
        d: defer.Deferred[None] = defer.Deferred()
        self._flush_waiters.append(d)
        if not self._flush_requested:
            self._flush_requested = True
            self._outbound.run(self._flush_pass)
        return d

    def _flush_pass(self) -> defer.Deferred[None]:
        self._flush_requested = False
        waiters, self._flush_waiters = self._flush_waiters, []

        def done(result: Any) -> None:
            if isinstance(result, Failure):
                self.log.failure("sending the outbox failed", result)
            for waiter in waiters:
                waiter.callback(None)

        return self._flush().addBoth(done)

    @defer.inlineCallbacks
    def _flush(self) -> Any:
        """One pass over the outbox, pipelined: entries are encrypted in order and up to
        OUTBOX_WINDOW of them are with the relay at once (it stores them in the order
        they come); entries queued meanwhile join while the first are still out. The
        answers are settled in order, a run of them at a time: accepted entries leave
        the outbox together with the ratchets they advanced (their ticks move to "sent"
        once that is committed); an entry the relay refused for a stale device list is
        encrypted again once the list is re-read; anything that must wait stops the
        pass."""
        done: set[int] = set()  # seqs sent, dropped or left waiting in this pass
        attempts: dict[int, int] = {}  # seq -> device-list disputes so far
        refresh: set[str] = set()  # recipients whose device list the relay disputed
        in_flight: collections.deque[_InFlight] = collections.deque()
        writes: list[defer.Deferred[Any]] = []
        stop = False
        try:
            while not stop:
                issued = {s.seq for s in in_flight}
                rows = [r for r in (yield self.store.outbox())
                        if r[0] not in done and r[0] not in issued]
                if not rows and not in_flight:
                    return
                for seq, recipient, stored, message_id in rows:
                    while len(in_flight) >= OUTBOX_WINDOW and not stop:
                        stop = yield self._settle(in_flight, done, attempts, refresh, writes)
                    session = self.connection.session
                    if stop or session is None:
                        stop = True
                        break
                    entry = json.loads(stored)
                    frame = frames.parse(entry["frame"].encode())
                    try:
                        envelopes, sent_to = yield self._encrypt_for(
                            recipient, frame, entry["own"], recipient in refresh)
                    except ClientError as e:  # a changed key to accept, no reachable device
                        self.log.info("outbox entry waits: {why}", why=str(e))
                        done.add(seq)
                        continue
                    except ApplicationError as e:
                        stop = yield self._refused(seq, e, done)
                        continue
                    except (TransportLost, Disconnected):
                        stop = True
                        break
                    refresh.discard(recipient)
                    in_flight.append(_InFlight(seq, recipient, message_id, sent_to,
                                               session.call(uris.MESSAGE_SEND, recipient,
                                                            envelopes)))
                # Half the window settled, the outbox is read again for what came meanwhile
                # (while the rest is still out). At the end everything is settled; also when
                # other work waits for the outbound lock (a typing frame, a device list),
                # which a steady stream of new entries must not hold up: the next pass
                # (already requested) takes them.
                others_wait = len(self._outbound.waiting) > int(self._flush_requested)
                keep = OUTBOX_WINDOW // 2 if rows and not others_wait else 0
                while len(in_flight) > keep and not stop:
                    stop = yield self._settle(in_flight, done, attempts, refresh, writes)
                stop = stop or others_wait
        finally:
            while in_flight:  # answers to what was handed over are settled in any case
                yield self._settle(in_flight, done, attempts, refresh, writes)
            yield defer.DeferredList(writes)  # the pass is over once what it sent is stored

    @defer.inlineCallbacks
    def _settle(self, in_flight: collections.deque[_InFlight], done: set[int],
                attempts: dict[int, int], refresh: set[str],
                writes: list[defer.Deferred[Any]]) -> Any:
        """Settle the oldest answer, and every answer already in after it; True if the
        pass must stop."""
        stop = False
        accepted: list[_InFlight] = []
        yield in_flight[0].call
        while in_flight and in_flight[0].call.called:
            sending = in_flight.popleft()
            failure = sending.failure
            if failure is None:
                accepted.append(sending)
                done.add(sending.seq)
            elif failure.check(ApplicationError) and \
                    failure.value.error == uris.ERR_DEVICE_MISMATCH:
                self.log.info("device list changed for a recipient; refreshing")
                attempts[sending.seq] = attempts.get(sending.seq, 0) + 1
                if attempts[sending.seq] >= 3:
                    # A device without keys to start a session, say: this entry waits.
                    self.log.info("outbox entry waits: the recipient's devices cannot all "
                                  "be reached yet")
                    done.add(sending.seq)
                refresh.add(sending.recipient)
            elif failure.check(ApplicationError):
                stop = (yield self._refused(sending.seq, failure.value, done)) or stop
            else:  # offline now, or something unforeseen: the entry stays for later
                if not failure.check(TransportLost, Disconnected):
                    self.log.failure("sending an outbox entry failed", failure)
                stop = True
        if accepted:
            # The pickles are taken as the write is queued, so the database never goes
            # back to an older ratchet than one it holds; one per device for the run. A
            # device forgotten meanwhile (its user's list re-read on the receive path)
            # has nothing left to keep.
            peers = dict.fromkeys(p for s in accepted for p in s.sent_to)
            pickles = [self._olm.pickle_sessions(*p) for p in peers if p in self._olm.peers]
            write = self.store.sent([(s.seq, s.message_id) for s in accepted], pickles)
            write.addCallback(self._ticked_sent)
            write.addErrback(lambda f: self.log.failure("recording sent entries failed", f))
            writes.append(write)
        return stop

    def _ticked_sent(self, message_ids: list[str]) -> None:
        for message_id in message_ids:
            self.events.emit(ev.MessageUpdated(message_id, STATUS_SENT))

    @defer.inlineCallbacks
    def _refused(self, seq: int, e: ApplicationError, done: set[int]) -> Any:
        """The relay refused an outbox entry: drop it if it can never go; else pause (True)."""
        if e.error in (uris.ERR_NO_SUCH_ACCOUNT, uris.ERR_INVALID_ARGUMENT,
                       uris.ERR_PAYLOAD_TOO_LARGE):
            self.log.warn("dropping an undeliverable outbox entry: {error}", error=e.error)
            done.add(seq)
            yield self.store.drop_outbox(seq)
            return False
        self.log.info("outbox paused: {error}", error=e.error)
        return True

    @defer.inlineCallbacks
    def _deliver(self, recipient: str, frame: Frame, copy_to_own: bool) -> Any:
        """Encrypt `frame` for every device of `recipient` (and copies for my other devices)
        and hand it to the relay. Returns the Olm session pickles to persist."""
        session = self.connection.session
        if session is None:
            raise TransportLost()
        refresh = False
        for _attempt in range(3):
            envelopes, sent_to = yield self._encrypt_for(recipient, frame, copy_to_own, refresh)
            try:
                yield session.call(uris.MESSAGE_SEND, recipient, envelopes)
            except ApplicationError as e:
                if e.error != uris.ERR_DEVICE_MISMATCH:
                    raise
                self.log.info("device list changed for a recipient; refreshing")
                refresh = True
                continue
            # A device forgotten meanwhile (its user's list re-read on the receive path)
            # has nothing left to keep.
            return [self._olm.pickle_sessions(user, device_id) for user, device_id in sent_to
                    if (user, device_id) in self._olm.peers]
        # A device without keys to start a session, say: this entry waits, others go on.
        raise ClientError("the recipient's devices cannot all be reached yet")

    @defer.inlineCallbacks
    def _encrypt_for(self, recipient: str, frame: Frame, copy_to_own: bool,
                     refresh: bool = False) -> Any:
        """(envelopes, [(user, device)] they go to): `frame` encrypted for every device
        of `recipient`, and copies for my other devices; `refresh` re-reads the lists."""
        if self.connection.session is None:
            raise TransportLost()
        if recipient in self.contacts and self.contacts[recipient].changed_identity_key:
            raise IdentityKeyChangedError("the contact's key changed: accept it first")
        # The lists known here are used as they are (no detour through a Deferred).
        peer_devices = None if refresh else self._devices.get(recipient)
        if peer_devices is None:
            peer_devices = yield self._devices_of(recipient, refresh)
        own_devices: dict[str, str] = {}
        if copy_to_own and recipient != self.me.user_id:
            own_devices = (None if refresh else self._devices.get(self.me.user_id)) or \
                (yield self._devices_of(self.me.user_id, refresh))
        targets = [(recipient, d, k) for d, k in peer_devices.items()]
        targets += [(self.me.user_id, d, k) for d, k in own_devices.items()
                    if d != self.me.device_id]
        targets = [t for t in targets if t[1] != self.me.device_id]
        if any((user, device_id) in self._unwedge or
               not self._olm.has_session(user, device_id, identity_key)
               for user, device_id, identity_key in targets):
            yield self._ensure_sessions(targets)
        copy = Frame(frame.type, frame.sid, frame.data, to=recipient)
        envelopes, sent_to = [], []
        for user, device_id, identity_key in targets:
            if not self._olm.has_session(user, device_id, identity_key):
                continue  # no key to start one: the relay will name it as missing
            plaintext = (copy if user == self.me.user_id and recipient != user
                         else frame).encode(self._binding(user, device_id, identity_key))
            kind, body = self._olm.encrypt(user, device_id, identity_key, plaintext)
            envelopes.append({"device_id": device_id, "v": CRYPTO_VERSION, "alg": ALG,
                              "type": kind, "body": body})
            sent_to.append((user, device_id))
        if not envelopes:
            raise ClientError("none of the recipient's devices can be reached")
        return envelopes, sent_to

    @defer.inlineCallbacks
    def _ensure_sessions(self, targets: Sequence[tuple[str, str, str]]) -> Any:
        by_user: dict[str, list[tuple[str, str]]] = {}
        for user, device_id, identity_key in targets:
            if ((user, device_id) in self._unwedge or
                    not self._olm.has_session(user, device_id, identity_key)):
                by_user.setdefault(user, []).append((device_id, identity_key))
        for user, missing in by_user.items():
            wanted = dict(missing)
            bundles = yield self.connection.session.call(uris.PREKEYS_CLAIM, user,
                                                         sorted(wanted))
            for bundle in bundles:
                key = bundle.get("one_time_key")
                device_id = bundle["device_id"]
                # Only keys of devices we verified, with the identity key we verified,
                # signed by that device.
                if (key and wanted.get(device_id) == bundle["identity_key"]
                        and self._prekey_signed(user, device_id, key)):
                    self._olm.start_session(user, device_id, bundle["identity_key"], key["key"])
                    self._unwedge.pop((user, device_id), None)

    def _prekey_signed(self, user_id: str, device_id: str, key: dict[str, Any]) -> bool:
        if prekeys.verifies(self._signing_keys.get((user_id, device_id)), user_id, device_id,
                            key):
            return True
        self.log.warn("ignoring a prekey without a valid signature of its device")
        return False

    @defer.inlineCallbacks
    def _devices_of(self, user_id: str, refresh: bool = False) -> Any:
        """The user's devices whose certificates verify under their pinned account key."""
        if not refresh and user_id in self._devices:
            return self._devices[user_id]
        key = yield self._account_key(user_id)
        session = self.connection.session
        if session is None:  # went offline meanwhile
            raise TransportLost()
        listed = yield session.call(uris.DEVICE_LIST, user_id)
        verifier = Ed25519PublicKey.from_public_bytes(_unb64(key))
        verified = []
        for d in listed:
            if not d.get("signature"):
                continue  # pending: not (yet) approved by a device of that account
            try:
                verifier.verify(_unb64(d["signature"]), device_certificate(
                    user_id, d["device_id"], d["signing_key"], d["identity_key"]))
            except (InvalidSignature, ValueError, KeyError, TypeError):
                self.log.warn("ignoring a device whose certificate does not verify")
                continue
            verified.append((d["device_id"], d["identity_key"], d["signing_key"]))
        yield self.store.replace_devices(user_id, verified)
        current = {d: ik for d, ik, _ in verified}
        previous = self._devices.get(user_id)
        for device_id, _, signing_key in verified:
            self._signing_keys[(user_id, device_id)] = signing_key
        for device_id, identity_key in self._devices.get(user_id, {}).items():
            if current.get(device_id) != identity_key:  # gone, or re-enrolled with a new key
                self._olm.forget(user_id, device_id)
        self._devices[user_id] = current
        yield self._device_watch.changed(user_id, previous, current)
        return current

    @defer.inlineCallbacks
    def _account_key(self, user_id: str) -> Any:
        pinned = self._identity_keys.get(user_id)
        if user_id == self.me.user_id:
            return pinned
        current = yield self._fetch_identity_key(user_id)
        if pinned is not None and current != pinned:
            contact = self.contacts.get(user_id)
            if contact is not None and contact.changed_identity_key != current:
                yield self.store.set_changed_identity_key(user_id, current)
                self.contacts = {c.peer_user_id: c for c in (yield self.store.contacts())}
                self.events.emit(ev.IdentityKeyChanged(user_id, contact.peer_email))
            elif contact is None:
                yield self._device_watch.request_key_changed(user_id)
            raise IdentityKeyChangedError("this contact's identity key changed")
        return current

    @defer.inlineCallbacks
    def _fetch_identity_key(self, user_id: str) -> Any:
        session = self.connection.session
        if session is None:
            raise TransportLost()
        public = yield session.call(uris.ACCOUNT_PUBLIC, user_id)
        key = public["identity_key"]
        if user_id not in self._identity_keys:
            yield self.store.pin_identity_key(user_id, key)  # trust on first use
            self._identity_keys[user_id] = key
        return key

    # === the receive path =====================================================================

    def _envelope_arrived(self, envelope: dict[str, Any]) -> None:
        # Live: new unless this process handled it already; the database's own
        # check (receive() ignores an id it has) covers anything older.
        self._inbound.run(self._receive, envelope, False).addErrback(
            lambda f: self.log.failure("handling an envelope failed", f))

    @defer.inlineCallbacks
    def _receive(self, envelope: dict[str, Any], check_store: bool = True) -> Any:
        envelope_id = str(envelope.get("id"))
        sender, device_id = envelope.get("from_user", ""), envelope.get("from_device", "")
        if envelope_id in self._recent or (check_store and (yield self.store.seen(envelope_id))):
            self._ack(envelope_id)  # a replay or a re-delivery: handled once already
            return
        self._recent.add(envelope_id)
        self._recent_order.append(envelope_id)
        if len(self._recent_order) > RECENT_ENVELOPES:
            self._recent.discard(self._recent_order.popleft())
        if envelope.get("alg") == linking.ALG:  # a new device of mine asking for approval
            try:
                yield self.approvals.received(envelope)
            except Exception:  # a frame we cannot use must not stop the queue behind it
                self.log.failure("handling a device-approval frame failed")
            yield self.store.receive(envelope_id, _now_ms(), None, None, None)
            self._ack(envelope_id)
            return
        if sender in self.blocked:
            yield self.store.receive(envelope_id, _now_ms(), None, None, None)
            self._ack(envelope_id)
            return
        if envelope.get("alg") != ALG or envelope.get("v") != CRYPTO_VERSION:
            yield self._reject(envelope_id, sender, "unsupported crypto version or algorithm")
            return
        identity_key = self._devices.get(sender, {}).get(device_id)  # known: no detour
        if identity_key is None:
            identity_key = yield self._sender_identity_key(sender, device_id)
        if identity_key is None:
            yield self._reject(envelope_id, sender, "the sending device is not verified")
            return
        body = envelope.get("body")
        if not isinstance(body, bytes):
            yield self._reject(envelope_id, sender, "the ciphertext is not binary")
            return
        try:
            plaintext, account_changed, identity_key = yield self._decrypt(
                sender, device_id, identity_key, _message_type(envelope), body)
        except DecryptionFailed as e:
            yield self._reject(envelope_id, sender, f"decryption failed: {e}")
            self._recover_session(sender, device_id)
            return
        if account_changed:
            # A one-time key was used up, or the fallback key: replace what went.
            self.reactor.callLater(0, self._refill_prekeys)
        try:
            frame, binding = frames.parse_bound(plaintext)
            binding.check(frames.Binding(sender, device_id, identity_key, self.me.user_id,
                                         self.me.device_id, self._olm.identity_key))
            outcome = self._interpret(frame, sender, relay_timestamp(envelope))
            # State changes first: if we crash before the envelope is marked handled,
            # it is decrypted again from the older pickle and they are re-applied.
            yield outcome.apply()
        except Exception as e:  # a frame that cannot be handled must not wedge the queue
            if not isinstance(e, frames.InvalidFrame):
                self.log.failure("handling a frame failed")
            yield self.store.receive(envelope_id, _now_ms(), self._olm.pickle_sessions(
                sender, device_id), self._olm.pickle_account() if account_changed else None,
                None)
            yield self._reject(envelope_id, sender, f"invalid frame: {e}", stored=True)
            return
        # The pickles are taken as the write is queued (so the database never goes back
        # to an older ratchet than one it holds), and the next envelope is handled while
        # this one commits: the database thread commits a burst of them at once. Writes
        # commit in order, so a crash leaves a prefix of them stored; the ack and the
        # event follow the commit.
        self.store.receive(
            envelope_id, _now_ms(), self._olm.pickle_sessions(sender, device_id),
            self._olm.pickle_account() if account_changed else None, outcome.message,
        ).addCallback(self._stored, envelope_id, outcome).addErrback(
            lambda f: self.log.failure("storing an envelope failed", f))

    def _stored(self, stored: bool, envelope_id: str, outcome: _Outcome) -> Any:
        self._ack(envelope_id)
        return outcome.notify() if stored else None

    def _inbound_settled(self) -> defer.Deferred[Any]:
        """Fires once every envelope handled so far is stored (and its ack queued)."""
        return self._inbound.run(lambda: self.store.run(lambda conn: None))

    @defer.inlineCallbacks
    def _decrypt(self, sender: str, device_id: str, identity_key: str, message_type: int,
                 body: bytes) -> Any:
        """(plaintext, account changed, the sender device's key). When nothing decrypts,
        the device may have been enrolled again with new keys: look at its user's
        devices again (at most once a minute per user) and, if its key changed, retry."""
        try:
            plaintext, account_changed = self._olm.decrypt(
                sender, device_id, identity_key, message_type, body)
            return plaintext, account_changed, identity_key
        except DecryptionFailed as e:
            failed = e
        now = self.reactor.seconds()
        if (self.connection.session is None
                or now - self._devices_checked.get(sender, -60.0) < 60.0):
            raise failed
        self._devices_checked[sender] = now
        try:
            devices = yield self._devices_of(sender, refresh=True)
        except (IdentityKeyChangedError, ApplicationError, TransportLost):
            raise failed from None
        newer = devices.get(device_id)
        if newer is None or newer == identity_key:
            raise failed
        plaintext, account_changed = self._olm.decrypt(sender, device_id, newer, message_type,
                                                       body)
        return plaintext, account_changed, newer

    def _binding(self, user_id: str, device_id: str, identity_key: str) -> frames.Binding:
        return frames.Binding(self.me.user_id, self.me.device_id, self._olm.identity_key,
                              user_id, device_id, identity_key)

    def _recover_session(self, user_id: str, device_id: str) -> None:
        """A device of a contact (or mine) sent what no session decrypts: its state and
        ours parted (a restore, a lost pickle). Start a fresh session and send it an
        empty frame, so its next messages come in a session we both have."""
        if user_id != self.me.user_id and user_id not in self.contacts:
            return  # strangers get nothing, not even a claimed one-time key
        peer = (user_id, device_id)
        now = self.reactor.seconds()
        if now - self._unwedged_at.get(peer, -UNWEDGE_INTERVAL) < UNWEDGE_INTERVAL:
            return
        self._unwedged_at[peer] = now
        self._unwedge[peer] = None
        contact = self.contacts.get(user_id)
        self.log.info("starting a fresh session with a device that cannot decrypt")
        self._queue(user_id, Frame(frames.DUMMY, contact.sid if contact else "", {}),
                    copy_to_own=False).addErrback(
            lambda f: self.log.failure("queueing a session restart failed", f))

    def _refill_prekeys(self, rotate_fallback: bool = True) -> None:
        session = self.connection.session
        if session is not None:
            self._top_up_prekeys(session, rotate_fallback=rotate_fallback).addErrback(
                lambda f: self.log.info("prekey top-up failed: {e}", e=type(f.value).__name__))

    @defer.inlineCallbacks
    def _reject(self, envelope_id: str, sender: str, reason: str, stored: bool = False) -> Any:
        self.log.warn("rejected envelope {id}: {reason}", id=envelope_id, reason=reason)
        if not stored:
            yield self.store.receive(envelope_id, _now_ms(), None, None, None)
        self._ack(envelope_id)
        self.events.emit(ev.EnvelopeRejected(envelope_id, sender, reason))

    @defer.inlineCallbacks
    def _sender_identity_key(self, sender: str, device_id: str) -> Any:
        known = self._devices.get(sender, {}).get(device_id)
        if known is not None or self.connection.session is None:
            return known
        try:
            devices = yield self._devices_of(sender, refresh=True)
        except (IdentityKeyChangedError, ApplicationError, TransportLost, Disconnected):
            return None
        return devices.get(device_id)

    def _interpret(self, frame: Frame, sender: str, relay_ts: int | None = None) -> _Outcome:
        """What a frame means: state to change, a message to store with the envelope,
        and who to tell once it is stored. `relay_ts`: when the relay took the envelope."""
        from_me = sender == self.me.user_id
        peer = frame.to if from_me else sender
        if from_me and (peer is None or peer == self.me.user_id):
            return _Outcome()
        contact = self.contacts.get(peer or "")
        data = frame.data
        if frame.type in (frames.FRIEND_REQUEST, frames.FRIEND_ACCEPT, frames.FRIEND_DENY):
            return _Outcome(apply=lambda: self._friend_frame(frame, sender, from_me))
        if contact is None and not from_me and frame.type not in (frames.TYPING, frames.DUMMY):
            # Not a contact on this device (yet): keep it for when the friendship is
            # known here, rather than lose it.
            self.log.info("holding a {type} frame from a user not known here", type=frame.type)
            return _Outcome(apply=lambda: self.store.hold(sender, frame.encode()))
        if contact is None or frame.sid != contact.sid:
            self.log.info("ignoring a {type} frame for an unknown session", type=frame.type)
            return _Outcome()
        if frame.type == frames.MSG:
            message = StoredMessage(data["id"], contact.sid, "me" if from_me else "other",
                                    data["text"], "text",
                                    message_timestamp(data["timestamp"], relay_ts),
                                    STATUS_SENT if from_me else STATUS_DELIVERED, from_me,
                                    data["replyTo"])
            if from_me:
                return _Outcome(message, notify=lambda: self._emit(ev.MessageSent(message)))
            return _Outcome(message, notify=lambda: self._received(message, contact))
        if frame.type == frames.RECEIPT and not from_me:
            status = STATUS_READ if data["status"] == frames.RECEIPT_READ else STATUS_DELIVERED
            return _Outcome(apply=lambda: self._receipt(contact.sid, data["ids"], status))
        if frame.type == frames.RECEIPT and data["status"] == frames.RECEIPT_READ:
            # I read their messages on another device: they are read here too.
            return _Outcome(apply=lambda: self._read_elsewhere(contact, data["ids"]))
        if frame.type == frames.TYPING and not from_me:
            return _Outcome(notify=lambda: self._emit(
                ev.TypingChanged(contact.sid, sender, data["typing"])))
        if frame.type == frames.DUMMY and not from_me:
            return _Outcome(notify=lambda: self._emit(ev.SessionReset(sender)))
        if frame.type == frames.DELETE:
            return _Outcome(apply=lambda: self._unsent(data["id"], contact.sid,
                                                       "me" if from_me else "other"))
        return _Outcome()

    def _emit(self, event: object) -> defer.Deferred[None]:
        self.events.emit(event)
        return defer.succeed(None)

    def _received(self, message: StoredMessage, contact: Contact) -> defer.Deferred[None]:
        self.events.emit(ev.MessageReceived(message, contact.peer_user_id))
        # Delivery receipts are gathered for a moment and sent as one frame per
        # contact: a burst of messages costs one receipt, not one each.
        self._receipts.setdefault(contact.peer_user_id, []).append(message.id)
        if self._receipt_call is None or not self._receipt_call.active():
            self._receipt_call = self.reactor.callLater(RECEIPT_DELAY, self._send_receipts)
        return defer.succeed(None)

    def _send_receipts(self) -> defer.Deferred[Any]:
        """Queue the gathered receipts; fires once they are in the outbox."""
        pending, self._receipts = self._receipts, {}
        queued = []
        for peer, ids in pending.items():
            contact = self.contacts.get(peer)
            if contact is None:
                continue
            for start in range(0, len(ids), MAX_RECEIPT_IDS):
                queued.append(self._queue(peer, Frame(frames.RECEIPT, contact.sid, {
                    "ids": ids[start:start + MAX_RECEIPT_IDS],
                    "status": frames.RECEIPT_DELIVERED}), copy_to_own=False).addErrback(
                    lambda f: self.log.failure("queueing a receipt failed", f)))
        return defer.gatherResults(queued)

    @defer.inlineCallbacks
    def _receipt(self, sid: str, ids: list[str], status: int) -> Any:
        for message_id in (yield self.store.raise_status(sid, ids, status)):
            self.events.emit(ev.MessageUpdated(message_id, status))

    @defer.inlineCallbacks
    def _read_elsewhere(self, contact: Contact, ids: list[str]) -> Any:
        read = yield self.store.mark_ids_read(contact.sid, ids)
        if read:
            self.events.emit(ev.MessagesRead(contact.peer_user_id, contact.sid, tuple(read)))

    @defer.inlineCallbacks
    def _unsent(self, message_id: str, sid: str, sender: str) -> Any:
        if (yield self.store.delete_message(message_id, sid, sender)):
            self.events.emit(ev.MessageDeleted(message_id, sid))

    @defer.inlineCallbacks
    def _friend_frame(self, frame: Frame, sender: str, from_me: bool) -> Any:
        data = frame.data
        if from_me:  # my other device's request or answer: mirror it here
            email = normalise_email(str(data.get("to_email", "")))
            peer = frame.to
            if user_id_for_email(email) != peer:
                return
            if frame.type == frames.FRIEND_REQUEST:
                yield self.store.set_request(Request(peer, email, "", "out", "pending",
                                                     _now_ms()))
            elif frame.type == frames.FRIEND_ACCEPT:
                yield self._become_contacts(peer, email, "")
                yield self._answer_request(peer, "in", "accepted")
                self.events.emit(ev.FriendRequestAnswered(peer, email, True,
                                                          self.contacts[peer].sid))
            else:
                yield self._answer_request(peer, "in", "denied")
            return
        email = normalise_email(data["email"])
        if user_id_for_email(email) != sender or frame.sid != session_id(email, self.me.email):
            self.log.warn("ignoring a friend frame whose email does not match its sender")
            return
        if frame.type == frames.FRIEND_REQUEST:
            if sender in self.contacts:
                # Already friends here: their device lost its state (a reinstall).
                # The account key is the pinned one, so answer at once.
                yield self._queue(sender, Frame(
                    frames.FRIEND_ACCEPT, frame.sid,
                    {"email": self.me.email, "name": self.me.public_name, "to_email": email}))
                return
            yield self.store.set_request(Request(sender, email, data["name"], "in", "pending",
                                                 _now_ms()))
            self.events.emit(ev.FriendRequestReceived(sender, email, data["name"]))
        elif frame.type == frames.FRIEND_ACCEPT:
            outgoing = yield self._request_with(sender, "out")
            if outgoing is None and sender not in self.contacts:
                return  # nobody asked
            yield self._become_contacts(sender, email, data["name"])
            yield self._answer_request(sender, "out", "accepted")
            self.events.emit(ev.FriendRequestAnswered(sender, email, True,
                                                      self.contacts[sender].sid))
        else:
            if (yield self._request_with(sender, "out")) is not None:
                yield self._answer_request(sender, "out", "denied")
                self.events.emit(ev.FriendRequestAnswered(sender, email, False, None))

    @defer.inlineCallbacks
    def _request_with(self, peer: str, direction: str) -> Any:
        for request in (yield self.store.requests()):
            if request.user_id == peer and request.direction == direction:
                return request
        return None

    @defer.inlineCallbacks
    def _answer_request(self, peer: str, direction: str, action: str) -> Any:
        request = yield self._request_with(peer, direction)
        if request is not None:
            yield self.store.set_request(Request(peer, request.email, request.name, direction,
                                                 action, _now_ms()))

    # --- acks are batched: the relay deletes an envelope only after we stored it ------------

    def _ack(self, envelope_id: str) -> None:
        self._acks.append(envelope_id)
        if self._ack_call is None or not self._ack_call.active():
            self._ack_call = self.reactor.callLater(0.05, self._send_acks)

    def _send_acks(self) -> None:
        self._flush_acks()

    @defer.inlineCallbacks
    def _flush_acks(self) -> Any:
        while self._acks:
            ids, self._acks = self._acks[:1000], self._acks[1000:]
            session = self.connection.session
            if session is None:
                return  # unacked envelopes come again from the mailbox and are skipped
            try:
                yield session.call(uris.MAILBOX_ACK, ids)
            except (ApplicationError, TransportLost, Disconnected) as e:
                self.log.info("ack failed; the relay will re-deliver: {e}", e=type(e).__name__)
                return


_SETTING_UP: set[str] = set()  # account directories being registered or signed in here


@defer.inlineCallbacks
def _setting_up(data_dir: str, email: str, exists: str,
                work: Callable[[], defer.Deferred[Any]]) -> Any:
    """Run `work` (a registration or sign-in) unless the account is on this device
    already or being set up by another call (a second click would enroll a device
    the user never sees)."""
    account_dir = os.path.abspath(os.path.join(data_dir, user_id_for_email(email)))
    if os.path.exists(account_dir) or account_dir in _SETTING_UP:
        raise ClientError(exists)
    _SETTING_UP.add(account_dir)
    try:
        result = yield work()
    finally:
        _SETTING_UP.discard(account_dir)
    return result


def _lock_account(account_dir: str) -> AccountLock:
    lock = AccountLock(account_dir)
    if not lock.acquire():
        raise AccountInUse("this account is open in another SecureChat window or program")
    return lock


def _nothing() -> defer.Deferred[None]:
    return defer.succeed(None)


@attrs.define
class _InFlight:
    """An outbox entry handed to the relay, its answer to come."""

    seq: int
    recipient: str
    message_id: str | None
    sent_to: list[tuple[str, str]]
    call: defer.Deferred[Any] = attrs.field(repr=False)  # fires None once answered
    failure: Failure | None = None  # how the call failed, once answered

    def __attrs_post_init__(self) -> None:
        def answer(result: Any) -> None:
            if isinstance(result, Failure):
                self.failure = result

        self.call.addBoth(answer)


@attrs.frozen
class _Outcome:
    """What handling one frame does (see SecureChatClient._interpret)."""

    message: StoredMessage | None = None
    apply: Callable[[], defer.Deferred[Any]] = _nothing  # before the envelope is marked
    notify: Callable[[], defer.Deferred[Any]] = _nothing  # after it is stored


def _message_type(envelope: dict[str, Any]) -> int:
    """The envelope's Olm message type; -1 (which nothing decrypts) if it is not an int."""
    kind = envelope.get("type")
    return kind if type(kind) is int else -1


def _password_refused(e: JoinRefused) -> Exception:
    """What a refused password login means to the user."""
    if e.reason == uris.ERR_WRONG_PASSWORD:
        return WrongPassword("wrong password")
    if e.reason == uris.ERR_NO_SUCH_ACCOUNT:
        return NoSuchAccount("there is no account with this email")
    return e


@defer.inlineCallbacks
def _call_once(reactor: Any, url: str, credentials: Any, serializer: str,
               errors: dict[str, ClientError], procedure: str, *args: Any,
               ca_file: str | None = None) -> Any:
    """Join, make one call, leave; relay errors in `errors` become those ClientErrors."""
    session = yield connect(reactor, url, credentials, serializer, ca_file=ca_file)
    try:
        return (yield session.call(procedure, *args))
    except ApplicationError as e:
        if e.error in errors:
            raise errors[e.error] from None
        raise
    finally:
        yield leave(session)

