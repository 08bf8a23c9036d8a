"""The client core's refusals: each carries a message fit to show the user."""

from __future__ import annotations


class ClientError(Exception):
    """A request the client core refuses, with a message fit for the user."""


class NoSuchAccount(ClientError):
    pass


class AccountInUse(ClientError):
    pass


class WrongPassword(ClientError):
    """The password does not open this account's sealed keys (or the relay refused it)."""


class CorruptBlob(ClientError):
    """Sealed recovery data (the relay's recovery blob, recovery.bin) is not in a format
    this client knows: damaged, or not SecureChat's."""
