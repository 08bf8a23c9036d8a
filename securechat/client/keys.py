"""An account's long-term secrets, and what two users compare to trust each other.

- `AccountSecrets`: the account identity key (Ed25519), which signs every device's keys,
  and the master key, 128 bits of entropy shown once as a BIP39 mnemonic (the recovery
  phrase). The identity key reaches a new device in the recovery blob sealed under the
  phrase (client.recovery), or from another device of the account.
- `seal_recovery`/`open_recovery` are the format accounts used before: the blob sealed
  under the master password (which the relay, holding the verifier, could crack), kind
  `SCR1` of `crypto.sealing` with the user id as context. It is only read now, to migrate
  such accounts.
- `session_id`, `safety_number`, `safety_qr_payload`: a conversation's id and what two
  users compare (in person or by QR code) to check each other's account keys.
"""

from __future__ import annotations

import hashlib
import json
import os

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mnemonic import Mnemonic

# WrongPassword and CorruptBlob live with the client's other refusals; imported from here
# too by the core, the CLI, the UI and bots.
from securechat.client.errors import CorruptBlob, WrongPassword
from securechat.crypto.sealing import KdfBounds, PasswordSealing, UnknownFormat, WrongKey
from securechat.protocol import scram
from securechat.protocol.keys import normalise_email

__all__ = ["AccountSecrets", "CorruptBlob", "WrongPassword", "open_recovery", "safety_number",
           "safety_qr_payload", "seal_recovery", "session_id"]

DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 65536
# The blob comes from the relay, an adversary: its header may ask Argon2id for no more
# than the relay lets a SCRAM verifier cost, which is what the blob was sealed with (the
# account's registration costs).
_RECOVERY_BY_PASSWORD = PasswordSealing(b"SCR1", KdfBounds(
    passes=range(scram.MIN_ITERATIONS, scram.MAX_ITERATIONS + 1),
    memory_kib=range(scram.MIN_MEMORY_KIB, scram.MAX_MEMORY_KIB + 1)))


@attrs.frozen
class AccountSecrets:
    identity_seed: bytes = attrs.field(repr=False)  # Ed25519 private key bytes
    mnemonic: str = attrs.field(repr=False)

    @classmethod
    def generate(cls) -> AccountSecrets:
        return cls(os.urandom(32), Mnemonic("english").generate(strength=128))

    @property
    def identity(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.identity_seed)

    @property
    def identity_public(self) -> bytes:
        return self.identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def seal_recovery(secrets: AccountSecrets, password: str, user_id: str,
                  time_cost: int = DEFAULT_TIME_COST,
                  memory_kib: int = DEFAULT_MEMORY_KIB) -> bytes:
    """An old-format blob (tests make them). Slow (Argon2id): call from a thread."""
    plaintext = json.dumps(
        {"identity_seed": secrets.identity_seed.hex(), "mnemonic": secrets.mnemonic}
    ).encode()
    return _RECOVERY_BY_PASSWORD.seal(plaintext, password, user_id.encode(), time_cost,
                                      memory_kib)


def open_recovery(blob: bytes, password: str, user_id: str) -> AccountSecrets:
    """Slow (Argon2id): call from a thread. Raises WrongPassword or CorruptBlob."""
    try:
        plaintext = _RECOVERY_BY_PASSWORD.open(blob, password, user_id.encode())
    except UnknownFormat as e:
        raise CorruptBlob(f"the recovery blob has an unknown format ({e})") from None
    except WrongKey:
        raise WrongPassword("wrong password") from None
    fields = json.loads(plaintext)
    return AccountSecrets(bytes.fromhex(fields["identity_seed"]), fields["mnemonic"])


def session_id(email_a: str, email_b: str) -> str:
    """A conversation's id (`sid` in every frame): hex SHA-256 of the two users'
    normalised emails, sorted, joined by ':' (docs/protocol.md, "Session id")."""
    first, second = sorted((normalise_email(email_a), normalise_email(email_b)))
    return hashlib.sha256(f"{first}:{second}".encode()).hexdigest()


def _fingerprint(identity_key: bytes, user_id: str) -> bytes:
    # Signal's NumericFingerprintGenerator: iterated SHA-512 over key and identifier.
    digest = b"\x00\x00" + identity_key + user_id.encode()
    for _ in range(5200):
        digest = hashlib.sha512(digest + identity_key).digest()
    return digest[:30]


def _digits(fingerprint: bytes) -> str:
    return "".join(
        f"{int.from_bytes(fingerprint[i:i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def safety_number(my_key: bytes, my_user_id: str, their_key: bytes, their_user_id: str) -> str:
    """60 digits, the same on both sides: compare them in person or by scanning the QR."""
    parts = sorted([_digits(_fingerprint(my_key, my_user_id)),
                    _digits(_fingerprint(their_key, their_user_id))])
    return "".join(parts)


def safety_qr_payload(my_key: bytes, my_user_id: str, their_key: bytes,
                      their_user_id: str) -> bytes:
    """What a QR code carries: version, then both fingerprints in the scanner-neutral order."""
    prints = sorted([_fingerprint(my_key, my_user_id), _fingerprint(their_key, their_user_id)])
    return b"\x01" + prints[0] + prints[1]
