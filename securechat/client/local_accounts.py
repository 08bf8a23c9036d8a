"""Which accounts this device holds, and where: one answer for the desktop app, the CLI
and bots (they used to disagree when $XDG_DATA_HOME was set).

Each account lives in `data_dir/<user id>/`; the emails (needed to open them) are in a
small index next to the account directories, most recently used first.
"""

from __future__ import annotations

import json
import os

from securechat.client.secrets import write_private
from securechat.protocol.keys import user_id_for_email

DEFAULT_RELAY_URL = "ws://127.0.0.1:8080"
INDEX = "accounts.json"  # the emails of the accounts in a data directory


def default_data_dir() -> str:
    """Where accounts live, the same for the desktop app, the CLI and bots:
    $SECURECHAT_DATA_DIR (or the older $SECURECHAT_DATA), else
    $XDG_DATA_HOME/securechat, else ~/.local/share/securechat."""
    explicit = os.environ.get("SECURECHAT_DATA_DIR") or os.environ.get("SECURECHAT_DATA")
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "securechat")


def default_relay_url() -> str:
    """$SECURECHAT_RELAY, else a relay on this machine."""
    return os.environ.get("SECURECHAT_RELAY") or DEFAULT_RELAY_URL


def account_dir_of(data_dir: str, email: str) -> str:
    return os.path.join(data_dir, user_id_for_email(email))


def is_set_up(data_dir: str, email: str) -> bool:
    """Whether this device holds that account (to open it rather than sign in)."""
    return os.path.isdir(account_dir_of(data_dir, email))


def known_accounts(data_dir: str) -> list[str]:
    """Emails of the accounts set up in `data_dir`, most recently used first."""
    try:
        with open(os.path.join(data_dir, INDEX), encoding="utf-8") as f:
            emails = [e for e in json.load(f) if isinstance(e, str)]
    except (OSError, ValueError):
        return []
    return [e for e in emails if is_set_up(data_dir, e)]


def remember(data_dir: str, email: str) -> None:
    """Put `email` first in the index (written atomically, mode 0600)."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    emails = [email, *(e for e in known_accounts(data_dir) if e != email)]
    # the user's email addresses: readable by this user only, like the account dirs
    write_private(os.path.join(data_dir, INDEX), json.dumps(emails).encode())
