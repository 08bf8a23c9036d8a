"""Plain records the relay's storage hands back to its handlers."""

from __future__ import annotations

import attrs

from securechat.protocol import envelope


@attrs.frozen
class Account:
    user_id: str
    identity_key: str  # Ed25519 public key of the account, base64
    scram_kdf: str
    scram_salt: str
    scram_iterations: int
    scram_memory: int
    stored_key: bytes
    server_key: bytes
    recovery_blob: bytes


@attrs.frozen
class Device:
    device_id: str
    user_id: str
    signing_key: str  # Ed25519, hex: the cryptosign key of its WAMP sessions
    identity_key: str  # Curve25519 Olm identity key, base64
    # The account identity key's signature of keys.device_certificate(), base64; ""
    # while the device is pending (enrolled by password, not yet approved).
    signature: str
    created: int

    @property
    def pending(self) -> bool:
        return not self.signature

    def public(self) -> dict[str, object]:
        """What any device may learn about this one (to start an Olm session)."""
        return {
            "device_id": self.device_id,
            "user_id": self.user_id,
            "signing_key": self.signing_key,
            "identity_key": self.identity_key,
            "signature": self.signature or None,
            "pending": self.pending,
        }


@attrs.frozen
class OneTimeKey:
    key_id: str
    key: str
    fallback: bool = False
    signature: str | None = None  # by the device's signing key (protocol.keys.prekey_statement)


@attrs.frozen
class MailboxQuota:
    """What storing envelopes may fill (RelayConfig's mailbox limits)."""

    max_count: int  # per device
    max_bytes: int
    sender_share: float  # of those, for one other user
    stranger_count: int  # for a user the device's user never wrote to
    stranger_bytes: int
    total_bytes: int  # every mailbox together


@attrs.frozen
class Envelope:
    """One ciphertext addressed to one device, as stored and as delivered
    (protocol.envelope has the wire shape)."""

    id: str
    device_id: str  # recipient device
    from_user: str
    from_device: str
    ts: int  # milliseconds since the epoch, relay clock
    v: int  # crypto version
    alg: str  # algorithm id, e.g. "olm.v1"
    type: int  # algorithm-specific message type (Olm: 0 pre-key, 1 normal)
    body: bytes | str

    def event(self) -> dict[str, object]:
        """What its device is sent."""
        return envelope.delivered(self.id, self.from_user, self.from_device, self.ts, self.v,
                                  self.alg, self.type, self.body)

    @property
    def size(self) -> int:
        """Bytes, as the mailbox quota counts them (a string as UTF-8)."""
        return len(self.body) if isinstance(self.body, bytes) else len(self.body.encode())
