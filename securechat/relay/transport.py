"""WAMP over WebSocket for the router: negotiation, validation, size limits, pings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autobahn.exception import Disconnected
from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp.exception import TransportLost
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from autobahn.websocket.types import ConnectionDeny, ConnectionRequest

# Private module, but the only way to tell a `haproxy:` endpoint's connection apart
# (twisted.protocols.haproxy exports just proxyEndpoint); its API is stable since 16.x.
from twisted.protocols.haproxy._wrapper import HAProxyProtocolWrapper
from twisted.protocols.tls import TLSMemoryBIOProtocol

from securechat.protocol.wamp_validation import InvalidMessage, UriTooLong, parse
from securechat.relay.config import RelayConfig
from securechat.relay.connections import Admission, Connections, Refused, forwarded_client


class RelayServerProtocol(WampWebSocketServerProtocol):
    """Decodes each WebSocket message and validates every WAMP message in it
    before the session sees it; anything malformed aborts only this session.

    Admits the TCP connection when it is accepted (see relay.connections) and
    names its client (`client_address`) once the upgrade request is in.
    """

    admission: Admission | None = None
    client_address = ""

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self._session
        if session is None:
            return
        serializer = self._serializer._serializer  # the object serializer underneath
        try:
            if isBinary != serializer.BINARY:
                raise InvalidMessage(
                    f"{'binary' if isBinary else 'text'} WebSocket message on a "
                    f"{'binary' if serializer.BINARY else 'text'} serializer"
                )
            try:
                raws = serializer.unserialize(payload)
            except Exception as e:
                raise InvalidMessage(f"undecodable {serializer.NAME} ({type(e).__name__})") from e
            messages = [self._parse(raw) for raw in raws]
        except InvalidMessage as e:
            session.protocol_violation(str(e))
            return
        session.frame_bytes = len(payload)
        for msg in messages:
            if self._session is None:
                return
            if isinstance(msg, UriTooLong):
                session.uri_too_long(msg)
            else:
                session.onMessage(msg)

    def _parse(self, raw: Any) -> Any:
        """The message, or the UriTooLong refusal of a request (which gets an ERROR)."""
        try:
            return parse(raw, self.factory.max_uri_length)
        except UriTooLong as e:
            if e.request is None:
                raise
            return e

    def _connectionLost(self, reason: Any) -> None:
        # autobahn leaves the close-handshake timer armed when the peer drops
        # the TCP connection first; a dead timer per closed connection adds up.
        if self.closeHandshakeTimeoutCall is not None:
            self.closeHandshakeTimeoutCall.cancel()
            self.closeHandshakeTimeoutCall = None
        super()._connectionLost(reason)

    def send(self, msg: Any) -> int:
        """Send one message; returns its size in bytes (the session's flow control)."""
        # autobahn's send() formats a trace line for every message even with
        # tracing off; the router sends a lot of messages, so skip that.
        if self._session is None:
            raise TransportLost()
        payload, is_binary = self._serializer.serialize(msg)
        try:
            self.sendMessage(payload, is_binary)
        except Disconnected:
            raise TransportLost() from None
        return len(payload)

    def connectionMade(self) -> None:
        super().connectionMade()
        # autobahn means to set this from its factory option but does so before
        # reading it, and swallows the error: without it, small EVENTs wait for
        # delayed ACKs (up to 40 ms) whenever the peer also sends (acks, calls).
        self.transport.setTcpNoDelay(True)
        # Behind a `haproxy:` endpoint this runs before the PROXY header is read:
        # the peer is still the TCP peer here.
        proxied = isinstance(self.transport, HAProxyProtocolWrapper)
        tcp = self.transport.transport if proxied else self.transport
        tcp_peer = getattr(tcp.getPeer(), "host", "")
        try:
            self.admission = self.factory.connections.accept(tcp_peer, proxy_header=proxied)
        except Refused as refused:
            self._refuse(refused)
            return
        self.client_address = self.admission.address

    def onConnect(self, request: ConnectionRequest) -> Any:
        admission = self.admission
        if admission is None:  # refused at accept; autobahn reads on regardless
            raise ConnectionDeny(503, "refused")
        if admission.from_proxy:
            connections: Connections = self.factory.connections
            if isinstance(self.transport, HAProxyProtocolWrapper):
                source = self.transport.getPeer()  # what the PROXY header says
                client = getattr(source, "host", None)
                client = None if client == admission.tcp_peer else client
            else:
                client = forwarded_client(request.headers.get("x-forwarded-for"),
                                          connections.is_trusted_proxy)
            try:
                connections.identify(admission, client)
            except Refused as refused:
                raise ConnectionDeny(refused.status, refused.reason) from None
            self.client_address = admission.address
        return super().onConnect(request)

    def _refuse(self, refused: Refused) -> None:
        """Over a cap at accept: say why in HTTP (the client has not asked yet, but
        reads the answer to its upgrade request) and close at once."""
        if isinstance(self.transport, TLSMemoryBIOProtocol):
            # No TLS handshake (CPU, and time the socket stays open) to tell a
            # refused client why.
            self.transport.abortConnection()
            return
        self.failHandshake(refused.reason, refused.status)

    def connectionLost(self, reason: Any) -> None:
        if self.admission is not None:
            self.factory.connections.release(self.admission)
        super().connectionLost(reason)


def make_factory(session_factory: Callable[[], Any], config: RelayConfig,
                 connections: Connections) -> Any:
    factory = WampWebSocketServerFactory(
        session_factory,
        serializers=[CBORSerializer(), MsgPackSerializer(), JsonSerializer()],
    )
    factory.protocol = RelayServerProtocol
    factory.connections = connections
    factory.max_uri_length = config.max_uri_length
    factory.setProtocolOptions(
        maxFramePayloadSize=config.max_message_bytes,
        maxMessagePayloadSize=config.max_message_bytes,
        autoPingInterval=config.ping_interval,
        autoPingTimeout=config.ping_timeout,
        openHandshakeTimeout=config.hello_timeout,
        closeHandshakeTimeout=5,
        # Tell a misbehaving peer why (1009 too big, 1007 bad UTF-8) before closing.
        failByDrop=False,
        # The relay never serves browsers pages; any Origin may connect, auth decides.
        allowedOrigins=["*"],
    )
    factory.noisy = False
    return factory
