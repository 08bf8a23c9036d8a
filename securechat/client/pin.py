"""A quick-unlock PIN for one account on this device (the lock screen's "Enter PIN").

The PIN seals this device's keys only: the local key (which also keys the encrypted
database), the device's signing seed and the account's public identity key. Never the
master password, the account's identity seed or its recovery phrase: those stay sealed
under the password (and the phrase under itself, client.recovery). `pin.bin` holds the
device keys encrypted (AES-256-GCM) under a key Argon2id derives from the PIN, with a
memory-hard cost so that each guess takes a noticeable moment. Five wrong PINs in a
row erase `pin.bin`; from then on only the master password opens the account. A PIN
is 6 to 12 digits.

Where the OS has a keychain (the same test as `secrets.keychain_available`), that
sealed blob is encrypted again (AES-256-GCM) under a random 32-byte key kept in the
keychain, in an entry named in `pin.bin`: a copy of the account directory alone is then
no help in guessing the PIN, since every guess also needs the keychain's key. Removing
the PIN (or five wrong ones) deletes that entry too.

Without a keychain the PIN is weaker than a password: someone who copies the account
directory can guess PINs offline, without the attempt counter (which lives in the same
directory), at the Argon2id cost per guess. A correct guess gives them this device:
the keys to its stored messages, and acting as it towards the relay until the device is
removed from the account. It does not give them the account (no new device can be
enrolled without the recovery phrase or another device's approval). The UI says so when
the PIN is set.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re

import keyring
import keyring.errors

from securechat.client.errors import ClientError, InvalidPin, PinLocked, WrongPin
from securechat.client.secrets import (
    LOCAL_KDF_BOUNDS,
    SERVICE,
    keychain_available,
    seal_locally,
    write_private,
)
from securechat.crypto.sealing import (
    KeySealing,
    PasswordSealing,
    SealingError,
    UnknownFormat,
    WrongKey,
    random_key,
)

PIN_FILE = "pin.bin"
TRIES_FILE = "pin.tries"  # wrong PINs since the last right one
MAX_TRIES = 5
_SEALED = PasswordSealing(b"SCP2", LOCAL_KDF_BOUNDS)  # sealed under the PIN
# ... then under a key in the OS keychain, in the entry the key id names
_WRAPPED = KeySealing(b"SCK1", key_id_size=16)
_FORMAT = re.compile(r"[0-9]{6,12}")
_FORMAT_BEFORE = re.compile(r"[0-9]{4,12}")  # what PINs set by older versions may be



class _Damaged(Exception):
    pass


def check_format(pin: str) -> None:
    if not _FORMAT.fullmatch(pin):
        raise InvalidPin("a PIN is 6 to 12 digits")


def keychain_bound() -> bool:
    """Whether a PIN set now is also bound to the OS keychain (see the docstring)."""
    return keychain_available()


def has_pin(account_dir: str) -> bool:
    return os.path.exists(os.path.join(account_dir, PIN_FILE))


def set_pin(account_dir: str, pin: str, device_keys: dict[str, str], time_cost: int,
            memory_kib: int) -> None:
    """Seal `device_keys` under `pin` (slow, and may ask the keychain: call from a
    thread). Replaces any PIN set before."""
    check_format(pin)
    sealed = seal_locally(_SEALED, json.dumps(device_keys).encode(), pin,
                          _context(account_dir), time_cost, memory_kib)
    _store(account_dir, sealed)
    _set_tries(account_dir, 0)


def unlock(account_dir: str, pin: str) -> dict[str, str]:
    """The device keys the PIN seals (slow: call from a thread). Raises WrongPin, or
    PinLocked (and erases the PIN) at the MAX_TRIES-th wrong PIN in a row."""
    if not _FORMAT_BEFORE.fullmatch(pin):  # a typo, not a guess: not counted
        raise InvalidPin("a PIN is 6 to 12 digits")
    try:
        with open(os.path.join(account_dir, PIN_FILE), "rb") as f:
            stored = f.read()
    except FileNotFoundError:
        raise ClientError("no PIN is set for this account: use your master password") from None
    tries = _tries(account_dir)
    if tries >= MAX_TRIES:  # a crash between counting and erasing
        remove_pin(account_dir)
        raise PinLocked()
    try:
        sealed = _unwrap(account_dir, stored)
        device_keys = dict(json.loads(_SEALED.open(sealed, pin, _context(account_dir))))
    except (UnknownFormat, ValueError, _Damaged):
        remove_pin(account_dir)
        raise ClientError("the PIN file is damaged and was removed: use your master "
                          "password") from None
    except WrongKey:
        tries += 1
        if tries >= MAX_TRIES:
            remove_pin(account_dir)
            raise PinLocked() from None
        _set_tries(account_dir, tries)
        raise WrongPin(MAX_TRIES - tries) from None
    if tries:
        _set_tries(account_dir, 0)
    if sealed == stored and keychain_available():
        # A PIN from before the keychain was used (or there was one): bind it now.
        with contextlib.suppress(ClientError):
            _store(account_dir, sealed)
    return device_keys


def remove_pin(account_dir: str) -> None:
    """Forget the PIN: its files, and its key in the keychain."""
    entry = _keychain_entry(account_dir)
    if entry is not None:
        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(SERVICE, entry)
    for name in (PIN_FILE, TRIES_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(account_dir, name))


def _store(account_dir: str, sealed: bytes) -> None:
    """Write `sealed` as pin.bin, wrapped under a new keychain key where there is a
    keychain; the previous PIN's keychain entry goes."""
    old_entry = _keychain_entry(account_dir)
    if keychain_available():
        entry_id, key = os.urandom(_WRAPPED.key_id_size), random_key()
        try:
            keyring.set_password(SERVICE, _entry_name(account_dir, entry_id),
                                 base64.b64encode(key).decode())
        except keyring.errors.KeyringError as e:
            raise ClientError(f"the system keychain refused the PIN's key "
                              f"({type(e).__name__}): unlock it and try again") from None
        sealed = _WRAPPED.seal(sealed, key, _context(account_dir), key_id=entry_id)
    write_private(os.path.join(account_dir, PIN_FILE), sealed)
    if old_entry is not None:
        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(SERVICE, old_entry)


def _unwrap(account_dir: str, stored: bytes) -> bytes:
    """The Argon2id-sealed blob inside pin.bin (pin.bin itself if it is not wrapped)."""
    if not _WRAPPED.is_kind(stored):
        return stored
    try:
        return _WRAPPED.open_by_id(stored, lambda entry_id: _keychain_key(account_dir, entry_id),
                                   _context(account_dir))
    except (binascii.Error, SealingError):
        raise _Damaged() from None


def _keychain_key(account_dir: str, entry_id: bytes) -> bytes:
    """The key the keychain keeps for this PIN; raises ClientError if it cannot say."""
    if not keychain_available():
        raise ClientError("this PIN needs the system keychain, which is not available now: "
                          "use your master password")
    entry = _entry_name(account_dir, entry_id)
    try:
        encoded = keyring.get_password(SERVICE, entry)
    except keyring.errors.KeyringError as e:
        raise ClientError(f"the system keychain did not give the PIN's key "
                          f"({type(e).__name__}): unlock it and try again") from None
    if encoded is None:
        remove_pin(account_dir)
        raise ClientError("the PIN's key is gone from the system keychain, so the PIN was "
                          "removed: use your master password")
    return base64.b64decode(encoded, validate=True)


def _keychain_entry(account_dir: str) -> str | None:
    """The keychain entry the current pin.bin names, if it is wrapped."""
    try:
        with open(os.path.join(account_dir, PIN_FILE), "rb") as f:
            header = f.read(_WRAPPED.header_size)
    except FileNotFoundError:
        return None
    entry_id = _WRAPPED.key_id(header)
    return None if entry_id is None else _entry_name(account_dir, entry_id)


def _entry_name(account_dir: str, entry_id: bytes) -> str:
    """Per PIN, not per account: two copies of an account on one machine (two data
    directories) never share an entry."""
    return f"{_user_id(account_dir)}/pin/{entry_id.hex()}"


def _user_id(account_dir: str) -> str:
    return os.path.basename(os.path.normpath(account_dir))


def _context(account_dir: str) -> bytes:
    """Binds the sealed device keys to their account (the directory is named by user
    id): a pin.bin copied into another account's directory does not open there."""
    return b"pin:" + _user_id(account_dir).encode()


def _tries(account_dir: str) -> int:
    try:
        with open(os.path.join(account_dir, TRIES_FILE), encoding="ascii") as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _set_tries(account_dir: str, tries: int) -> None:
    write_private(os.path.join(account_dir, TRIES_FILE), str(tries).encode())
