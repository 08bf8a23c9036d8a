"""What securechat-cli shows: its output, its remarks, and the formats both use."""

from __future__ import annotations

import json
import sys
import time

from securechat.client import MessageStatus, StoredMessage
from securechat.protocol import uris

PROG = "securechat-cli"
STATUS_NAMES = {status: status.name.lower() for status in MessageStatus}


def say(text: str = "") -> None:
    """User-facing output (stdout), flushed at once so pipes see it as it happens."""
    print(text, flush=True)


def note(text: str) -> None:
    """User-facing remarks that are not the command's output (stderr)."""
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def printable(text: str) -> str:
    """Text someone else chose, with control characters (a newline that would fake a
    line of output, terminal escapes) shown as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def when(timestamp_ms: int) -> str:
    """A message's or device's time, local, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ms / 1000))


def message_json(message: StoredMessage, who: str) -> str:
    """A message as one line of JSON (`history --json`, `listen --json`)."""
    return json.dumps({"type": "message", "id": message.id, "from": who, "text": message.text,
                       "timestamp": message.timestamp, "reply_to": message.reply_to,
                       "status": STATUS_NAMES.get(message.status, str(message.status))})


def connection_problem(reason: str) -> str:
    """A connection failure's reason (an error URI), said so the user knows what to do."""
    if reason == uris.ERR_UNTRUSTED_CERTIFICATE:
        return ("the relay's certificate is not trusted: pass --ca-file PATH (the relay's "
                "certificate or the CA that signed it)")
    return reason
