"""What calls show the client's users: states, outcomes, events and errors."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from securechat.client.errors import ClientError
from securechat.client.model import StoredMessage


class CallState(enum.StrEnum):
    DIALING = "dialing"  # getting TURN credentials and gathering: nothing sent yet
    RINGING = "ringing"  # my offer went out; the peer's devices ring
    INCOMING = "incoming"  # ringing here
    CONNECTING = "connecting"  # answered: ICE and DTLS through the TURN relay
    CONNECTED = "connected"
    INTERRUPTED = "interrupted"  # media stopped: the grace period runs
    ENDED = "ended"


class CallOutcome(enum.StrEnum):
    """How a call ended (the call log's `outcome`)."""

    COMPLETED = "completed"  # it was connected
    CANCELLED = "cancelled"  # the caller hung up before an answer
    MISSED = "missed"  # no answer in time (or the caller gave up first)
    DECLINED = "declined"
    BUSY = "busy"
    UNREACHABLE = "unreachable"  # none of the callee's devices was online to ring
    FAILED = "failed"  # TURN, timeout, stream failure: `reason` says which
    NETWORK = "network"  # the media stopped and did not come back: "Call ended"
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # another device of mine took it
    DECLINED_ELSEWHERE = "declined_elsewhere"


# Outcomes a device logs by itself; the others are logged by the device that took the
# call (SYNC_CALL_END).
LOGGED = frozenset(CallOutcome) - {CallOutcome.ANSWERED_ELSEWHERE,
                                   CallOutcome.DECLINED_ELSEWHERE}


@attrs.frozen
class IncomingCall:
    """A call rings on this device: `client.calls.get(call_id).answer(...)` or `.decline()`."""

    call_id: str
    peer_user_id: str
    mode: str  # "audio" | "video"


@attrs.frozen
class CallStateChanged:
    call_id: str
    peer_user_id: str
    state: CallState
    outcome: CallOutcome | None = None  # with ENDED
    reason: str | None = None  # a failure, in words


@attrs.frozen
class RemoteTrack:
    """Media from the peer: an aiortc MediaStreamTrack (`kind` "audio" or "video")."""

    call_id: str
    kind: str
    track: Any


@attrs.frozen
class CallLogged:
    """A call log row (`messages`, type 'call') was stored: here or on another device."""

    message: StoredMessage
    peer_user_id: str


class CallError(ClientError):
    """A call could not be placed or answered."""


class CallsUnavailable(CallError):
    """This client cannot make calls (no aiortc, not on the asyncio reactor, no TURN)."""


class AlreadyInCall(CallError):
    def __init__(self) -> None:
        super().__init__("already in a call: hang up first")


class TurnFailed(CallError):
    def __init__(self) -> None:
        super().__init__("TURN authentication or reachability failed")


class MediaDeviceError(CallError):
    """A microphone or camera is missing or was refused."""
