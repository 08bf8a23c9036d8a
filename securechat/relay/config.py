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
    # A call to a relay procedure costs 1 + (items in its list and map arguments) /
    # call_cost_items tokens: a 5,000-contact presence declaration is not one request.
    call_cost_items: int = 10
    # What one session may hold in the relay's memory (H5); past each cap a request is
    # refused at once with its own error and the session carries on.
    max_uri_length: int = 256  # characters of any URI in any message
    max_calls_in_flight: int = 64  # unanswered CALLs per session
    max_request_bytes_in_flight: int = 4 * 1024 * 1024  # their frames: past it, reading pauses
    max_invocations_pending: int = 64  # unanswered INVOCATIONs to one session's procedures
    max_subscriptions: int = 100  # per session
    max_registrations: int = 50  # per session
    # Bytes queued to a session that does not read (beyond the socket's own buffer):
    # past this it is disconnected; its envelopes stay in the mailbox.
    max_send_buffer_bytes: int = 8 * 1024 * 1024
    refusal_log_interval: float = 60.0  # a session's refusals are logged once in this long
    # Accounts and keys.
    max_devices: int = 10
    max_prekeys: int = 200  # unclaimed one-time keys per device
    max_prekeys_per_call: int = 100
    prekeys_low: int = 20  # below this many one-time keys a claim tells the device
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
