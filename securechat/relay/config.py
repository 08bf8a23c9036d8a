"""Everything an operator can tune, with the defaults `twistd securechat-relay` uses."""

from __future__ import annotations

import attrs


@attrs.frozen
class RelayConfig:
    # Transport.
    max_message_bytes: int = 1024 * 1024  # one WebSocket message (a WAMP frame)
    max_envelope_bytes: int = 256 * 1024  # one ciphertext in sc.message.send
    hello_timeout: float = 10.0  # seconds from connect to WELCOME
    ping_interval: float = 30.0  # WebSocket ping when the peer is silent this long
    ping_timeout: float = 15.0  # no pong in this long: the connection is dead
    # Rate limits (token buckets: a sustained rate and a burst).
    session_rate: float = 2000.0  # CALL/PUBLISH/SUBSCRIBE/REGISTER per second, per session
    session_burst: float = 4000.0
    account_rate: float = 4000.0  # envelopes per second, per account (all its devices)
    account_burst: float = 8000.0
    register_rate: float = 1.0  # registrations per second, per peer address
    register_burst: float = 10.0
    # Connections, counted from TCP accept per client address (IPv4) or /64 (IPv6).
    max_sessions_per_address: int = 64  # open connections, welcomed or not (a NAT'd home)
    max_pending_handshakes: int = 32  # of those, not yet welcomed
    max_connections: int | None = None  # all together; None: RLIMIT_NOFILE - fd_reserve
    fd_reserve: int = 64  # file descriptors kept free below RLIMIT_NOFILE (database, logs)
    anonymous_idle_timeout: float = 30.0  # an anonymous session silent this long is closed
    # Reverse proxies (addresses or CIDR networks) whose PROXY header or X-Forwarded-For
    # names the client; nobody else's is believed.
    trusted_proxies: tuple[str, ...] = ()
    # Accounts and keys.
    max_devices: int = 10
    max_prekeys: int = 200  # unclaimed one-time keys per device
    max_prekeys_per_call: int = 100
    prekeys_low: int = 20  # below this many one-time keys a claim tells the device
    claim_rate: float = 0.2  # prekey claims a second by one user for one target user
    claim_burst: float = 20.0
    claimer_rate: float = 5.0  # prekey claims a second by one user, whatever the target
    claimer_burst: float = 200.0
    # Mailbox.
    mailbox_ttl: float = 7 * 24 * 3600.0
    mailbox_max_count: int = 10_000
    mailbox_max_bytes: int = 256 * 1024 * 1024
    mailbox_fetch_limit: int = 500
    # One other user may fill this share of a device's mailbox; a stranger (whom the
    # device's user never wrote to through this relay) only a little of it.
    mailbox_sender_share: float = 0.25
    mailbox_stranger_count: int = 100
    mailbox_stranger_bytes: int = 2 * 1024 * 1024
    storage_max_bytes: int = 20 * 1024 ** 3  # every mailbox together: the disk budget
    purge_interval: float = 300.0
    # TURN (coturn's use-auth-secret REST credentials).
    turn_secret: str | None = attrs.field(default=None, repr=False)
    turn_uris: tuple[str, ...] = ()
    turn_ttl: int = 24 * 3600
