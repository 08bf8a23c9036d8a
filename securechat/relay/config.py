"""Everything an operator can tune, with the defaults `twistd securechat-relay` uses."""

from __future__ import annotations

import attrs


@attrs.frozen
class SmtpSettings:
    """Where the relay's mail (email verification codes) goes out."""

    endpoint: str  # a Twisted client endpoint string: tcp:host=smtp.example.org:port=587
    sender: str  # the From address
    starttls: bool = False  # require STARTTLS (its certificate checked for the endpoint host)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0  # seconds a mail may take to hand over

    @property
    def host(self) -> str | None:
        """The host name in the endpoint string (what STARTTLS verifies), if any."""
        kind, _, rest = self.endpoint.partition(":")
        parts = rest.split(":")
        for part in parts:
            if part.startswith("host="):
                return part[len("host="):]
        positional = [p for p in parts if "=" not in p]
        return positional[0] if kind in ("tcp", "tls") and positional else None


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
    # Password (SCRAM) failures: per (account, source address or IPv6 /64) the first
    # `password_free_failures` are answered at once, then each waits twice as long as
    # the one before (from `password_backoff` seconds, at most `password_backoff_max`).
    password_free_failures: int = 5
    password_backoff: float = 2.0
    password_backoff_max: float = 3600.0
    # Per account, every source together: guesses beyond this bucket are answered
    # later (never refused: the owner must still get in), by at most this delay.
    password_account_rate: float = 5 / 60
    password_account_burst: float = 10.0
    password_max_delay: float = 4.0  # below hello_timeout
    # Per source, every account together (so cycling accounts gains nothing).
    password_source_rate: float = 0.1
    password_source_burst: float = 30.0
    # Registration: the email is proven by a mailed code (off only for development
    # relays), and SCRAM verifiers must cost at least this much Argon2id.
    email_verification: bool = True
    smtp: SmtpSettings | None = None
    email_code_ttl: float = 15 * 60.0
    email_code_attempts: int = 5  # wrong codes per email before a new code is needed
    email_codes_per_email_rate: float = 1 / 300  # mails to one address
    email_codes_per_email_burst: float = 3.0
    email_codes_per_source_rate: float = 1 / 60  # code requests from one address
    email_codes_per_source_burst: float = 5.0
    min_scram_iterations: int = 3
    min_scram_memory: int = 65536  # KiB
    # Connections, counted from TCP accept per client address (IPv4) or /64 (IPv6).
    max_sessions_per_address: int = 64  # open connections, welcomed or not (a NAT'd home)
    max_pending_handshakes: int = 32  # of those, not yet welcomed
    max_connections: int | None = None  # all together; None: RLIMIT_NOFILE - fd_reserve
    fd_reserve: int = 64  # file descriptors kept free below RLIMIT_NOFILE (database, logs)
    anonymous_idle_timeout: float = 30.0  # an anonymous session silent this long is closed
    # Reverse proxies (addresses or CIDR networks) whose PROXY header or X-Forwarded-For
    # names the client; nobody else's is believed.
    trusted_proxies: tuple[str, ...] = ()
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
    # A device enrolled without a certificate waits this long for an approval on
    # another device of its account, then it is removed.
    pending_device_ttl: float = 15 * 60.0
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
    # Blob store (encrypted file sharing, relay.blobs): ciphertext chunks on disk, in
    # `blob_dir` (None: a directory beside the database).
    blob_dir: str | None = None
    blob_max_bytes: int = 2 * 1024 ** 3  # one file's ciphertext
    blob_quota_bytes: int = 10 * 1024 ** 3  # one account's live blobs together
    blob_max_count: int = 1000  # one account's live blobs
    blob_max_chunk_bytes: int = 512 * 1024 + 64  # one chunk (a chunk's nonce and tag fit)
    blob_max_readers: int = 40  # devices one blob names as its readers
    blob_rate_bytes: float = 512 * 1024 ** 2  # bytes a second per account, up or down
    blob_burst_bytes: float = 2 * 1024 ** 3
    blob_gets_per_session: int = 8  # chunk reads of one session on disk at once
    blob_upload_ttl: float = 24 * 3600.0  # an unfinished upload is dropped after this
    # TURN (coturn's use-auth-secret REST credentials).
    turn_secret: str | None = attrs.field(default=None, repr=False)
    turn_uris: tuple[str, ...] = ()
    turn_ttl: int = 24 * 3600
