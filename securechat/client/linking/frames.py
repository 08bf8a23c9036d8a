"""Device linking on the wire: the `sas.v1` frames, the reasons a link ends, and the
one Olm message that carries the account key (see securechat.client.linking)."""

from __future__ import annotations

import json
import re
from typing import Any

import vodozemac

from securechat.client.errors import LinkFailed
from securechat.client.olm import OlmMachine

ALG = "sas.v1"
VERSION = 1
LINK_TIMEOUT = 5 * 60.0  # seconds a started approval may take, on either side
SECRET_TYPE = "securechat.link.secret"  # noqa: S105 - a type name

# Reasons a link ends without trust (sent in `cancel`, shown to the user).
MISMATCH = "mismatch"  # the user said the codes differ
BAD_MAC = "bad_mac"  # the keys the relay lists are not the keys the other device has
BAD_COMMITMENT = "bad_commitment"
BAD_SECRET = "bad_secret"  # noqa: S105 - a reason
TIMEOUT = "timeout"
CANCELLED = "cancelled"  # by a user
PROTOCOL = "protocol"  # an unexpected or malformed message
FAILED = "failed"  # the relay refused a step
REASONS = frozenset({MISMATCH, BAD_MAC, BAD_COMMITMENT, BAD_SECRET, TIMEOUT, CANCELLED,
                     PROTOCOL, FAILED})


_MESSAGES = {
    MISMATCH: "the codes did not match: the new device was not added",
    BAD_MAC: "the other device's keys are not the ones the relay lists: nothing was trusted",
    BAD_COMMITMENT: "the other device changed its key mid-way: nothing was trusted",
    BAD_SECRET: "the account key that arrived does not belong to this account",
    TIMEOUT: "the approval took too long: start again",
    CANCELLED: "the approval was cancelled",
    PROTOCOL: "the other device sent something unexpected: nothing was trusted",
    FAILED: "the relay refused a step of the approval: nothing was trusted",
}


def failure_for(reason: str) -> LinkFailed:
    return LinkFailed(reason, _MESSAGES.get(reason, _MESSAGES[PROTOCOL]))


_TXN = re.compile(r"[0-9a-f]{32}")
_B64 = re.compile(r"[A-Za-z0-9+/]{1,8192}={0,2}")
_FIELDS: dict[str, dict[str, type]] = {
    "request": {},
    "accept": {"commitment": str},
    "key": {"key": str},
    "mac": {"mac": str},
    "secret": {"olm_type": int, "olm_body": str},
    "cancel": {"reason": str},
}


class BadFrame(Exception):
    pass


def encode_frame(kind: str, txn: str, **fields: Any) -> bytes:
    return json.dumps({"t": kind, "txn": txn, **fields}, sort_keys=True,
                      separators=(",", ":")).encode("ascii")


def parse_frame(body: Any) -> dict[str, Any]:
    if isinstance(body, str):
        body = body.encode("ascii", "replace")
    if not isinstance(body, bytes) or len(body) > 16384:
        raise BadFrame("not a linking frame")
    try:
        frame = json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BadFrame("not JSON") from None
    if type(frame) is not dict or frame.get("t") not in _FIELDS:
        raise BadFrame("unknown linking frame")
    if type(frame.get("txn")) is not str or not _TXN.fullmatch(frame["txn"]):
        raise BadFrame("bad transaction id")
    for name, kind in _FIELDS[frame["t"]].items():
        value = frame.get(name)
        if type(value) is not kind:
            raise BadFrame(f"{frame['t']}.{name} is missing or has the wrong type")
        if kind is str and name != "reason" and not _B64.fullmatch(value):
            raise BadFrame(f"{frame['t']}.{name} is not base64")
    return frame


def envelope_for(device_id: str, frame: bytes) -> dict[str, Any]:
    return {"device_id": device_id, "v": VERSION, "alg": ALG, "type": 0, "body": frame}


# --- the one Olm message: the seed, to the verified Curve25519 key --------------------
# Kept to one outbound and one inbound session made and dropped here, so it does not
# touch the client's session bookkeeping (only the Olm account's keys).


def seal_secret(olm: OlmMachine, their_identity_key: str, one_time_key: str,
                plaintext: bytes) -> tuple[int, bytes]:
    session = olm.account.create_outbound_session(
        vodozemac.Curve25519PublicKey.from_base64(their_identity_key),
        vodozemac.Curve25519PublicKey.from_base64(one_time_key))
    kind, body = session.encrypt(plaintext).to_parts()
    return int(kind), bytes(body)


def open_secret(olm: OlmMachine, their_identity_key: str, kind: int, body: bytes) -> bytes:
    """Decrypts only a pre-key message from exactly `their_identity_key`."""
    if kind != 0:
        raise BadFrame("the secret is not an Olm pre-key message")
    try:
        message = vodozemac.AnyOlmMessage.from_parts(kind, body).to_pre_key()
        _, plaintext = olm.account.create_inbound_session(
            vodozemac.Curve25519PublicKey.from_base64(their_identity_key), message)
    except Exception as e:
        raise BadFrame(f"the secret does not decrypt ({type(e).__name__})") from None
    return bytes(plaintext)
