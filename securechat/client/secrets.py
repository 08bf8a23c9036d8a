"""Where a device keeps its secrets: the OS keychain, else an encrypted file.

The secrets of one account on one device (its local database key, device
signing seed, account identity seed, master mnemonic) are one JSON object,
sealed with AES-256-GCM under a key Argon2id derives from the account password,
so that only the password opens the account (the lock screen checks nothing else).
With a usable `keyring` backend the sealed object is kept there; where there is
none (headless servers, tests, bots) it lives in `secrets.bin` next to the
account's database.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
from typing import Any

import keyring
import keyring.errors
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from keyring.backends import fail

from securechat.client.errors import ClientError, MissingSecrets, WrongPassword

SERVICE = "securechat"
_HEADER = struct.Struct(">4sBI16s12s")  # magic, Argon2id time, memory KiB, salt, nonce
_SECRETS_MAGIC = b"SCS1"


_TIME_COSTS = range(1, 9)
_MEMORY_KIB = range(8192, 1048576 + 1)  # what a header may ask of Argon2id


def seal(plaintext: bytes, secret: str, magic: bytes, time_cost: int, memory_kib: int,
         context: bytes) -> bytes:
    """AES-256-GCM under a key Argon2id derives from `secret`. The header (with the KDF
    parameters) and `context` (whose data this is: the user id) are authenticated too.
    Slow on purpose: call from a thread."""
    if time_cost not in _TIME_COSTS or memory_kib not in _MEMORY_KIB:
        raise ClientError(f"key derivation costs out of bounds: {time_cost} passes, "
                          f"{memory_kib} KiB")
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _HEADER.pack(magic, time_cost, memory_kib, salt, nonce)
    key = _derive(secret, salt, time_cost, memory_kib)
    return header + AESGCM(key).encrypt(nonce, plaintext, header + context)


def unseal(sealed: bytes, secret: str, magic: bytes, context: bytes) -> bytes:
    """The plaintext of `seal`; raises InvalidTag for a wrong secret (or a damaged file)
    and ValueError for something that is not a file of this kind."""
    if len(sealed) < _HEADER.size + 16:
        raise ValueError("the file is too short")
    found, time_cost, memory, salt, nonce = _HEADER.unpack_from(sealed)
    if found != magic:
        raise ValueError("the file has an unknown format")
    if time_cost not in _TIME_COSTS or memory not in _MEMORY_KIB:
        raise ValueError("the file asks for key derivation costs out of bounds")
    key = _derive(secret, salt, time_cost, memory)
    header = sealed[:_HEADER.size]
    return AESGCM(key).decrypt(nonce, sealed[_HEADER.size:], header + context)


def write_private(path: str, data: bytes) -> None:
    """Write `data` readable by this user only, atomically (a crash leaves the old file)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _derive(secret: str, salt: bytes, time_cost: int, memory_kib: int) -> bytes:
    return hash_secret_raw(secret.encode(), salt, time_cost=time_cost, memory_cost=memory_kib,
                           parallelism=1, hash_len=32, type=Type.ID)



def keychain_available() -> bool:
    backend = keyring.get_keyring()
    return not isinstance(backend, fail.Keyring) and backend.priority > 0


class SecretStore:
    """Loads and saves one account's device secrets (a dict of strings)."""

    def __init__(self, account_dir: str, user_id: str, password: str,
                 memory_kib: int = 65536) -> None:
        self._path = os.path.join(account_dir, "secrets.bin")
        # Two copies of an account on one machine (two data directories) must not share
        # a keychain entry: each account directory names its own slot.
        self._slot_path = os.path.join(account_dir, "keychain-slot")
        self._user_id = user_id
        self._password = password
        self._memory = memory_kib
        self._keychain = keychain_available()

    def save(self, secrets: dict[str, str]) -> None:
        """Slow (Argon2id): call from a thread."""
        sealed = seal(json.dumps(secrets).encode(), self._password, _SECRETS_MAGIC, 3,
                      self._memory, self._user_id.encode())
        if self._keychain:
            old = self._slot()
            slot = os.urandom(8).hex()
            try:
                keyring.set_password(SERVICE, f"{self._user_id}/{slot}",
                                     base64.b64encode(sealed).decode())
            except keyring.errors.KeyringError as e:
                raise ClientError(f"the system keychain refused this account's keys "
                                  f"({type(e).__name__}): unlock it and try again") from None
            write_private(self._slot_path, slot.encode())
            if old is not None:
                with contextlib.suppress(keyring.errors.PasswordDeleteError):
                    keyring.delete_password(SERVICE, f"{self._user_id}/{old}")
        else:
            write_private(self._path, sealed)

    def load(self) -> dict[str, Any]:
        """Raises WrongPassword if the secrets do not open with this password."""
        slot = self._slot() if self._keychain else None
        try:
            stored = keyring.get_password(SERVICE, f"{self._user_id}/{slot}") if slot else None
        except keyring.errors.KeyringError as e:
            raise ClientError(f"the system keychain did not give this account's keys "
                              f"({type(e).__name__}): unlock it and try again") from None
        try:
            if stored is not None:
                sealed = base64.b64decode(stored)
            else:
                with open(self._path, "rb") as f:
                    sealed = f.read()
        except (OSError, ValueError):
            raise MissingSecrets("this device no longer has this account's keys (they are "
                                 "neither in the keychain nor in secrets.bin): remove the "
                                 "account here and sign in again") from None
        try:
            data = unseal(sealed, self._password, _SECRETS_MAGIC, self._user_id.encode())
        except InvalidTag:
            raise WrongPassword("wrong password for this account on this device") from None
        except ValueError as e:
            raise MissingSecrets(f"this account's keys on this device are damaged ({e})") \
                from None
        return dict(json.loads(data))

    def _slot(self) -> str | None:
        try:
            with open(self._slot_path, encoding="ascii") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None
