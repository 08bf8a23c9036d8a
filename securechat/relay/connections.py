"""Who may hold a connection: per-address and global caps, counted from TCP accept.

Every TCP connection is admitted (or refused) the moment it is accepted, before
any HTTP or WebSocket byte: a socket that never finishes its upgrade (slowloris)
counts like a welcomed session. Limits are kept per client *address key*: the IPv4
address, or the /64 network of an IPv6 address (one household or host gets a
whole /64). A connection stays "pending" from accept until its WELCOME.

Behind a reverse proxy the TCP peer is the proxy. Connections from a configured
trusted proxy are counted only globally at accept; their client address comes
from the PROXY protocol header (v1/v2, `haproxy:` endpoints) or the last
untrusted hop of `X-Forwarded-For` in the upgrade request, and is counted then.
Nobody else's PROXY header or `X-Forwarded-For` is ever believed.
"""

from __future__ import annotations

import ipaddress
import resource
from collections import Counter
from collections.abc import Callable, Iterable

import attrs
from twisted.logger import Logger

from securechat.relay.config import RelayConfig

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """A connection over a cap; `status` is the HTTP status its client is sent."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def address_key(host: str) -> str:
    """What per-address limits count by: an IPv4 address, or an IPv6 address's /64
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host  # a UNIX socket path, say: one key per name
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`--trusted-proxy` values: addresses or CIDR networks. Raises ValueError."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def connection_cap(configured: int | None, reserve: int) -> int:
    """The global connection cap: `configured`, but always `reserve` file descriptors
    below the process's RLIMIT_NOFILE (the database, logs and threads need some)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = configured if configured is not None else 1 << 30
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, soft - reserve)
    return max(cap, 1)


@attrs.define(eq=False)
class Admission:
    """One accepted TCP connection's place in the counts."""

    tcp_peer: str  # the address that connected (a proxy, perhaps)
    from_proxy: bool  # tcp_peer is a trusted proxy: the client is named later
    address: str = ""  # the client's address, once known
    key: str | None = None  # what it is counted under, once known
    pending: bool = True  # not welcomed yet
    released: bool = False


class Connections:
    """The counts of every open connection, and the caps that refuse new ones."""

    log = Logger()

    def __init__(self, config: RelayConfig, max_connections: int | None = None) -> None:
        self._config = config
        self._proxies = parse_networks(config.trusted_proxies)
        self.max_connections = (max_connections if max_connections is not None
                                else connection_cap(config.max_connections, config.fd_reserve))
        self.total = 0
        self._per_key: Counter[str] = Counter()  # connections per address key
        self._pending: Counter[str] = Counter()  # of those, not welcomed yet

    def is_trusted_proxy(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._proxies)

    def per_address(self, key: str) -> tuple[int, int]:
        """(connections, of which pending) counted under this address key."""
        return self._per_key[key], self._pending[key]

    # --- the life of a connection ------------------------------------------------

    def accept(self, tcp_peer: str, proxy_header: bool = False) -> Admission:
        """A TCP connection was accepted. `proxy_header`: it is to begin with a
        PROXY protocol header (only a trusted proxy may send one). Raises Refused."""
        from_proxy = self.is_trusted_proxy(tcp_peer)
        if proxy_header and not from_proxy:
            raise Refused(403, "PROXY protocol headers are accepted only from trusted proxies")
        if self.total >= self.max_connections:
            raise Refused(503, "the relay is at its connection limit; try again later")
        admission = Admission(tcp_peer, from_proxy)
        if not from_proxy:
            self._count(admission, tcp_peer)
        self.total += 1
        return admission

    def identify(self, admission: Admission, client: str | None) -> None:
        """A trusted proxy named its client (None: it did not; the proxy's own
        address then stands for it). Raises Refused."""
        if admission.key is not None or admission.released:
            return
        self._count(admission, client or admission.tcp_peer)

    def welcomed(self, admission: Admission) -> None:
        if admission.pending and admission.key is not None and not admission.released:
            self._pending[admission.key] -= 1
            if self._pending[admission.key] <= 0:
                del self._pending[admission.key]
        admission.pending = False

    def release(self, admission: Admission) -> None:
        """The connection is gone (idempotent)."""
        if admission.released:
            return
        admission.released = True
        self.total -= 1
        key = admission.key
        if key is None:
            return
        self._per_key[key] -= 1
        if self._per_key[key] <= 0:
            del self._per_key[key]
        if admission.pending:
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]

    def _count(self, admission: Admission, address: str) -> None:
        key = address_key(address)
        config = self._config
        if self._per_key[key] >= config.max_sessions_per_address:
            raise Refused(429, "too many connections from this address")
        if self._pending[key] >= config.max_pending_handshakes:
            raise Refused(429, "too many unauthenticated connections from this address")
        admission.address, admission.key = address, key
        self._per_key[key] += 1
        self._pending[key] += 1


def forwarded_client(header: str | None, is_trusted: Callable[[str], bool]) -> str | None:
    """The client named by an `X-Forwarded-For` header: its last hop that is not a
    trusted proxy (the hops before it are whatever the client wrote). None when the
    header is missing, malformed, or names only trusted proxies."""
    if not header:
        return None
    for hop in reversed([h.strip() for h in header.split(",")]):
        try:
            ipaddress.ip_address(hop.split("%", 1)[0])
        except ValueError:
            return None  # a garbled hop: believe nothing left of it
        if not is_trusted(hop):
            return hop
    return None
