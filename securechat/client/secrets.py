"""Where a device keeps its secrets: the OS keychain, else an encrypted file.

The secrets of one account on one device (its local database key, device
signing seed, account identity seed, master mnemonic) are one JSON object.
With a usable `keyring` backend it is stored there; where there is none
(headless servers, tests, bots) it lives in `secrets.bin` next to the account's
database, AES-256-GCM under a key Argon2id derives from the account password.
"""

from __future__ import annotations

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

from securechat.client.keys import WrongPassword

SERVICE = "securechat"
_FILE_HEADER = struct.Struct(">4sBI16s12s")
_FILE_MAGIC = b"SCS1"


def keychain_available() -> bool:
    backend = keyring.get_keyring()
    return not isinstance(backend, fail.Keyring) and backend.priority > 0


class SecretStore:
    """Loads and saves one account's device secrets (a dict of strings)."""

    def __init__(self, account_dir: str, user_id: str, password: str,
                 memory_kib: int = 65536) -> None:
        self._path = os.path.join(account_dir, "secrets.bin")
        self._user_id = user_id
        self._password = password
        self._memory = memory_kib
        self._keychain = keychain_available()

    def save(self, secrets: dict[str, str]) -> None:
        """Slow when file-backed (Argon2id): call from a thread."""
        data = json.dumps(secrets).encode()
        if self._keychain:
            keyring.set_password(SERVICE, self._user_id, data.decode())
            return
        salt, nonce = os.urandom(16), os.urandom(12)
        header = _FILE_HEADER.pack(_FILE_MAGIC, 3, self._memory, salt, nonce)
        key = self._derive(salt, 3, self._memory)
        sealed = header + AESGCM(key).encrypt(nonce, data, header)
        tmp = self._path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    def load(self) -> dict[str, Any]:
        """Raises WrongPassword if the file does not open with this password."""
        if self._keychain:
            stored = keyring.get_password(SERVICE, self._user_id)
            if stored is None:
                raise FileNotFoundError("no secrets for this account in the keychain")
            return dict(json.loads(stored))
        with open(self._path, "rb") as f:
            sealed = f.read()
        magic, time_cost, memory, salt, nonce = _FILE_HEADER.unpack_from(sealed)
        if magic != _FILE_MAGIC:
            raise ValueError("secrets.bin has an unknown format")
        try:
            data = AESGCM(self._derive(salt, time_cost, memory)).decrypt(
                nonce, sealed[_FILE_HEADER.size:], sealed[:_FILE_HEADER.size])
        except InvalidTag:
            raise WrongPassword("wrong password for this account on this device") from None
        return dict(json.loads(data))

    def _derive(self, salt: bytes, time_cost: int, memory: int) -> bytes:
        return hash_secret_raw(self._password.encode(), salt, time_cost=time_cost,
                               memory_cost=memory, parallelism=1, hash_len=32, type=Type.ID)
