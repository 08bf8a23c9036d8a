"""How a call log row (`messages`, type 'call') reads in a conversation."""

from __future__ import annotations

import json

from securechat.client import StoredMessage
from securechat.ui import strings as S

CALL_TYPE = "call"


def is_call(message: StoredMessage) -> bool:
    return message.type == CALL_TYPE


def call_line(message: StoredMessage, name: str) -> str:
    """"Outgoing video call · 2:05", "Missed voice call", … (the row's JSON read safely:
    a synced row came from another device)."""
    try:
        info = json.loads(message.text)
        direction, mode = info["direction"], info["mode"]
        outcome, duration = info["outcome"], int(info["duration"])
    except (ValueError, KeyError, TypeError):
        return S.CALL_LOG_UNREADABLE
    kind = S.CALL_LOG_KIND.get(f"{direction}-{mode}", S.CALL_LOG_UNREADABLE)
    if outcome == "completed":
        return f"{kind} · {duration // 60}:{duration % 60:02d}"
    return S.CALL_LOG_OUTCOME.get(outcome, "{kind}").format(kind=kind, name=name)
