"""The client core's refusals: each carries a message fit to show the user."""

from __future__ import annotations


class ClientError(Exception):
    """A request the client core refuses, with a message fit for the user."""


class NoSuchAccount(ClientError):
    pass


class AccountInUse(ClientError):
    pass
