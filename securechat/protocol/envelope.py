"""Envelopes: one ciphertext for one device, as a client sends it and as the relay delivers it.

A client sends a message as a list of envelopes (`sc.message.send(recipient, envelopes)`),
one per device, each `outgoing(...)`:

    {"device_id": recipient device, "v": crypto version, "alg": algorithm id,
     "type": the algorithm's message type, "body": the ciphertext}

The relay checks them against the bounds below, stamps each, stores it, and delivers
it to its device (an EVENT on `sc.inbox.<device_id>`, or an item of a
`sc.mailbox.fetch` page) as `delivered(...)`:

    {"id": envelope id (ack it with sc.mailbox.ack), "from_user", "from_device":
     the sending account and device, as authenticated by the relay,
     "ts": when the relay took it (ms since the epoch, relay clock),
     "v", "alg", "type", "body": as sent}

The relay never reads `body`: bytes from binary serializers, or a printable ASCII
(base64) string from JSON ones. A receiving client reads a delivered envelope with
`parse_incoming`, which checks only its shape: the relay is not trusted, so the
sender, the algorithm and the body are still the client's to judge.

The hot path of both sides goes through here: plain dicts and a NamedTuple, no
per-field validators.
"""

from __future__ import annotations

from typing import Any, NamedTuple

VERSION_MIN, VERSION_MAX = 1, 255  # "v"
TYPE_MIN, TYPE_MAX = 0, 255  # "type"
ALG_MAX_LENGTH = 32  # "alg"
ID_MAX_LENGTH = 64  # "id": what sc.mailbox.ack takes


def outgoing(device_id: str, v: int, alg: str, message_type: int,
             body: bytes | str) -> dict[str, Any]:
    """An envelope for `sc.message.send`."""
    return {"device_id": device_id, "v": v, "alg": alg, "type": message_type, "body": body}


def delivered(envelope_id: str, from_user: str, from_device: str, ts: int, v: int, alg: str,
              message_type: int, body: bytes | str) -> dict[str, Any]:
    """An envelope as the relay delivers it to its device."""
    return {"id": envelope_id, "from_user": from_user, "from_device": from_device, "ts": ts,
            "v": v, "alg": alg, "type": message_type, "body": body}


class Incoming(NamedTuple):
    """A delivered envelope whose fields have the right types."""

    id: str
    from_user: str
    from_device: str
    ts: int | None  # ms since the epoch, relay clock; None when it sent none usable
    v: int
    alg: str
    type: int
    body: bytes | str  # a string: its sender sent text (JSON), not binary ciphertext


class MalformedEnvelope(ValueError):
    """A delivered envelope without the shape of one. `envelope_id` is its id when that
    is usable (to acknowledge it, so that it does not come again), else None."""

    def __init__(self, reason: str, envelope_id: str | None, from_user: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.envelope_id = envelope_id
        self.from_user = from_user


def parse_incoming(raw: Any) -> Incoming:
    """Read a delivered envelope; raises MalformedEnvelope if a field is missing or of
    the wrong type."""
    get = raw.get if type(raw) is dict else _nothing
    envelope_id, from_user, from_device, v, alg, kind, body, ts = (
        get("id"), get("from_user"), get("from_device"), get("v"), get("alg"), get("type"),
        get("body"), get("ts"))
    if (type(envelope_id) is str and 0 < len(envelope_id) <= ID_MAX_LENGTH
            and type(from_user) is str and from_user
            and type(from_device) is str and from_device
            and type(v) is int and type(alg) is str and type(kind) is int
            and (type(body) is bytes or type(body) is str)):
        if type(ts) is not int or ts <= 0:
            ts = None
        # tuple.__new__: a NamedTuple's own constructor costs twice as much.
        return _new_tuple(Incoming, (envelope_id, from_user, from_device, ts, v, alg, kind,
                                     body))
    raise _malformed(raw)


_new_tuple = tuple.__new__


def _nothing(_: str) -> None:
    return None


def _malformed(raw: Any) -> MalformedEnvelope:
    """Why `raw` is not a delivered envelope (the slow path: rare, and only then)."""
    if type(raw) is not dict:
        return MalformedEnvelope("an envelope must be an object", None, "")
    envelope_id, from_user = raw.get("id"), raw.get("from_user")
    if type(envelope_id) is not str or not 0 < len(envelope_id) <= ID_MAX_LENGTH:
        envelope_id = None
    if type(from_user) is not str:
        from_user = ""
    from_device = raw.get("from_device")
    if envelope_id is None or not from_user or type(from_device) is not str or not from_device:
        return MalformedEnvelope("the envelope has no id or sender", envelope_id, from_user)
    body = raw.get("body")
    if type(body) is not bytes and type(body) is not str:
        return MalformedEnvelope("the envelope has no body", envelope_id, from_user)
    return MalformedEnvelope("the envelope's v, alg or type is not well formed", envelope_id,
                             from_user)
