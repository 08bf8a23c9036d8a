"""An account's long-term secrets and how they are sealed.

- The master key is 128 bits of entropy shown once as a BIP39 mnemonic (the
  recovery phrase); the vault derives its key from it (later issues).
- The account identity key (Ed25519) signs every device's keys. It reaches a new
  device in the recovery blob sealed under the phrase (client.recovery), or from
  another device of the account.
- `seal_recovery`/`open_recovery` are the format accounts used before: the blob
  sealed under the master password (which the relay, holding the verifier, could
  crack). It is only read now, to migrate such accounts:
  `b"SCR1" ‖ t(1) ‖ m_kib(4, big-endian) ‖ salt(16) ‖ nonce(12) ‖ ciphertext`,
  the header (and the user id) bound as associated data.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct

import attrs
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mnemonic import Mnemonic

from securechat.client.errors import CorruptBlob, WrongPassword
from securechat.protocol.keys import normalise_email

_MAGIC = b"SCR1"
_HEADER = struct.Struct(">4sBI16s12s")
DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 65536



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


def _kdf(password: str, salt: bytes, time_cost: int, memory_kib: int) -> bytes:
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=time_cost,
                           memory_cost=memory_kib, parallelism=1, hash_len=32, type=Type.ID)


def seal_recovery(secrets: AccountSecrets, password: str, user_id: str,
                  time_cost: int = DEFAULT_TIME_COST,
                  memory_kib: int = DEFAULT_MEMORY_KIB) -> bytes:
    """Slow (Argon2id): call from a thread."""
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _HEADER.pack(_MAGIC, time_cost, memory_kib, salt, nonce)
    plaintext = json.dumps(
        {"identity_seed": secrets.identity_seed.hex(), "mnemonic": secrets.mnemonic}
    ).encode()
    key = _kdf(password, salt, time_cost, memory_kib)
    return header + AESGCM(key).encrypt(nonce, plaintext, header + user_id.encode())


def open_recovery(blob: bytes, password: str, user_id: str) -> AccountSecrets:
    """Slow (Argon2id): call from a thread. Raises WrongPassword or CorruptBlob."""
    if len(blob) < _HEADER.size + 16:
        raise CorruptBlob("the recovery blob is truncated")
    magic, time_cost, memory_kib, salt, nonce = _HEADER.unpack_from(blob)
    # The same bounds as the relay puts on SCRAM: a tampered header cannot make us
    # spend minutes (or gigabytes) on Argon2 before the GCM check fails.
    if magic != _MAGIC or not 1 <= time_cost <= 8 or not 8192 <= memory_kib <= 262144:
        raise CorruptBlob("the recovery blob has an unknown format")
    key = _kdf(password, salt, time_cost, memory_kib)
    try:
        plaintext = AESGCM(key).decrypt(nonce, blob[_HEADER.size:],
                                        blob[:_HEADER.size] + user_id.encode())
    except InvalidTag:
        raise WrongPassword("wrong password") from None
    fields = json.loads(plaintext)
    return AccountSecrets(bytes.fromhex(fields["identity_seed"]), fields["mnemonic"])


def session_id(email_a: str, email_b: str) -> str:
    """The spec's sid: SHA-256 of the two normalised emails, sorted, joined by ':'."""
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
