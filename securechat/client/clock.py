"""Whose clock places a message in history: the sender's, unless it disagrees with the relay's.

A MSG frame carries the time its sender's device says it was written; the relay stamps
each envelope with the time it accepted it (`ts`). A sender's clock may be wrong, or a
peer may lie to slip a message into the past (or the future) of a conversation. So the
sender's time is kept only while it is within MAX_SKEW_MS of the relay's; otherwise the
relay's time is used. (The relay could lie about `ts` too, but only within what it can
already do: delay or drop envelopes.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_SKEW_MS = 5 * 60 * 1000


def relay_timestamp(envelope: Mapping[str, Any]) -> int | None:
    """The envelope's `ts` (ms since the epoch), or None when it has no usable one."""
    ts = envelope.get("ts")
    return ts if isinstance(ts, int) and not isinstance(ts, bool) and ts > 0 else None


def message_timestamp(sender_ts: int, relay_ts: int | None) -> int:
    """Where a received message goes in history (ms since the epoch)."""
    if relay_ts is None or abs(sender_ts - relay_ts) <= MAX_SKEW_MS:
        return sender_ts
    return relay_ts
