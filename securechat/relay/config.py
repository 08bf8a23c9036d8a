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
    max_pending_handshakes: int = 256  # unauthenticated sessions per peer address
    # Accounts and keys.
    max_devices: int = 10
    # A device enrolled without a certificate waits this long for an approval on
    # another device of its account, then it is removed.
    pending_device_ttl: float = 15 * 60.0
    max_prekeys: int = 200  # unclaimed one-time keys per device
    max_prekeys_per_call: int = 100
    # Mailbox.
    mailbox_ttl: float = 7 * 24 * 3600.0
    mailbox_max_count: int = 10_000
    mailbox_max_bytes: int = 256 * 1024 * 1024
    mailbox_fetch_limit: int = 500
    purge_interval: float = 300.0
    # TURN (coturn's use-auth-secret REST credentials).
    turn_secret: str | None = attrs.field(default=None, repr=False)
    turn_uris: tuple[str, ...] = ()
    turn_ttl: int = 24 * 3600
