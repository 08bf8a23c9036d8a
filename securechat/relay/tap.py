"""`twistd securechat-relay`: command-line options and the service they build."""

from __future__ import annotations

import os
from typing import Any

from twisted.python import usage

from securechat.relay.config import RelayConfig, SmtpSettings
from securechat.relay.connections import parse_networks

DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
_DEFAULTS = RelayConfig()


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "The SecureChat relay: a WAMP router (realm 'securechat') that authenticates "
        "devices, routes end-to-end-encrypted envelopes, keeps presence and a mailbox "
        "for offline devices, and hands out TURN credentials. It never sees plaintext."
    )
    optParameters = [
        ["db", None, "relay.sqlite",
         "SQLite database file (created if missing), or a PostgreSQL URL "
         "(postgresql://user@host/dbname) shared by the nodes of a cluster."],
        ["redis", None, None,
         "Redis URL (redis://host:port/db) through which the nodes of a cluster reach "
         "each other's devices; needs a PostgreSQL --db."],
        ["max-message-bytes", None, _DEFAULTS.max_message_bytes,
         "Largest WebSocket message accepted.", int],
        ["max-envelope-bytes", None, _DEFAULTS.max_envelope_bytes,
         "Largest ciphertext in one envelope.", int],
        ["hello-timeout", None, _DEFAULTS.hello_timeout,
         "Seconds a connection has to authenticate.", float],
        ["ping-interval", None, _DEFAULTS.ping_interval,
         "Seconds of silence before a WebSocket ping.", float],
        ["ping-timeout", None, _DEFAULTS.ping_timeout,
         "Seconds to wait for a pong before dropping the connection.", float],
        ["session-rate", None, _DEFAULTS.session_rate,
         "WAMP requests per second allowed per session.", float],
        ["session-burst", None, _DEFAULTS.session_burst, "Burst allowance per session.", float],
        ["account-rate", None, _DEFAULTS.account_rate,
         "Envelopes per second allowed per account.", float],
        ["account-burst", None, _DEFAULTS.account_burst, "Burst allowance per account.", float],
        ["register-rate", None, _DEFAULTS.register_rate,
         "Account registrations per second per address.", float],
        ["register-burst", None, _DEFAULTS.register_burst,
         "Registration burst per address.", float],
        ["max-pending-handshakes", None, _DEFAULTS.max_pending_handshakes,
         "Unauthenticated connections allowed per address (IPv4) or /64 (IPv6).", int],
        ["max-sessions-per-address", None, _DEFAULTS.max_sessions_per_address,
         "Connections (from TCP accept, welcomed or not) per address (IPv4) or /64 (IPv6).",
         int],
        ["max-connections", None, None,
         "Connections in all (default and upper bound: the file-descriptor limit less "
         "--fd-reserve).", int],
        ["fd-reserve", None, _DEFAULTS.fd_reserve,
         "File descriptors kept free below the process's limit.", int],
        ["anonymous-idle-timeout", None, _DEFAULTS.anonymous_idle_timeout,
         "Seconds an anonymous (registration) session may stay silent.", float],
        ["max-devices", None, _DEFAULTS.max_devices, "Devices per account.", int],
        ["max-prekeys", None, _DEFAULTS.max_prekeys,
         "Unclaimed one-time keys per device.", int],
        ["mailbox-ttl", None, _DEFAULTS.mailbox_ttl,
         "Seconds an undelivered envelope is kept.", float],
        ["mailbox-max-count", None, _DEFAULTS.mailbox_max_count,
         "Envelopes a device's mailbox may hold.", int],
        ["mailbox-max-bytes", None, _DEFAULTS.mailbox_max_bytes,
         "Bytes a device's mailbox may hold.", int],
        ["mailbox-sender-share", None, _DEFAULTS.mailbox_sender_share,
         "Share (0-1) of a device's mailbox one other user may fill.", float],
        ["mailbox-stranger-count", None, _DEFAULTS.mailbox_stranger_count,
         "Envelopes a stranger (never written to by the device's user) may leave.", int],
        ["mailbox-stranger-bytes", None, _DEFAULTS.mailbox_stranger_bytes,
         "Bytes a stranger may leave in a device's mailbox.", int],
        ["storage-max-bytes", None, _DEFAULTS.storage_max_bytes,
         "Bytes all mailboxes together may hold (the disk budget).", int],
        ["max-calls-in-flight", None, _DEFAULTS.max_calls_in_flight,
         "Unanswered calls per session.", int],
        ["max-subscriptions", None, _DEFAULTS.max_subscriptions,
         "Subscriptions per session.", int],
        ["max-registrations", None, _DEFAULTS.max_registrations,
         "Registrations per session.", int],
        ["max-uri-length", None, _DEFAULTS.max_uri_length,
         "Characters of any URI in any message.", int],
        ["blob-dir", None, None,
         "Directory of the encrypted files clients share (default: beside a SQLite --db, "
         "DB.blobs; required with a PostgreSQL --db: every node shares it).", str],
        ["blob-max-bytes", None, _DEFAULTS.blob_max_bytes,
         "Largest file (ciphertext bytes) a client may upload.", int],
        ["blob-quota-bytes", None, _DEFAULTS.blob_quota_bytes,
         "Bytes of live files one account may keep on the relay.", int],
        ["purge-interval", None, _DEFAULTS.purge_interval,
         "Seconds between purges of expired envelopes.", float],
        ["turn-secret-file", None, None,
         "File holding coturn's static-auth-secret (enables TURN credentials)."],
        ["turn-ttl", None, _DEFAULTS.turn_ttl, "Lifetime of TURN credentials (s).", int],
        ["email-verification", None, "on",
         "'on': registering needs a code mailed to the email (needs --smtp-endpoint and "
         "--smtp-from); 'off': anyone may register any email (development relays only)."],
        ["smtp-endpoint", None, None,
         "Twisted client endpoint of the SMTP server that mails verification codes, e.g. "
         "tcp:host=smtp.example.org:port=587 or tls:smtp.example.org:465."],
        ["smtp-from", None, None, "The From address of the relay's mail."],
        ["smtp-username", None, None, "SMTP login name (with --smtp-password-file)."],
        ["smtp-password-file", None, None, "File holding the SMTP password."],
        ["email-code-ttl", None, _DEFAULTS.email_code_ttl,
         "Seconds a mailed verification code stays valid.", float],
        ["min-scram-memory", None, _DEFAULTS.min_scram_memory,
         "Least Argon2id memory (KiB) a registered password verifier may use.", int],
        ["min-scram-iterations", None, _DEFAULTS.min_scram_iterations,
         "Least Argon2id passes a registered password verifier may use.", int],
    ]

    optFlags = [
        ["smtp-starttls", None,
         "Require STARTTLS on the SMTP connection (the certificate is checked against the "
         "endpoint's host)."],
        ["proxy-protocol", None,
         "Every --listen endpoint expects a PROXY protocol (v1 or v2) header from a "
         "--trusted-proxy (same as writing haproxy:ENDPOINT); other peers are refused."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["turn-uri"] = []
        self["trusted-proxy"] = []

    def opt_trusted_proxy(self, address: str) -> None:
        """A reverse proxy's address or network (e.g. 10.0.0.5 or 10.0.0.0/24) whose
        X-Forwarded-For (last untrusted hop) or PROXY header names the client for
        per-address limits (repeatable). Nobody else's is believed."""
        self["trusted-proxy"].append(address)

    def opt_listen(self, endpoint: str) -> None:
        """Twisted endpoint to listen on, e.g. tcp:8080:interface=127.0.0.1 or
        ssl:8443:privateKey=key.pem:certKey=cert.pem (repeatable;
        default tcp:8080:interface=127.0.0.1)."""
        self["listen"].append(endpoint)

    def opt_turn_uri(self, uri: str) -> None:
        """A TURN server URI handed to clients, e.g. turn:127.0.0.1:3478 (repeatable)."""
        self["turn-uri"].append(uri)

    def postOptions(self) -> None:
        check_cluster_options(self["db"], self["redis"], self["blob-dir"])
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        try:
            parse_networks(self["trusted-proxy"])
        except ValueError as e:
            raise usage.UsageError(f"--trusted-proxy: {e}") from None
        if self["proxy-protocol"]:
            if not self["trusted-proxy"]:
                raise usage.UsageError("--proxy-protocol needs --trusted-proxy (the proxy's "
                                       "address): nobody else's PROXY header is believed")
            self["listen"] = [d if d.startswith("haproxy:") else "haproxy:" + d
                              for d in self["listen"]]
        secret = None
        if self["turn-secret-file"]:
            with open(self["turn-secret-file"], encoding="utf-8") as f:
                secret = f.read().strip()
            if not secret:
                raise usage.UsageError("--turn-secret-file is empty")
        smtp, verification = self._smtp(), self["email-verification"]
        if verification not in ("on", "off"):
            raise usage.UsageError("--email-verification is 'on' or 'off'")
        if verification == "on" and smtp is None:
            raise usage.UsageError(
                "email verification needs an SMTP server to mail codes: give --smtp-endpoint "
                "and --smtp-from, or, for a development relay only, --email-verification off")
        self["config"] = RelayConfig(
            max_message_bytes=self["max-message-bytes"],
            max_envelope_bytes=self["max-envelope-bytes"],
            hello_timeout=self["hello-timeout"],
            ping_interval=self["ping-interval"],
            ping_timeout=self["ping-timeout"],
            session_rate=self["session-rate"],
            session_burst=self["session-burst"],
            account_rate=self["account-rate"],
            account_burst=self["account-burst"],
            register_rate=self["register-rate"],
            register_burst=self["register-burst"],
            max_pending_handshakes=self["max-pending-handshakes"],
            max_sessions_per_address=self["max-sessions-per-address"],
            max_connections=self["max-connections"],
            fd_reserve=self["fd-reserve"],
            anonymous_idle_timeout=self["anonymous-idle-timeout"],
            trusted_proxies=tuple(self["trusted-proxy"]),
            max_devices=self["max-devices"],
            max_prekeys=self["max-prekeys"],
            mailbox_ttl=self["mailbox-ttl"],
            mailbox_max_count=self["mailbox-max-count"],
            mailbox_max_bytes=self["mailbox-max-bytes"],
            mailbox_sender_share=self["mailbox-sender-share"],
            mailbox_stranger_count=self["mailbox-stranger-count"],
            mailbox_stranger_bytes=self["mailbox-stranger-bytes"],
            storage_max_bytes=self["storage-max-bytes"],
            max_calls_in_flight=self["max-calls-in-flight"],
            max_subscriptions=self["max-subscriptions"],
            max_registrations=self["max-registrations"],
            max_uri_length=self["max-uri-length"],
            purge_interval=self["purge-interval"],
            blob_dir=self["blob-dir"],
            blob_max_bytes=self["blob-max-bytes"],
            blob_quota_bytes=self["blob-quota-bytes"],
            turn_secret=secret,
            turn_uris=tuple(self["turn-uri"]),
            turn_ttl=self["turn-ttl"],
            email_verification=verification == "on",
            smtp=smtp,
            email_code_ttl=self["email-code-ttl"],
            min_scram_memory=self["min-scram-memory"],
            min_scram_iterations=self["min-scram-iterations"],
        )

    def _smtp(self) -> SmtpSettings | None:
        endpoint, sender = self["smtp-endpoint"], self["smtp-from"]
        if endpoint is None and sender is None:
            if self["smtp-username"] or self["smtp-password-file"] or self["smtp-starttls"]:
                raise usage.UsageError("SMTP options need --smtp-endpoint and --smtp-from")
            return None
        if not endpoint or not sender:
            raise usage.UsageError("--smtp-endpoint and --smtp-from go together")
        password = None
        if self["smtp-password-file"]:
            with open(self["smtp-password-file"], encoding="utf-8") as f:
                password = f.read().strip()
            if not password:
                raise usage.UsageError("--smtp-password-file is empty")
        if bool(password) != bool(self["smtp-username"]):
            raise usage.UsageError("--smtp-username and --smtp-password-file go together")
        settings = SmtpSettings(endpoint, sender, bool(self["smtp-starttls"]),
                                self["smtp-username"], password)
        if settings.starttls and settings.host is None:
            raise usage.UsageError("--smtp-starttls needs a tcp endpoint with a host name")
        return settings


def makeService(options: Options) -> Any:
    from twisted.internet import reactor

    from securechat.relay.service import RelayService

    return RelayService(reactor, options["listen"], options["db"], options["config"],
                        redis_url=options["redis"])


def check_cluster_options(db: str, redis: str | None, blob_dir: str | None = None) -> None:
    """Refuse a cluster that could not work: nodes on SQLite files share nothing, and
    nodes on PostgreSQL need a blob directory they share."""
    postgres = db.startswith(("postgresql://", "postgres://"))
    if postgres and blob_dir is None:
        raise usage.UsageError("--db postgresql://... needs --blob-dir: the directory of "
                               "the files clients share, the same one (NFS, say) for "
                               "every node of the cluster")
    if postgres and not os.path.isdir(str(blob_dir)):
        # A shared mount that is not there must not quietly become a local folder.
        raise usage.UsageError(f"--blob-dir {blob_dir} is not a directory: mount the "
                               "storage the nodes share there (or create it)")
    if redis is not None:
        if not postgres:
            raise usage.UsageError("--redis joins a cluster, whose nodes share one "
                                   "PostgreSQL database: give --db postgresql://...")
        from securechat.relay.cluster import RedisUrlError, parse_redis_url

        try:
            parse_redis_url(redis)
        except RedisUrlError as e:
            raise usage.UsageError(f"--redis: {e}") from None
