"""How handlers refuse: an ApplicationError with one of our URIs and a clear text."""

from __future__ import annotations

from typing import Any, NoReturn

from autobahn.wamp.exception import ApplicationError

from securechat.protocol import uris


def refuse(uri: str, message: str, **details: Any) -> NoReturn:
    """Raise the WAMP error a caller gets back; `details` become its kwargs."""
    raise ApplicationError(uri, message, **details)


def invalid(message: str) -> NoReturn:
    refuse(uris.ERR_INVALID_ARGUMENT, message)
