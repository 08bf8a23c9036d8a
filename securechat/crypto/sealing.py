"""Sealed blobs: AES-256-GCM under a key from a password (Argon2id) or from the caller.

A sealed blob is `header ‖ AES-256-GCM ciphertext ‖ 16-byte tag`. The associated data is
the header followed by a context the caller names (whose data it is, such as a user id),
so that a blob copied to another account, or a header edited to ask for cheaper key
derivation or to pass for another kind, does not open. The header ends with the 12-byte
random nonce; it starts with a 4-byte magic naming the kind, one per use, so that a blob
of one use never opens as another. Two layouts:

- password-sealed (`PasswordSealing`):
  `magic ‖ Argon2id passes (1) ‖ Argon2id memory in KiB (4, big-endian) ‖ salt (16) ‖ nonce`,
  key = Argon2id v1.3 (UTF-8 password, salt, passes, memory, parallelism 1, 32 bytes).
  The costs come from the header, which is read before anything is authenticated: they
  are held to the kind's `KdfBounds` first, so a hostile blob cannot make us spend
  minutes or gigabytes on Argon2id before the tag check fails.
- key-sealed (`KeySealing`): `magic ‖ key id (a fixed size per kind, often none) ‖ nonce`;
  the caller brings the 32-byte key (derived from the recovery phrase, or kept in the
  OS keychain under the key id).

The kinds in use, each defined beside its one user:

    magic  sealed under     what                                        user
    SCR1   password         account key; old accounts' relay blob       client.keys (read only)
    SCS1   password         this device's keys (secrets.bin, keychain)  client.secrets
    SCP2   PIN              this device's keys, not the account key     client.pin
    SCK1   keychain key     an SCP2 blob (key id: the keychain entry)   client.pin
    SCR2   recovery phrase  account key: the relay's recovery blob      client.recovery
    SCL1   recovery phrase  this device's keys (recovery.bin)           client.recovery

Errors are this module's own (`WrongKey`, `UnknownFormat`, `CostsOutOfBounds`); each
user says what they mean to a person (wrong password, wrong PIN, damaged file...).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

import attrs
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32  # AES-256
NONCE_SIZE = 12
TAG_SIZE = 16
SALT_SIZE = 16
_PASSWORD_PREFIX = struct.Struct(">4sBI16s")  # magic, passes, memory KiB, salt; then nonce


class SealingError(Exception):
    """A sealed blob does not open."""


class UnknownFormat(SealingError):
    """Not a blob of this kind: too short, another magic, or a header asking for key
    derivation costs out of bounds (damaged, or hostile)."""


class WrongKey(SealingError):
    """The password or key does not open the blob; or the blob, or the context it was
    sealed with, differs (AES-GCM cannot tell these apart)."""


class CostsOutOfBounds(ValueError):
    """Sealing was asked for Argon2id costs that opening the blob would refuse."""


def derive_key(password: str, salt: bytes, passes: int, memory_kib: int) -> bytes:
    """Argon2id v1.3 of the UTF-8 password: 32 bytes. Slow on purpose: call from a thread."""
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=passes,
                           memory_cost=memory_kib, parallelism=1, hash_len=KEY_SIZE,
                           type=Type.ID)


def random_key() -> bytes:
    """A new random key for `KeySealing`."""
    return os.urandom(KEY_SIZE)


@attrs.frozen
class KdfBounds:
    """The Argon2id costs a kind's header may ask for (and sealing may use)."""

    passes: range
    memory_kib: range

    def allow(self, passes: int, memory_kib: int) -> bool:
        return passes in self.passes and memory_kib in self.memory_kib


def _check_magic(instance: object, attribute: object, magic: bytes) -> None:
    if len(magic) != 4:
        raise ValueError("a magic is 4 bytes")


@attrs.frozen
class PasswordSealing:
    """One kind of blob sealed under a password (or PIN): see the module docstring."""

    magic: bytes = attrs.field(validator=_check_magic)
    bounds: KdfBounds

    @property
    def header_size(self) -> int:
        return _PASSWORD_PREFIX.size + NONCE_SIZE

    def seal(self, plaintext: bytes, password: str, context: bytes, passes: int,
             memory_kib: int) -> bytes:
        """Slow (Argon2id): call from a thread. Raises CostsOutOfBounds for costs that
        `open` would refuse."""
        if not self.bounds.allow(passes, memory_kib):
            raise CostsOutOfBounds(f"key derivation costs out of bounds: {passes} passes, "
                                   f"{memory_kib} KiB")
        salt = os.urandom(SALT_SIZE)
        prefix = _PASSWORD_PREFIX.pack(self.magic, passes, memory_kib, salt)
        return _encrypt(derive_key(password, salt, passes, memory_kib), prefix, plaintext,
                        context)

    def open(self, blob: bytes, password: str, context: bytes) -> bytes:
        """The plaintext. Slow (Argon2id): call from a thread. Raises UnknownFormat
        (checked before any key derivation) or WrongKey."""
        _check_kind(blob, self.magic, self.header_size)
        _, passes, memory_kib, salt = _PASSWORD_PREFIX.unpack_from(blob)
        if not self.bounds.allow(passes, memory_kib):
            raise UnknownFormat("it asks for key derivation costs out of bounds")
        return _decrypt(derive_key(password, salt, passes, memory_kib), blob,
                        self.header_size, context)


@attrs.frozen
class KeySealing:
    """One kind of blob sealed under a key the caller holds: see the module docstring.
    `key_id_size` bytes in the header say which key (none by default)."""

    magic: bytes = attrs.field(validator=_check_magic)
    key_id_size: int = 0

    @property
    def header_size(self) -> int:
        return len(self.magic) + self.key_id_size + NONCE_SIZE

    def is_kind(self, blob: bytes) -> bool:
        """Whether `blob` says it is of this kind (its magic; nothing is checked)."""
        return blob.startswith(self.magic)

    def key_id(self, blob: bytes) -> bytes | None:
        """The key id in the header (only the header need be there), or None if
        `blob` does not start with a header of this kind."""
        if len(blob) < self.header_size or not self.is_kind(blob):
            return None
        return blob[len(self.magic):len(self.magic) + self.key_id_size]

    def seal(self, plaintext: bytes, key: bytes, context: bytes, key_id: bytes = b"") -> bytes:
        if len(key_id) != self.key_id_size:
            raise ValueError(f"a key id of this kind is {self.key_id_size} bytes")
        if len(key) != KEY_SIZE:
            raise ValueError(f"a sealing key is {KEY_SIZE} bytes")
        return _encrypt(key, self.magic + key_id, plaintext, context)

    def open(self, blob: bytes, key: bytes, context: bytes) -> bytes:
        """The plaintext. Raises UnknownFormat or WrongKey."""
        return self.open_by_id(blob, lambda _: key, context)

    def open_by_id(self, blob: bytes, find_key: Callable[[bytes], bytes],
                   context: bytes) -> bytes:
        """The plaintext, under the key `find_key(key id)` gives; it is asked only once
        the blob is known to be of this kind. Raises UnknownFormat or WrongKey (also for
        a key of the wrong size)."""
        _check_kind(blob, self.magic, self.header_size)
        key = find_key(blob[len(self.magic):len(self.magic) + self.key_id_size])
        if len(key) != KEY_SIZE:
            raise WrongKey("the key is not a sealing key")
        return _decrypt(key, blob, self.header_size, context)


def _check_kind(blob: bytes, magic: bytes, header_size: int) -> None:
    if len(blob) < header_size + TAG_SIZE:
        raise UnknownFormat("it is too short")
    if not blob.startswith(magic):
        raise UnknownFormat("it is not of this kind")


def _encrypt(key: bytes, prefix: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    header = prefix + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, header + context)


def _decrypt(key: bytes, blob: bytes, header_size: int, context: bytes) -> bytes:
    header = blob[:header_size]
    try:
        return AESGCM(key).decrypt(header[-NONCE_SIZE:], blob[header_size:], header + context)
    except InvalidTag:
        raise WrongKey("the key does not open it") from None
