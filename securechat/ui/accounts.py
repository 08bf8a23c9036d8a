"""Which accounts this device holds: a small index the UI keeps next to the account dirs.

The core stores each account under data_dir/<user_id>/; the email (needed to open it)
is remembered here when the account is registered or signed in on this device.
"""

from __future__ import annotations

import json
import os

from securechat.client.secrets import write_private
from securechat.protocol.keys import user_id_for_email

INDEX = "accounts.json"


def known_accounts(data_dir: str) -> list[str]:
    """Emails of the accounts set up in `data_dir`, most recently used first."""
    try:
        with open(os.path.join(data_dir, INDEX), encoding="utf-8") as f:
            emails = [e for e in json.load(f) if isinstance(e, str)]
    except (OSError, ValueError):
        return []
    return [e for e in emails if os.path.isdir(os.path.join(data_dir, user_id_for_email(e)))]


def remember(data_dir: str, email: str) -> None:
    """Put `email` first in the index (written atomically, mode 0600)."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    emails = [email, *(e for e in known_accounts(data_dir) if e != email)]
    # the user's email addresses: readable by this user only, like the account dirs
    write_private(os.path.join(data_dir, INDEX), json.dumps(emails).encode())
