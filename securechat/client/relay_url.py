"""Which relay URLs a client accepts: wss://, or ws:// only to this machine (review L2).

Over ws:// anyone on the path reads and rewrites the WAMP traffic: they can play the
relay for a password login or pass a device's cryptosign challenge on to the real
relay. On loopback (127.0.0.0/8, ::1, localhost) there is no path to be on; for
anything else the user has to ask for it explicitly (`--insecure-ws`).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

from twisted.internet import defer

from securechat.client.errors import InsecureRelayUrl

INSECURE_FLAG = "--insecure-ws"


def relay_urls(url: str) -> tuple[str, ...]:
    """The relay URLs in `url`: one, or a cluster's nodes separated by commas or spaces
    ("wss://a.example:8443,wss://b.example:8443"), tried in that order."""
    return tuple(part for part in re.split(r"[,\s]+", url) if part)



def is_loopback(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # a host name other than localhost: DNS decides where it goes
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_relay_url(url: str, insecure_ws: bool = False) -> None:
    """Raise InsecureRelayUrl unless `url` (each of its URLs, see `relay_urls`) is
    wss://, ws:// to loopback, or ws:// anywhere with `insecure_ws`. Nothing is
    connected to."""
    urls = relay_urls(url)
    if len(urls) > 1:
        for one in urls:
            check_relay_url(one, insecure_ws)
        return
    try:
        parsed = urlparse(url)
        scheme, host = parsed.scheme, parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        scheme, host = "", None
    if scheme not in ("ws", "wss") or not host:
        raise InsecureRelayUrl(f"{url!r} is not a relay URL: use wss://host:port "
                               "(or ws://127.0.0.1:port for a relay on this machine)")
    if scheme == "ws" and not insecure_ws and not is_loopback(host):
        raise InsecureRelayUrl(
            f"refusing to connect to {url} without encryption: over ws:// anyone on the "
            "network can read and change what this client sends, and pose as the relay. "
            f"Use wss://, or pass {INSECURE_FLAG} if you really mean it (a test network)")


def relay_url_checked(url: str, insecure_ws: bool = False) -> defer.Deferred[None]:
    """`check_relay_url` as a Deferred: fires None, or fails with InsecureRelayUrl."""
    try:
        check_relay_url(url, insecure_ws)
    except InsecureRelayUrl:
        return defer.fail()
    return defer.succeed(None)
