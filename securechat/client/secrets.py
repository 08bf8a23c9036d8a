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
from typing import Any

import keyring
import keyring.errors
from keyring.backends import fail

from securechat.client.errors import ClientError, MissingSecrets, WrongPassword
from securechat.crypto.sealing import (
    CostsOutOfBounds,
    KdfBounds,
    PasswordSealing,
    UnknownFormat,
    WrongKey,
)

SERVICE = "securechat"
# Files this device sealed itself, under the Argon2id costs it was given (`KdfCost`, the
# CLI's --kdf-memory: they may exceed what the relay allows a SCRAM verifier, unlike the
# relay's blob in client.keys), kept to 1 GiB so that a damaged or tampered header
# cannot make us allocate more.
LOCAL_KDF_BOUNDS = KdfBounds(passes=range(1, 9), memory_kib=range(8192, 1048576 + 1))
_SEALED_SECRETS = PasswordSealing(b"SCS1", LOCAL_KDF_BOUNDS)
_SECRETS_PASSES = 3


def seal_locally(kind: PasswordSealing, plaintext: bytes, secret: str, context: bytes,
                 passes: int, memory_kib: int) -> bytes:
    """`kind.seal`, with costs out of bounds a ClientError (the user chose them).
    Slow (Argon2id): call from a thread."""
    try:
        return kind.seal(plaintext, secret, context, passes, memory_kib)
    except CostsOutOfBounds as e:
        raise ClientError(str(e)) from None


def write_private(path: str, data: bytes) -> None:
    """Write `data` readable by this user only, atomically (a crash leaves the old file)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)




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
        sealed = seal_locally(_SEALED_SECRETS, json.dumps(secrets).encode(), self._password,
                              self._user_id.encode(), _SECRETS_PASSES, self._memory)
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
            data = _SEALED_SECRETS.open(sealed, self._password, self._user_id.encode())
        except WrongKey:
            raise WrongPassword("wrong password for this account on this device") from None
        except UnknownFormat as e:
            raise MissingSecrets(f"this account's keys on this device are damaged ({e})") \
                from None
        return dict(json.loads(data))

    def _slot(self) -> str | None:
        try:
            with open(self._slot_path, encoding="ascii") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None
