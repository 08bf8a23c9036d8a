"""Accounts on this device: create one, sign in on a new device, open, lock with a PIN,
change or reset the master password, and the index of which accounts are here.

Each account lives in `data_dir/<user id>/` (its SQLCipher database and sealed keys),
held by an `AccountLock` while a client has it open. The functions that make a client
take `make_client(ctx, lock)` (the class: SecureChatClient or a subclass), so this
module never imports the facade.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer, threads
from twisted.logger import Logger

import securechat.client.linking as linking
import securechat.client.pin as pin_lock
import securechat.client.recovery as recovery
import securechat.client.registration as registration
from securechat.client.accountlock import AccountLock
from securechat.client.context import ClientContext
from securechat.client.endpoint import RelayEndpoint
from securechat.client.errors import (
    AccountExists,
    AccountInUse,
    ClientError,
    CreatedNotSetUp,
    NoSuchAccount,
    RecoveryPhraseNeeded,
    WrongPassword,
)
from securechat.client.events import EventBus
from securechat.client.keys import AccountSecrets
from securechat.client.local_accounts import account_dir_of
from securechat.client.model import PIN_COST, KdfCost
from securechat.client.olm import OlmMachine
from securechat.client.relay_url import relay_url_checked
from securechat.client.scram_pinning import (
    Floor,
    Pinned,
    ScramParameters,
    login_policy,
    pin_scram_parameters,
)
from securechat.client.secrets import SecretStore
from securechat.client.storage import AccountStore, database_key
from securechat.client.wamp import Anonymous, DeviceKey, JoinRefused, Password, leave
from securechat.protocol import scram, uris
from securechat.protocol.encoding import b64
from securechat.protocol.keys import device_certificate, normalise_email, user_id_for_email

log = Logger()

C = TypeVar("C")
MakeClient = Callable[[ClientContext, AccountLock], C]

TOO_MANY_DEVICES = ClientError("this account has too many devices: remove one first")


# === creating an account, or this device for one =========================================


def register(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
             password: str, name: str, cost: KdfCost, email_code: str | None,
             insecure_ws: bool) -> defer.Deferred[tuple[C, str]]:
    return relay_url_checked(relay.url, insecure_ws).addCallback(lambda _: _setting_up(
        data_dir, email, "this account already exists on this device",
        lambda: _register(make_client, relay, data_dir, email, password, name, cost,
                             email_code)))


@defer.inlineCallbacks
def _register(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
              password: str, name: str, cost: KdfCost, email_code: str | None) -> Any:
    user_id = user_id_for_email(email)
    secrets = AccountSecrets.generate()
    verifier = yield threads.deferToThread(scram.make_verifier, password, cost.iterations,
                                           cost.memory_kib)
    blob = recovery.seal_blob(secrets, user_id)  # under the phrase, never the password
    yield relay.call_once(
        Anonymous(),
        {uris.ERR_ACCOUNT_EXISTS: AccountExists("an account with this email already exists"),
         **registration.REGISTER_ERRORS},
        uris.ACCOUNT_REGISTER, user_id, b64(secrets.identity_public), {
            "kdf": verifier.kdf, "salt": verifier.salt, "iterations": verifier.iterations,
            "memory": verifier.memory, "stored_key": b64(verifier.stored_key),
            "server_key": b64(verifier.server_key)}, blob,
        *([] if email_code is None else [email_code]))
    try:
        client = yield _enroll(make_client, relay, data_dir, email, password, secrets, cost,
                               ScramParameters.of(verifier), name)
    except ClientError as e:
        # The account exists now: without its phrase no device could ever get its key.
        raise CreatedNotSetUp(str(e), secrets.mnemonic) from None
    return client, secrets.mnemonic


def login(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
          password: str, cost: KdfCost, phrase: str | None, floor: KdfCost,
          insecure_ws: bool,
          enrolling: Callable[[str], None] | None = None) -> defer.Deferred[C]:
    """`enrolling(device_id)` is called just before the relay is asked to enroll the new
    device (a restore keeps a record, to withdraw it if the process dies)."""
    return relay_url_checked(relay.url, insecure_ws).addCallback(lambda _: _setting_up(
        data_dir, email, "this account is already set up on this device: open it",
        lambda: _login(make_client, relay, data_dir, email, password, cost, phrase,
                       Floor(floor.iterations, floor.memory_kib), enrolling)))


@defer.inlineCallbacks
def _login(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
           password: str, cost: KdfCost, phrase: str | None, floor: Floor,
           enrolling: Callable[[str], None] | None = None) -> Any:
    user_id = user_id_for_email(email)
    if phrase is not None:
        phrase = recovery.check_phrase(phrase)
    try:
        session = yield relay.connect(Password(user_id, password, floor))
    except JoinRefused as e:
        raise password_refused(e) from None
    try:
        answer = yield session.call(uris.ACCOUNT_RECOVERY)
    finally:
        yield leave(session)
    if phrase is None:
        raise RecoveryPhraseNeeded(
            "signing in on a new device takes the account's 12-word recovery phrase too")
    secrets = yield recovery.secrets_from_relay(bytes(answer["recovery_blob"]), phrase,
                                                password, user_id)
    # From here on this device accepts only what this login did (and proved right).
    client = yield _enroll(make_client, relay, data_dir, email, password, secrets, cost,
                           session.scram_parameters, enrolling=enrolling)
    return client


@defer.inlineCallbacks
def _enroll(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
            password: str, secrets: AccountSecrets, cost: KdfCost,
            scram_parameters: ScramParameters, name: str = "",
            enrolling: Callable[[str], None] | None = None) -> Any:
    user_id = user_id_for_email(email)
    credentials = Password(user_id, password, Pinned(scram_parameters))
    local_key = os.urandom(32)
    olm = OlmMachine.create(local_key)
    device_key = DeviceKey.generate(uuid.uuid4().hex[:16])
    certificate = device_certificate(user_id, device_key.device_id, device_key.public_hex,
                                     olm.identity_key)
    if enrolling is not None:
        enrolling(device_key.device_id)
    yield relay.call_once(
        credentials, {uris.ERR_TOO_MANY_DEVICES: TOO_MANY_DEVICES},
        uris.DEVICE_ENROLL, device_key.device_id, device_key.public_hex, olm.identity_key,
        b64(secrets.identity.sign(certificate)))
    client = yield set_up_device(make_client, relay, data_dir, email, password, secrets,
                                 cost, name, local_key, olm, device_key, scram_parameters)
    return client


@defer.inlineCallbacks
def set_up_device(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str,
                  email: str, password: str, secrets: AccountSecrets, cost: KdfCost,
                  name: str, local_key: bytes, olm: OlmMachine, device_key: DeviceKey,
                  scram_parameters: ScramParameters | None = None) -> Any:
    """The local account of a device the relay has enrolled: database, sealed keys, and
    the SCRAM parameters its login proved (pinned: client.scram_pinning), if known."""
    user_id = user_id_for_email(email)
    credentials = Password(user_id, password, Pinned(scram_parameters)
                           if scram_parameters is not None else Floor())
    account_dir = os.path.join(data_dir, user_id)
    os.makedirs(account_dir, mode=0o700, exist_ok=True)
    lock = lock_account(account_dir)
    store = AccountStore(os.path.join(account_dir, "account.sqlite"), relay.reactor,
                         database_key(local_key))
    try:
        yield store.start()
        yield store.set_me(normalise_email(email), user_id, device_key.device_id, name)
        if scram_parameters is not None:
            yield pin_scram_parameters(store, scram_parameters)
        yield store.save_olm_account(olm.pickle_account())
        keys = {"local_key": local_key.hex(), "device_seed": device_key.seed.hex(),
                "identity_seed": secrets.identity_seed.hex(), "mnemonic": secrets.mnemonic}
        yield threads.deferToThread(
            SecretStore(account_dir, user_id, password, cost.memory_kib).save, keys)
        recovery.save_local_copy(account_dir, user_id, keys)
        client = yield _client(make_client, relay, store, secrets, device_key, olm, lock,
                               secrets.identity_public)
    except BaseException:
        # Nothing half-made stays behind: not the local account (it could be neither
        # opened nor set up again) nor, if the relay lets us, the enrolled device.
        yield store.stop()
        lock.release()
        shutil.rmtree(account_dir, ignore_errors=True)
        yield relay.call_once(credentials, {}, uris.DEVICE_REMOVE,
                              device_key.device_id).addErrback(
            lambda f: log.info("could not withdraw the half-enrolled device: {e}",
                               e=type(f.value).__name__))
        raise
    return client


@defer.inlineCallbacks
def link(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
         password: str, cost: KdfCost, floor: KdfCost, insecure_ws: bool) -> Any:
    """Deferred[linking.NewDeviceLink]: see SecureChatClient.link."""
    yield relay_url_checked(relay.url, insecure_ws)
    account_dir = os.path.abspath(account_dir_of(data_dir, email))
    if os.path.exists(account_dir) or account_dir in _SETTING_UP:
        raise ClientError("this account is already set up on this device: open it")
    _SETTING_UP.add(account_dir)
    try:
        new_link = yield _link(make_client, relay, data_dir, email, password, cost,
                               Floor(floor.iterations, floor.memory_kib))
    except BaseException:
        _SETTING_UP.discard(account_dir)
        raise
    new_link.wait_result().addBoth(lambda _: _SETTING_UP.discard(account_dir))
    return new_link


@defer.inlineCallbacks
def _link(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
          password: str, cost: KdfCost, floor: Floor) -> Any:
    user_id = user_id_for_email(email)
    local_key = os.urandom(32)
    olm = OlmMachine.create(local_key)
    device_key = DeviceKey.generate(uuid.uuid4().hex[:16])
    try:
        yield relay.call_once(
            Password(user_id, password, floor), {uris.ERR_TOO_MANY_DEVICES: TOO_MANY_DEVICES},
            uris.DEVICE_ENROLL, device_key.device_id, device_key.public_hex,
            olm.identity_key, None)
    except JoinRefused as e:
        raise password_refused(e) from None
    new_link = linking.NewDeviceLink(
        relay.reactor, relay.url, user_id, device_key, olm, relay.serializer,
        lambda secrets: set_up_device(make_client, relay, data_dir, email, password,
                                      secrets, cost, "", local_key, olm, device_key),
        ca_file=relay.ca_file)
    try:
        yield new_link.start()
    except BaseException:
        new_link.cancel()  # withdraws the pending device
        yield new_link.wait_result().addErrback(lambda _: None)
        raise
    return new_link


# === opening an account this device holds ==================================================


def open_with_password(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str,
                       email: str, password: str, insecure_ws: bool) -> defer.Deferred[C]:
    user_id = user_id_for_email(email)
    return relay_url_checked(relay.url, insecure_ws).addCallback(lambda _: _open(
        make_client, relay, data_dir, email,
        lambda account_dir: threads.deferToThread(
            SecretStore(account_dir, user_id, password).load)))


def open_with_pin(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str,
                  email: str, pin: str, insecure_ws: bool) -> defer.Deferred[C]:
    return relay_url_checked(relay.url, insecure_ws).addCallback(lambda _: _open(
        make_client, relay, data_dir, email,
        lambda account_dir: threads.deferToThread(pin_lock.unlock, account_dir, pin)))


def has_pin(data_dir: str, email: str) -> bool:
    return pin_lock.has_pin(account_dir_of(data_dir, email))


@defer.inlineCallbacks
def _open(make_client: MakeClient[C], relay: RelayEndpoint, data_dir: str, email: str,
          keys_for: Callable[[str], defer.Deferred[dict[str, str]]]) -> Any:
    """Open with the device keys `keys_for(account_dir)` unseals (with the password,
    or with the PIN: then without the account's identity seed and mnemonic)."""
    account_dir = account_dir_of(data_dir, email)
    if not os.path.isdir(account_dir):
        raise ClientError("this account is not set up on this device")
    lock = lock_account(account_dir)
    try:
        keys = yield keys_for(account_dir)
        client = yield _open_locked(make_client, relay, account_dir, keys, lock)
    except BaseException:
        lock.release()  # a wrong password, say: the account is free again
        raise
    return client


@defer.inlineCallbacks
def _open_locked(make_client: MakeClient[C], relay: RelayEndpoint, account_dir: str,
                 keys: dict[str, str], lock: AccountLock) -> Any:
    local_key = bytes.fromhex(keys["local_key"])
    store = AccountStore(os.path.join(account_dir, "account.sqlite"), relay.reactor,
                         database_key(local_key))
    yield store.start()
    try:
        me = yield store.me()
        olm = OlmMachine.restore((yield store.olm_account()), (yield store.olm_sessions()),
                                 local_key)
        secrets = (AccountSecrets(bytes.fromhex(keys["identity_seed"]), keys["mnemonic"])
                   if "identity_seed" in keys else None)
        recovery.keep_local_copy(account_dir, me.user_id, keys)
        client = yield _client(
            make_client, relay, store, secrets,
            DeviceKey(me.device_id, bytes.fromhex(keys["device_seed"])), olm, lock,
            secrets.identity_public if secrets else bytes.fromhex(keys.get("identity_public", "")))
    except BaseException:
        yield store.stop()
        raise
    return client


@defer.inlineCallbacks
def _client(make_client: MakeClient[C], relay: RelayEndpoint, store: AccountStore,
            secrets: AccountSecrets | None, device_key: DeviceKey, olm: OlmMachine,
            lock: AccountLock, identity_public: bytes) -> Any:
    ctx = ClientContext(relay.reactor, relay, store, (yield store.me()), EventBus(), olm,
                        device_key, identity_public, secrets, lock.account_dir)
    client = make_client(ctx, lock)
    yield client._load()  # type: ignore[attr-defined]
    return client


class AccountEntryPoints:
    """The ways to a client, as classmethods of SecureChatClient (which inherits them):
    each makes an instance of the class it is called on (a subclass for bots)."""

    @classmethod
    def register(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                 name: str = "", cost: KdfCost | None = None,
                 serializer: str = "msgpack", email_code: str | None = None,
                 ca_file: str | None = None,
                 insecure_ws: bool = False) -> defer.Deferred[tuple[Any, str]]:
        """Create an account and this device. Fires with (client, recovery phrase): show
        the phrase once. `email_code`: what the relay mailed (registration). `ca_file`
        (here and below): a PEM certificate or CA a wss:// relay must chain to. A ws://
        `url` off loopback needs `insecure_ws` (client.relay_url)."""
        return register(cls, RelayEndpoint(reactor, url, serializer, ca_file),
                        data_dir, email, password, name, cost or KdfCost(),
                        email_code, insecure_ws)

    @classmethod
    def login(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
              cost: KdfCost | None = None, serializer: str = "msgpack",
              recovery_phrase: str | None = None, ca_file: str | None = None,
              floor: KdfCost | None = None,
              insecure_ws: bool = False) -> defer.Deferred[Any]:
        """Sign in on a new device with the password (to the relay) and the recovery
        phrase (which opens the account key). Refusals change nothing, here or on the
        relay: InvalidRecoveryPhrase (a typo), WrongPassword, WrongRecoveryPhrase,
        RecoveryPhraseNeeded, LoginParametersRefused (hashing cheaper than `floor`)."""
        return login(cls, RelayEndpoint(reactor, url, serializer, ca_file), data_dir,
                     email, password, cost or KdfCost(), recovery_phrase,
                     floor or KdfCost(), insecure_ws)

    @classmethod
    def link(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             cost: KdfCost | None = None, serializer: str = "msgpack",
             ca_file: str | None = None, floor: KdfCost | None = None,
             insecure_ws: bool = False) -> defer.Deferred[linking.NewDeviceLink]:
        """Sign in on a new device by approval on an existing one. Fires with a
        linking.NewDeviceLink once the request is out: show `wait_code()`'s code, then
        `confirm()` or `cancel()`; `wait_result()` fires with the client."""
        return link(cls, RelayEndpoint(reactor, url, serializer, ca_file), data_dir,
                    email, password, cost or KdfCost(), floor or KdfCost(),
                    insecure_ws)

    @classmethod
    def open(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             serializer: str = "msgpack", ca_file: str | None = None,
             insecure_ws: bool = False) -> defer.Deferred[Any]:
        """Open an account already on this device, without the network (`start()`
        connects)."""
        return open_with_password(cls, RelayEndpoint(reactor, url, serializer,
                                  ca_file),
                                  data_dir, email, password, insecure_ws)

    @classmethod
    def open_with_pin(cls, reactor: Any, data_dir: str, url: str, email: str, pin: str,
                      serializer: str = "msgpack", ca_file: str | None = None,
                      insecure_ws: bool = False) -> defer.Deferred[Any]:
        """`open` with the quick-unlock PIN: WrongPin (tries left) or PinLocked."""
        return open_with_pin(cls, RelayEndpoint(reactor, url, serializer, ca_file),
                             data_dir, email, pin, insecure_ws)

    @staticmethod
    def has_pin(data_dir: str, email: str) -> bool:
        return has_pin(data_dir, email)

    @staticmethod
    def pin_keychain_bound() -> bool:
        """Whether a PIN set now is bound to the OS keychain (else a copy of the account
        directory is enough to guess it offline)."""
        return pin_lock.keychain_bound()

    @staticmethod
    def reset_password(reactor: Any, data_dir: str, url: str, email: str, recovery_phrase: str,
                       new_password: str, cost: KdfCost | None = None,
                       serializer: str = "msgpack",
                       ca_file: str | None = None) -> defer.Deferred[bool | None]:
        """Forgot password: the recovery phrase sets a new one. Fires True (this device's
        copy re-sealed), False (sign in again here) or None (no copy here)."""
        cost = cost or KdfCost()
        return recovery.reset_password(reactor, data_dir, url, email, recovery_phrase,
                                       new_password, cost.iterations, cost.memory_kib,
                                       serializer, ca_file)


# === the keys of an open account ===========================================================


@defer.inlineCallbacks
def set_pin(ctx: ClientContext, password: str, pin: str, cost: KdfCost | None) -> Any:
    """See SecureChatClient.set_pin."""
    pin_lock.check_format(pin)
    stored = yield threads.deferToThread(
        SecretStore(ctx.account_dir, ctx.me.user_id, password).load)
    device_keys = {"local_key": stored["local_key"], "device_seed": stored["device_seed"],
                   "identity_public": ctx.identity_public.hex()}
    cost = cost or PIN_COST
    yield threads.deferToThread(pin_lock.set_pin, ctx.account_dir, pin, device_keys,
                                cost.iterations, cost.memory_kib)


def remove_pin(ctx: ClientContext) -> defer.Deferred[None]:
    return threads.deferToThread(pin_lock.remove_pin, ctx.account_dir)


@defer.inlineCallbacks
def change_password(ctx: ClientContext, old: str, new: str, cost: KdfCost) -> Any:
    """See SecureChatClient.change_password."""
    relay = ctx.relay
    parameters = yield recovery.change_password(
        relay.reactor, relay.url, relay.serializer, ctx.account_dir, ctx.me.user_id, old,
        new, cost.iterations, cost.memory_kib, (yield login_policy(ctx.store)), relay.ca_file)
    yield pin_scram_parameters(ctx.store, parameters)


@defer.inlineCallbacks
def password_credentials(ctx: ClientContext, password: str) -> Any:
    return Password(ctx.me.user_id, password, (yield login_policy(ctx.store)))


# === helpers =================================================================================

# Account directories being registered or signed in by this process: a second click
# must not enroll a device the user never sees. Process-wide on purpose (two windows
# of one app share it); keyed by the absolute directory, so per data directory.
_SETTING_UP: set[str] = set()


@defer.inlineCallbacks
def _setting_up(data_dir: str, email: str, exists: str,
                work: Callable[[], defer.Deferred[Any]]) -> Any:
    """Run `work` (a registration or sign-in) unless the account is on this device
    already or being set up by another call."""
    account_dir = os.path.abspath(account_dir_of(data_dir, email))
    if os.path.exists(account_dir) or account_dir in _SETTING_UP:
        raise ClientError(exists)
    _SETTING_UP.add(account_dir)
    try:
        result = yield work()
    finally:
        _SETTING_UP.discard(account_dir)
    return result


def lock_account(account_dir: str) -> AccountLock:
    lock = AccountLock(account_dir)
    if not lock.acquire():
        raise AccountInUse("this account is open in another SecureChat window or program")
    return lock


def password_refused(e: JoinRefused) -> Exception:
    """What a refused password login means to the user."""
    if e.reason == uris.ERR_WRONG_PASSWORD:
        return WrongPassword("wrong password")
    if e.reason == uris.ERR_NO_SUCH_ACCOUNT:
        return NoSuchAccount("there is no account with this email")
    return e

