"""The rule a new master password must follow (review L3), for every front end, and
the vault's password generator."""

from __future__ import annotations

import secrets

from securechat.client.errors import ClientError, PasswordTooShort

MIN_PASSWORD_LENGTH = 10



def check_new_password(password: str) -> None:
    """Raise PasswordTooShort for a master password too short to choose."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"the master password must have at least "
                               f"{MIN_PASSWORD_LENGTH} characters")


LOWER = "abcdefghijkmnopqrstuvwxyz"  # no l: told apart from 1 and I
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
DIGITS = "23456789"  # no 0, 1
SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"


def generate_password(length: int = 20, symbols: bool = True) -> str:
    """A random password for the vault's generator (`secrets`, never `random`): at
    least one character of each class asked for, the rest from all of them."""
    classes = [LOWER, UPPER, DIGITS] + ([SYMBOLS] if symbols else [])
    if not len(classes) <= length <= 128:
        raise ClientError(f"a generated password has {len(classes)} to 128 characters")
    alphabet = "".join(classes)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    for i in range(len(chars) - 1, 0, -1):  # Fisher-Yates with a CSPRNG
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)
