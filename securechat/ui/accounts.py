"""Which accounts this device holds: see securechat.client.account (shared with the CLI
and bots)."""

from securechat.client.account import INDEX, known_accounts, remember

__all__ = ["INDEX", "known_accounts", "remember"]
