"""Helpers for driving a real relay from tests and benchmarks (no fakes inside).

`start_relay` runs the real `RelayService` on a loopback port; `register_account`
and `enroll_device` go through the relay's real procedures with real keys,
exactly as the client core does, minus the client's local storage.

It joins the relay as a client (securechat.client.wamp), so it lives outside
securechat/relay/: the relay never imports the client.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet import defer, threads

import securechat.testing_servers as testing_servers
from securechat.client.scram_pinning import Floor
from securechat.client.wamp import Anonymous, DeviceKey, Password, RelaySession, connect, leave
from securechat.protocol import scram, uris
from securechat.protocol.encoding import b64
from securechat.protocol.keys import device_certificate, user_id_for_email
from securechat.relay.blobstore import default_directory
from securechat.relay.config import RelayConfig
from securechat.relay.service import RelayService

# Argon2id at the relay's minimum cost keeps test logins fast; real clients
# use scram.DEFAULT_MEMORY_KIB.
TEST_SCRAM_MEMORY = scram.MIN_MEMORY_KIB
TEST_SCRAM_ITERATIONS = scram.MIN_ITERATIONS


def for_tests(config: RelayConfig | None) -> RelayConfig:
    """A config as tests (and benchmarks) run it: the SCRAM floors lowered to the test
    accounts' cheap verifiers, and email verification off unless an SMTP server is
    configured (a test of verification runs one on loopback)."""
    config = config or RelayConfig()
    return attrs.evolve(
        config,
        email_verification=config.email_verification and config.smtp is not None,
        min_scram_memory=min(config.min_scram_memory, TEST_SCRAM_MEMORY),
        min_scram_iterations=min(config.min_scram_iterations, TEST_SCRAM_ITERATIONS),
    )
# A password login accepts such cheap parameters only when told to (client.scram_pinning).
TEST_LOGIN_FLOOR = Floor(iterations=1, memory=TEST_SCRAM_MEMORY)


def _raw_public(key: Any) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@defer.inlineCallbacks
def start_relay(reactor: Any, db_path: str, config: RelayConfig | None = None,
                clock: Any = None, listen: str = "tcp:0:interface=127.0.0.1",
                as_configured: bool = False) -> Any:
    """Deferred[(RelayService, url)]: a started relay and its ws:// URL. The config goes
    through `for_tests` unless `as_configured`."""
    if not as_configured:
        config = for_tests(config)
    db = testing_servers.test_database(db_path)
    if "://" in db and (config is None or config.blob_dir is None):
        # A PostgreSQL relay needs its blob directory named: where the file `db_path`
        # (which the database stands for) would keep it.
        config = attrs.evolve(config or RelayConfig(), blob_dir=default_directory(db_path))
    service = RelayService(reactor, [listen], db, config, clock=clock)
    service.startService()
    ports = yield service.ready
    return service, f"ws://127.0.0.1:{ports[0].getHost().port}"


@attrs.define
class TestAccount:
    email: str
    password: str = attrs.field(repr=False)
    user_id: str
    identity: Ed25519PrivateKey = attrs.field(repr=False)
    recovery_blob: bytes = attrs.field(repr=False)

    @property
    def identity_public(self) -> str:
        return b64(_raw_public(self.identity))


@attrs.define
class TestDevice:
    account: TestAccount
    key: DeviceKey
    identity_key: str  # Curve25519 public, base64

    @property
    def device_id(self) -> str:
        return self.key.device_id

    @property
    def user_id(self) -> str:
        return self.account.user_id


def registration_args(email: str, password: str, memory: int = TEST_SCRAM_MEMORY,
                      iterations: int = TEST_SCRAM_ITERATIONS) -> tuple[TestAccount, list[Any]]:
    """A new account's keys and the arguments of sc.account.register (slow: Argon2id)."""
    identity = Ed25519PrivateKey.generate()
    verifier = scram.make_verifier(password, iterations=iterations, memory=memory)
    account = TestAccount(email, password, user_id_for_email(email), identity, os.urandom(96))
    args = [
        account.user_id,
        account.identity_public,
        {
            "kdf": verifier.kdf,
            "salt": verifier.salt,
            "iterations": verifier.iterations,
            "memory": verifier.memory,
            "stored_key": b64(verifier.stored_key),
            "server_key": b64(verifier.server_key),
        },
        account.recovery_blob,
    ]
    return account, args


@defer.inlineCallbacks
def register_account(reactor: Any, url: str, email: str, password: str,
                     serializer: str = "msgpack", email_code: str | None = None) -> Any:
    """Deferred[TestAccount], registered anonymously on the relay (with the mailed code
    when the relay verifies emails)."""
    account, args = yield threads.deferToThread(registration_args, email, password)
    session = yield connect(reactor, url, Anonymous(), serializer)
    try:
        if email_code is None:
            yield session.call(uris.ACCOUNT_REGISTER, *args)
        else:
            yield session.call(uris.ACCOUNT_REGISTER, *args, email_code)
    finally:
        yield leave(session)
    return account


def device_enrollment(account: TestAccount, device_id: str | None = None) -> tuple[
        TestDevice, list[Any]]:
    """New device keys signed by the account key, and the sc.device.enroll arguments."""
    key = DeviceKey.generate(device_id or os.urandom(8).hex())
    identity_key = b64(_raw_public(X25519PrivateKey.generate()))
    device = TestDevice(account, key, identity_key)
    signature = account.identity.sign(
        device_certificate(account.user_id, key.device_id, key.public_hex, identity_key))
    return device, [key.device_id, key.public_hex, identity_key, b64(signature)]


@defer.inlineCallbacks
def enroll_device(reactor: Any, url: str, account: TestAccount, device_id: str | None = None,
                  serializer: str = "msgpack", session: RelaySession | None = None) -> Any:
    """Deferred[TestDevice]: log in with the password (SCRAM) and enroll new device keys."""
    device, args = device_enrollment(account, device_id)
    own = session is None
    if session is None:
        session = yield connect(reactor, url, password_login(account), serializer)
    try:
        yield session.call(uris.DEVICE_ENROLL, *args)
    finally:
        if own:
            yield leave(session)
    return device


@defer.inlineCallbacks
def enroll_pending_device(reactor: Any, url: str, account: TestAccount,
                          device_id: str | None = None, serializer: str = "msgpack") -> Any:
    """Deferred[TestDevice]: enroll device keys without a certificate (pending approval)."""
    device, args = device_enrollment(account, device_id)
    session = yield connect(reactor, url, password_login(account), serializer)
    try:
        yield session.call(uris.DEVICE_ENROLL, *args[:3], None)
    finally:
        yield leave(session)
    return device


def certificate_signature(account: TestAccount, device: TestDevice) -> str:
    """The account identity key's signature over a device's keys (for sc.device.certify)."""
    return b64(account.identity.sign(device_certificate(
        account.user_id, device.device_id, device.key.public_hex, device.identity_key)))


def password_login(account: TestAccount) -> Password:
    """SCRAM credentials for a test account (registered at the test cost)."""
    return Password(account.user_id, account.password, TEST_LOGIN_FLOOR)


def connect_device(reactor: Any, url: str, device: TestDevice,
                   serializer: str = "msgpack") -> defer.Deferred[RelaySession]:
    return connect(reactor, url, device.key, serializer)

