"""`securechat-turnconf`: a coturn configuration matching this relay's TURN credentials.

    securechat-turnconf --secret-file var/turn/secret --out var/turn/turnserver.conf
    turnserver -c var/turn/turnserver.conf
    securechat-relay ... --turn-secret-file var/turn/secret \\
        --turn-uri 'turn:127.0.0.1:3478?transport=udp'

coturn runs in its `use-auth-secret` mode with the relay's shared secret
(`static-auth-secret`): the relay hands clients ephemeral HMAC credentials (relay.turn),
coturn checks them with no database of users. The secret file is created (random, mode
0600) when missing. `--loopback` adds `allow-loopback-peers`, which a call between two
clients on one machine needs (development and tests); never in production. No TLS/DTLS
listener and no telnet CLI: media is DTLS-SRTP end to end anyway.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence

import attrs

DEFAULT_PORT = 3478
# A call's peer is always a TURN relay address, never a private network: without these
# a caller could have this server send packets into the network it sits in (coturn
# denies loopback by itself). The relay's own address stays allowed (allowed-peer-ip).
PRIVATE_RANGES = ("0.0.0.0-0.255.255.255", "10.0.0.0-10.255.255.255",
                  "100.64.0.0-100.127.255.255", "169.254.0.0-169.254.255.255",
                  "172.16.0.0-172.31.255.255", "192.168.0.0-192.168.255.255",
                  "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                  "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


@attrs.frozen
class TurnServerConfig:
    secret: str = attrs.field(repr=False)
    listen_ip: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    relay_ip: str = "127.0.0.1"
    min_port: int = 49160
    max_port: int = 49200
    realm: str = "securechat.local"
    loopback: bool = False  # allow-loopback-peers: development and tests only
    state_dir: str | None = None  # pid file and user database; coturn's defaults if None
    log_file: str = "stdout"

    @property
    def uri(self) -> str:
        """What the relay hands clients (`--turn-uri`)."""
        return f"turn:{self.listen_ip}:{self.port}?transport=udp"

    def render(self) -> str:
        lines = [
            "# Written by securechat-turnconf: coturn for SecureChat's relay (use-auth-secret).",
            f"listening-ip={self.listen_ip}",
            f"listening-port={self.port}",
            f"relay-ip={self.relay_ip}",
            f"min-port={self.min_port}",
            f"max-port={self.max_port}",
            f"realm={self.realm}",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            "fingerprint",
            "no-tls",
            "no-dtls",
            "no-tcp-relay",
            "no-cli",
            "no-software-attribute",
            "no-multicast-peers",
            *(f"denied-peer-ip={r}" for r in PRIVATE_RANGES),
            f"allowed-peer-ip={self.relay_ip}",
            f"log-file={self.log_file}",
            "simple-log",
        ]
        if self.loopback:
            lines += ["# Calls between clients on this machine; NEVER in production.",
                      "allow-loopback-peers"]
        if self.state_dir is not None:
            lines += [f"pidfile={os.path.join(self.state_dir, 'turnserver.pid')}",
                      f"userdb={os.path.join(self.state_dir, 'turndb')}"]
        return "\n".join(lines) + "\n"


def read_or_create_secret(path: str) -> str:
    """The shared secret in `path`, made (random, readable only by its owner) if missing."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    with open(path, encoding="utf-8") as f:
        secret = f.read().strip()
    if not secret:
        raise ValueError(f"{path} is empty")
    return secret


def write(config: TurnServerConfig, path: str) -> None:
    """The configuration holds the secret: written readable only by its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(config.render())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="securechat-turnconf",
        description="Write a coturn configuration (turnserver.conf) that accepts the TURN "
                    "credentials a SecureChat relay hands out.")
    parser.add_argument("--secret-file", required=True,
                        help="the shared secret, also given to the relay as "
                             "--turn-secret-file (created when missing)")
    parser.add_argument("--out", required=True, help="where to write turnserver.conf")
    parser.add_argument("--listen-ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--relay-ip", default="127.0.0.1",
                        help="the address media is relayed from")
    parser.add_argument("--min-port", type=int, default=49160)
    parser.add_argument("--max-port", type=int, default=49200)
    parser.add_argument("--realm", default="securechat.local")
    parser.add_argument("--state-dir", help="directory for coturn's pid file and database")
    parser.add_argument("--loopback", action="store_true",
                        help="allow-loopback-peers: for calls on one machine only")
    args = parser.parse_args(argv)
    if not 0 < args.min_port <= args.max_port < 65536:
        parser.error("--min-port and --max-port must be a range of ports")
    try:
        secret = read_or_create_secret(args.secret_file)
    except (OSError, ValueError) as e:
        print(f"securechat-turnconf: {e}", file=sys.stderr)
        return 1
    config = TurnServerConfig(secret, args.listen_ip, args.port, args.relay_ip,
                              args.min_port, args.max_port, args.realm, args.loopback,
                              args.state_dir)
    write(config, args.out)
    print(config.uri)  # the --turn-uri for the relay
    return 0


if __name__ == "__main__":
    sys.exit(main())
