"""The rule a new master password must follow (review L3), for every front end."""

from __future__ import annotations

from securechat.client.errors import PasswordTooShort

MIN_PASSWORD_LENGTH = 10



def check_new_password(password: str) -> None:
    """Raise PasswordTooShort for a master password too short to choose."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"the master password must have at least "
                               f"{MIN_PASSWORD_LENGTH} characters")
