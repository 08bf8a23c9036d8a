"""A quick-unlock PIN for one account on this device (the lock screen's "Enter PIN").

The PIN seals this device's keys only: the local database key, the device's signing
seed and the account's public identity key. `pin.bin` holds them encrypted (AES-256-GCM)
under a key Argon2id derives from the PIN, with a memory-hard cost so that each guess
takes a noticeable moment. Never the master password, the account's identity seed or
its recovery phrase: those stay sealed under the password (and the phrase under
itself, client.recovery). Five wrong PINs in a
row erase `pin.bin`; from then on only the master password opens the account.

A PIN is weaker than a password: someone who copies the account directory can guess
PINs offline, without the attempt counter (which lives in the same directory), at the
Argon2id cost per guess. What a correct guess gives them is this device: its stored
messages, and acting as it towards the relay until the device is removed from the
account. It does not give them the account (no new device can be enrolled without
the recovery phrase or another device's approval). The UI says so when the PIN is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import re

from cryptography.exceptions import InvalidTag

from securechat.client.errors import ClientError
from securechat.client.secrets import seal, unseal, write_private

PIN_FILE = "pin.bin"
TRIES_FILE = "pin.tries"  # wrong PINs since the last right one
MAX_TRIES = 5
_MAGIC = b"SCP2"
_FORMAT = re.compile(r"[0-9]{4,12}")


class InvalidPin(ClientError):
    """Not 4 to 12 digits."""


class WrongPin(ClientError):
    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN: {tries_left} {'try' if tries_left == 1 else 'tries'} left")
        self.tries_left = tries_left


class PinLocked(ClientError):
    def __init__(self) -> None:
        super().__init__("too many wrong PINs: the PIN is erased, use your master password")


def check_format(pin: str) -> None:
    if not _FORMAT.fullmatch(pin):
        raise InvalidPin("a PIN is 4 to 12 digits")


def has_pin(account_dir: str) -> bool:
    return os.path.exists(os.path.join(account_dir, PIN_FILE))


def set_pin(account_dir: str, pin: str, device_keys: dict[str, str], time_cost: int,
            memory_kib: int) -> None:
    """Seal `device_keys` under `pin` (slow: call from a thread)."""
    check_format(pin)
    sealed = seal(json.dumps(device_keys).encode(), pin, _MAGIC, time_cost, memory_kib,
                  _context(account_dir))
    write_private(os.path.join(account_dir, PIN_FILE), sealed)
    _set_tries(account_dir, 0)


def unlock(account_dir: str, pin: str) -> dict[str, str]:
    """The device keys the PIN seals (slow: call from a thread). Raises WrongPin, or
    PinLocked (and erases the PIN) at the MAX_TRIES-th wrong PIN in a row."""
    check_format(pin)  # a typo, not a guess: not counted
    try:
        with open(os.path.join(account_dir, PIN_FILE), "rb") as f:
            sealed = f.read()
    except FileNotFoundError:
        raise ClientError("no PIN is set for this account: use your master password") from None
    tries = _tries(account_dir)
    if tries >= MAX_TRIES:  # a crash between counting and erasing
        remove_pin(account_dir)
        raise PinLocked()
    try:
        device_keys = dict(json.loads(unseal(sealed, pin, _MAGIC, _context(account_dir))))
    except ValueError:
        remove_pin(account_dir)
        raise ClientError("the PIN file is damaged and was removed: use your master "
                          "password") from None
    except InvalidTag:
        tries += 1
        if tries >= MAX_TRIES:
            remove_pin(account_dir)
            raise PinLocked() from None
        _set_tries(account_dir, tries)
        raise WrongPin(MAX_TRIES - tries) from None
    if tries:
        _set_tries(account_dir, 0)
    return device_keys


def remove_pin(account_dir: str) -> None:
    for name in (PIN_FILE, TRIES_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(account_dir, name))


def _context(account_dir: str) -> bytes:
    """Binds the sealed password to its account (the directory is named by user id)."""
    return b"pin:" + os.path.basename(os.path.normpath(account_dir)).encode()


def _tries(account_dir: str) -> int:
    try:
        with open(os.path.join(account_dir, TRIES_FILE), encoding="ascii") as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _set_tries(account_dir: str, tries: int) -> None:
    write_private(os.path.join(account_dir, TRIES_FILE), str(tries).encode())
