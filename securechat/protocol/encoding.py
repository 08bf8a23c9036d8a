"""Base64 as the protocol writes keys and signatures in JSON and WAMP arguments."""

from __future__ import annotations

import base64


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Standard base64, with or without its padding."""
    return base64.b64decode(text + "=" * (-len(text) % 4))
