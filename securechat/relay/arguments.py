"""Checks for the arguments of relay procedures: each failure names the argument."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from securechat.relay.errors import invalid

USER_ID = re.compile(r"[0-9a-f]{64}")
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HEX_KEY = re.compile(r"[0-9a-f]{64}")


def text(name: str, value: Any, max_len: int, pattern: re.Pattern[str] | None = None) -> str:
    if type(value) is not str or not 0 < len(value) <= max_len:
        invalid(f"{name} must be a string of 1 to {max_len} characters")
    if pattern is not None and not pattern.fullmatch(value):
        invalid(f"{name} is not well formed")
    return value


def user_id(name: str, value: Any) -> str:
    return text(name, value, 64, USER_ID)


def device_id(name: str, value: Any) -> str:
    return text(name, value, 64, DEVICE_ID)


def integer(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        invalid(f"{name} must be an integer from {low} to {high}")
    return value


def b64_bytes(name: str, value: Any, length: int | None = None, max_size: int = 4096,
              padded: bool = False) -> bytes:
    """A base64 string that decodes to `length` bytes. Padding is optional unless
    `padded` (then the string must be the canonical padded encoding)."""
    if type(value) is not str or len(value) > max_size * 2:
        invalid(f"{name} must be a base64 string")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        invalid(f"{name} must be a base64 string")
    if (length is not None and len(raw) != length) or len(raw) > max_size:
        invalid(f"{name} must decode to {length or max_size} bytes")
    if padded and base64.b64encode(raw).decode("ascii") != value:
        invalid(f"{name} must be standard padded base64")
    return raw


def size(value: bytes | str) -> int:
    """Bytes on the wire: a string counts as its UTF-8 encoding."""
    return len(value) if isinstance(value, bytes) else len(value.encode("utf-8"))


def blob(name: str, value: Any, max_size: int) -> bytes | str:
    """Opaque data: bytes (binary serializers) or a string (JSON); never inspected."""
    if type(value) not in (bytes, str):
        invalid(f"{name} must be bytes or a string")
    if size(value) > max_size:
        invalid(f"{name} is larger than {max_size} bytes")
    return value


def listing(name: str, value: Any, max_items: int) -> list[Any]:
    if type(value) is not list or len(value) > max_items:
        invalid(f"{name} must be an array of at most {max_items} items")
    return value


def mapping(name: str, value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        invalid(f"{name} must be an object")
    return value
