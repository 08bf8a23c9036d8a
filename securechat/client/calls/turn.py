"""TURN credentials from the relay (`sc.turn.credentials`), and the relay-only WebRTC
configuration they give.

The relay hands out coturn `use-auth-secret` credentials: `EXPIRY:RANDOM` and its HMAC
(relay.turn; the username names no one). They are fetched per call: they are cheap, and
a call never starts with expired ones.
"""

from __future__ import annotations

from typing import Any

import attrs
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.client.calls.model import CallsUnavailable
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError
from securechat.protocol import uris


@attrs.frozen
class TurnServers:
    uris: tuple[str, ...]
    username: str
    password: str = attrs.field(repr=False)
    ttl: int


@defer.inlineCallbacks
def fetch(ctx: ClientContext) -> Any:
    """Deferred[TurnServers], or CallsUnavailable (this relay has no TURN server),
    ClientError (offline)."""
    session = ctx.session
    if session is None:
        raise ClientError("not connected to the relay")
    try:
        raw = yield session.call(uris.TURN_CREDENTIALS)
    except ApplicationError as e:
        if e.error == uris.ERR_TURN_DISABLED:
            raise CallsUnavailable("this relay has no TURN server: calls are off") from None
        raise
    if not (type(raw) is dict and type(raw.get("username")) is str
            and type(raw.get("password")) is str and type(raw.get("uris")) is list
            and raw["uris"] and all(type(u) is str and u.startswith(("turn:", "turns:"))
                                    for u in raw["uris"])):
        raise CallsUnavailable("the relay's TURN credentials are malformed")
    return TurnServers(tuple(raw["uris"]), raw["username"], raw["password"],
                       int(raw.get("ttl") or 0))


def configuration(servers: TurnServers) -> Any:
    """Relay-only: no host or server-reflexive candidate, so the peer never learns an
    address of mine, only the TURN server's."""
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=list(servers.uris), username=servers.username,
                                 credential=servers.password)],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
