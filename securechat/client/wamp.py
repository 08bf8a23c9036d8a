"""Joining the relay as a WAMP client, with each of its authentication methods.

`connect()` opens a WebSocket to the relay, joins the realm and fires with a
joined `RelaySession`, or fails with `JoinRefused` carrying the relay's ABORT
reason (`sc.error.wrong_password`, `sc.error.no_such_device`, ...).
"""

from __future__ import annotations

import base64
import hmac
import os
from typing import Any
from urllib.parse import urlparse

import attrs
from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory, WampWebSocketClientProtocol
from autobahn.wamp import types
from autobahn.wamp.cryptosign import CryptosignKey
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.internet import defer, endpoints, threads

import securechat.client.tls as tls
from securechat.client.errors import BadCaFile, ClientError, LoginParametersRefused, RelayNotProven
from securechat.client.scram_pinning import Floor, LoginPolicy, ScramParameters, check_challenge
from securechat.protocol import scram, uris

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
KEEPALIVE_INTERVAL = 25  # seconds between WebSocket pings from the client
KEEPALIVE_TIMEOUT = 10  # a pong later than this: the connection is dead


class JoinRefused(Exception):
    """The relay aborted the session; `reason` is its error URI."""

    def __init__(self, reason: str, message: str | None) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message


@attrs.frozen
class Anonymous:
    """May only register an account."""


@attrs.frozen
class Password:
    """SCRAM login to an account (to enroll a device or fetch the recovery blob).

    `policy` says which KDF parameters the relay may ask for (client.scram_pinning):
    by default the secure floor for a device with nothing pinned."""

    user_id: str
    password: str = attrs.field(repr=False)
    policy: LoginPolicy = attrs.field(factory=Floor)


@attrs.frozen
class DeviceKey:
    """Cryptosign login of an enrolled device with its Ed25519 signing key."""

    device_id: str
    seed: bytes = attrs.field(repr=False)  # the 32-byte Ed25519 private seed

    @classmethod
    def generate(cls, device_id: str) -> DeviceKey:
        return cls(device_id, os.urandom(32))

    @property
    def public_hex(self) -> str:
        return str(CryptosignKey.from_bytes(self.seed).public_key())

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature by this device (its certificate names the public key)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(data)


Credentials = Anonymous | Password | DeviceKey


class RelaySession(ApplicationSession):
    """An autobahn session that answers the relay's challenges for its credentials."""

    def __init__(self, credentials: Credentials) -> None:
        super().__init__(types.ComponentConfig(realm=uris.REALM))
        self.credentials = credentials
        self.joined: defer.Deferred[RelaySession] = defer.Deferred()
        self.left: defer.Deferred[types.CloseDetails] = defer.Deferred()
        self.disconnected: defer.Deferred[None] = defer.Deferred()  # the transport is gone
        self.details: types.SessionDetails | None = None
        self._scram_state: tuple[str, bytes, bytes] | None = None  # nonce, salted, message
        # The SCRAM parameters this session accepted (and proved the password with).
        self.scram_parameters: ScramParameters | None = None
        self._refusal: ClientError | None = None  # why we ended the login ourselves

    def onConnect(self) -> None:
        c = self.credentials
        if isinstance(c, DeviceKey):
            self.join(uris.REALM, ["cryptosign"], c.device_id, authextra={"pubkey": c.public_hex})
        elif isinstance(c, Password):
            nonce = base64.b64encode(os.urandom(18)).decode("ascii")
            self._scram_state = (nonce, b"", b"")
            self.join(uris.REALM, ["scram"], c.user_id, authextra={"nonce": nonce})
        else:
            self.join(uris.REALM, ["anonymous"])

    @defer.inlineCallbacks
    def onChallenge(self, challenge: types.Challenge) -> Any:
        c = self.credentials
        if challenge.method == "cryptosign" and isinstance(c, DeviceKey):
            return (yield CryptosignKey.from_bytes(c.seed).sign_challenge(challenge))
        if challenge.method == "scram" and isinstance(c, Password) and self._scram_state:
            nonce = self._scram_state[0]
            try:  # before any work: a hostile relay gets no proof it could crack cheaply
                params = check_challenge(c.policy, nonce, challenge.extra)
            except LoginParametersRefused as e:
                self._refusal = e  # the join fails with it once the ABORT closed the line
                raise
            # Argon2id takes a noticeable fraction of a second: off the loop.
            salted = yield threads.deferToThread(
                scram.salted_password, c.password, params.salt, params.iterations,
                params.memory)
            message = scram.auth_message(c.user_id, nonce, challenge.extra["nonce"],
                                         params.salt, params.iterations)
            self._scram_state = (nonce, salted, message)
            self.scram_parameters = params
            return scram.client_proof(salted, message)
        raise ValueError(f"unexpected {challenge.method} challenge")

    def onWelcome(self, welcome: Any) -> str | None:
        if isinstance(self.credentials, Password) and self._scram_state:
            _, salted, message = self._scram_state
            expected = scram.expected_server_signature(salted, message)
            got = (welcome.authextra or {}).get("scram_server_signature", "")
            if self.scram_parameters is None:  # a WELCOME without our proof: not the relay
                self._refusal = RelayNotProven("the relay did not ask for a password proof: "
                                               "it may not be the real relay")
            elif not hmac.compare_digest(expected, str(got)):
                self._refusal = RelayNotProven("the relay did not prove it knows this "
                                               "account's verifier: it may not be the real relay")
            if self._refusal is not None:
                return str(self._refusal)  # ABORT; `joined` fails once the line closes
        return None

    def onJoin(self, details: types.SessionDetails) -> None:
        self.details = details
        if not self.joined.called:
            self.joined.callback(self)
        else:  # the attempt was cancelled (the client stopped) while joining: go
            self.leave()

    def onUserError(self, fail: Any, msg: str) -> None:
        if isinstance(getattr(fail, "value", None), LoginParametersRefused):
            return  # a refusal of ours, not a bug: the caller gets it from `joined`
        super().onUserError(fail, msg)

    def onLeave(self, details: types.CloseDetails) -> Any:
        # A refusal of ours fails `joined` once the connection it closes is gone.
        if not self.joined.called and self._refusal is None:
            self.joined.errback(JoinRefused(details.reason, details.message))
        if not self.left.called:
            self.left.callback(details)
        return super().onLeave(details)

    def onDisconnect(self) -> None:
        if not self.joined.called:
            self.joined.errback(self._refusal or JoinRefused(
                uris.ERR_CONNECTION_LOST, "the connection closed before joining"))
        if not self.left.called:
            self.left.callback(types.CloseDetails(uris.ERR_CONNECTION_LOST))
        super().onDisconnect()
        if not self.disconnected.called:
            self.disconnected.callback(None)

    def abort(self) -> None:
        """Drop the connection now, without a goodbye (a relay that stopped answering)."""
        protocol = self._transport
        tcp = getattr(protocol, "transport", None)
        if tcp is not None:
            tcp.abortConnection()


class _ClientProtocol(WampWebSocketClientProtocol):
    """Reports a connection that closes before the WebSocket opens (a failed TLS
    handshake, an HTTP refusal) to the waiting session instead of leaving it hanging."""

    def connectionMade(self) -> None:
        super().connectionMade()
        self.transport.setTcpNoDelay(True)  # see RelayServerProtocol.connectionMade

    _lost: Any = None  # why the TCP/TLS connection ended

    def connectionLost(self, reason: Any) -> None:
        self._lost = reason
        super().connectionLost(reason)

    def _connectionLost(self, reason: Any) -> None:
        # autobahn leaves the close-handshake timer armed when the relay drops the TCP
        # connection first (as it does after our ABORT): see RelayServerProtocol.
        if self.closeHandshakeTimeoutCall is not None:
            self.closeHandshakeTimeoutCall.cancel()
            self.closeHandshakeTimeoutCall = None
        super()._connectionLost(reason)

    def onClose(self, wasClean: bool, code: int, reason: str | None) -> None:
        if self._session is None:
            session = self.factory.pending_session
            if not session.joined.called:
                untrusted = tls.untrusted_certificate(self._lost)
                session.joined.errback(
                    JoinRefused(uris.ERR_UNTRUSTED_CERTIFICATE, untrusted) if untrusted else
                    JoinRefused(uris.ERR_CONNECTION_FAILED,
                                reason or "the connection closed before the WebSocket opened"))
            if not session.disconnected.called:
                session.disconnected.callback(None)
        super().onClose(wasClean, code, reason)


def connect(reactor: Any, url: str, credentials: Credentials, serializer: str = "msgpack",
            endpoint: Any = None, ca_file: str | None = None) -> defer.Deferred[RelaySession]:
    """Join the relay at `url` (ws://host:port or wss://host:port).

    For wss://, `ca_file` (PEM: the relay's own certificate, or the CA that signed
    it) is trusted instead of the system's CAs; a relay whose certificate is not
    trusted fails with JoinRefused(sc.error.untrusted_certificate). `endpoint`
    overrides the client endpoint built from the URL.
    """
    session = RelaySession(credentials)
    factory = WampWebSocketClientFactory(lambda: session, url=url,
                                         serializers=[SERIALIZERS[serializer]()])
    factory.protocol = _ClientProtocol
    factory.pending_session = session
    factory.noisy = False
    # A connection that died without a reset (sleep, a new network) reads as open:
    # pings find it out and close it, and the client reconnects.
    factory.setProtocolOptions(autoPingInterval=KEEPALIVE_INTERVAL,
                               autoPingTimeout=KEEPALIVE_TIMEOUT)
    parsed = urlparse(url)
    secure = parsed.scheme == "wss"
    port = parsed.port or (443 if secure else 80)
    host = parsed.hostname or "127.0.0.1"
    if endpoint is None and secure:
        try:
            options = tls.client_options(host, ca_file)
        except BadCaFile as e:
            return defer.fail(e)
        endpoint = endpoints.wrapClientTLS(options, endpoints.HostnameEndpoint(reactor, host, port))
    elif endpoint is None:
        endpoint = endpoints.clientFromString(reactor, f"tcp:{host}:{port}")
    d = endpoint.connect(factory)
    d.addCallback(lambda _: session.joined)
    return d


@defer.inlineCallbacks
def leave(session: RelaySession) -> Any:
    """Leave (if still attached) and wait until the connection is closed."""
    if session.is_attached():
        session.leave()
    yield session.disconnected
