"""The payload frames: what one device sends another inside an Olm envelope (a message,
a receipt, a friend request...), specified in docs/protocol.md §9.4.

Plaintext of every envelope is one JSON object `{"t": TYPE, "sid": ..., "data": {...}}`
plus the `Binding` fields: who sent it from which device and key, and for whom
(as Matrix's `m.olm.v1` payload does). `parse()` checks the shape of each frame
type; anything else is rejected with a reason naming the field, and never reaches
storage or the UI.
"""

from __future__ import annotations

import json
import re
import reprlib
from typing import Any

import attrs

MSG = "MSG"
DELETE = "DELETE"
RECEIPT = "RECEIPT"
TYPING = "TYPING"
FRIEND_REQUEST = "FRIEND_REQUEST"
FRIEND_ACCEPT = "FRIEND_ACCEPT"
FRIEND_DENY = "FRIEND_DENY"
# Account sync (client.manifest): state for my other devices, or missed messages for a
# contact; a new device asks my other devices for the contacts and the history.
MANIFEST = "MANIFEST"
HISTORY_REQUEST = "HISTORY_REQUEST"
# Calls (client.calls): WebRTC signaling (an SDP in `payload`) and the call's control
# frames, all ephemeral, to every device of the peer; SYNC_CALL_END tells my own other
# devices how a call ended (their call log, and they stop ringing).
RTC_OFFER = "RTC_OFFER"
RTC_ANSWER = "RTC_ANSWER"
RTC_ICE = "RTC_ICE"
CALL_RINGING = "CALL_RINGING"
CALL_BUSY = "CALL_BUSY"
CALL_DECLINE = "CALL_DECLINE"
CALL_HANGUP = "CALL_HANGUP"
SYNC_CALL_END = "SYNC_CALL_END"
CALL_MODES = ("audio", "video")
MAX_SDP = 32 * 1024
# Profiles (client.profiles): my display name and avatar changed (their versions); a
# contact asks for them; the answer. An avatar is a data URI (client.avatars), "" if none.
PROFILE_VERSION = "PROFILE_VERSION"
GET_PROFILE = "GET_PROFILE"
PROFILE_DATA = "PROFILE_DATA"
MAX_PROFILE_NAME = 64  # characters of a display name
MAX_AVATAR_URI = 96 * 1024  # characters of an avatar's data URI (64 KiB of image)
# Carries nothing: sent in a fresh session to a device that could not decrypt us, so
# that the pair recovers by itself (Matrix's m.dummy).
DUMMY = "DUMMY"
# Reactions and edits (client.message_actions, docs/protocol.md §9.7.2): one emoji per
# person per message ("" takes it back), and a new text for one's own message; both
# carry the sender's time, and the newer one wins wherever they arrive out of order.
REACTION = "REACTION"
EDIT = "EDIT"
MAX_REACTION = 32  # characters: one emoji, even a long ZWJ sequence with modifiers

# Encrypted file sharing (client.files): the spec's FILE_INFO, plus what fetching the file
# from the relay's blob store needs (blob id and read token, chunk layout, key, SHA-256).
FILE_INFO = "FILE_INFO"

MAX_TEXT = 64 * 1024
MAX_THUMBNAIL = 96 * 1024  # characters of FILE_INFO.data.thumbnail (a data: URL)
MAX_FILE_CHUNK = 4 * 1024 * 1024  # FILE_INFO.data.chunkSize
RECEIPT_DELIVERED = "delivered"
RECEIPT_READ = "read"

# Per frame type: the required data fields and their types.
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    MSG: {"id": (str,), "text": (str,), "timestamp": (int,), "replyTo": (str, type(None))},
    DELETE: {"id": (str,)},
    RECEIPT: {"ids": (list,), "status": (str,)},
    TYPING: {"typing": (bool,)},
    FRIEND_REQUEST: {"email": (str,), "name": (str,)},
    FRIEND_ACCEPT: {"email": (str,), "name": (str,)},
    FRIEND_DENY: {"email": (str,)},
    DUMMY: {},
    MANIFEST: {},  # every section optional: checked by _check_manifest
    HISTORY_REQUEST: {"since": (int,)},
    # Calls: `device` of a hang-up names the one device it is for (a second answer), or
    # None for every device. An offer's `sent`: the caller's wall clock (ms), inside the
    # encryption, so that a relay cannot hold an offer back and ring it later.
    RTC_OFFER: {"call_id": (str,), "payload": (str,), "mode": (str,), "sent": (int,)},
    RTC_ANSWER: {"call_id": (str,), "payload": (str,)},
    RTC_ICE: {"call_id": (str,), "payload": (str,)},
    CALL_RINGING: {"call_id": (str,)},
    CALL_BUSY: {"call_id": (str,)},
    CALL_DECLINE: {"call_id": (str,)},
    CALL_HANGUP: {"call_id": (str,), "reason": (str,), "device": (str, type(None))},
    SYNC_CALL_END: {"call_id": (str,), "peer": (str,), "direction": (str,), "mode": (str,),
                    "outcome": (str,), "started": (int,), "duration": (int,)},
    PROFILE_VERSION: {"name_version": (int,), "avatar_version": (int,)},
    GET_PROFILE: {},
    PROFILE_DATA: {"name": (str,), "avatar": (str,), "name_version": (int,),
                   "avatar_version": (int,)},
    # reactions and edits (client.message_actions)
    REACTION: {"id": (str,), "emoji": (str,), "timestamp": (int,)},
    EDIT: {"id": (str,), "text": (str,), "timestamp": (int,)},
    FILE_INFO: {"messageId": (str,), "name": (str,), "size": (int,), "type": (str,),
                "thumbnail": (str,), "blobId": (str,), "chunkSize": (int,),
                "chunkCount": (int,), "key": (str,), "token": (str,), "sha256": (str,),
                "timestamp": (int,), "text": (str, type(None))},
}
_CALL_FRAMES = (RTC_OFFER, RTC_ANSWER, RTC_ICE, CALL_RINGING, CALL_BUSY, CALL_DECLINE,
                CALL_HANGUP, SYNC_CALL_END)

MAX_MANIFEST_ENTRIES = 2000  # per section of one MANIFEST (larger state goes in pages)
_STR, _INT, _OPT_STR = (str,), (int,), (str, type(None))
# Per MANIFEST section: the fields of each entry and their types.
_MANIFEST_SECTIONS: dict[str, dict[str, tuple[type, ...]]] = {
    "blocks": {"user_id": _STR, "email": _STR, "action": _STR, "timestamp": _INT},
    "requests": {"user_id": _STR, "email": _STR, "name": _STR, "direction": _STR,
                 "action": _STR, "timestamp": _INT},
    "aliases": {"user_id": _STR, "alias": _OPT_STR, "notes": _OPT_STR,
                "verified": (bool,), "timestamp": _INT},
    "contacts": {"user_id": _STR, "email": _STR, "name": _STR, "identity_key": _STR},
    "messages": {"id": _STR, "sid": _STR, "sender": _STR, "text": _STR, "type": _STR,
                 "timestamp": _INT, "status": _INT, "is_read": (bool,),
                 "reply_to": _OPT_STR},
    "deleted": {"id": _STR, "sid": _STR, "sender": _STR, "at": _INT},
    # My display name and avatar (one entry): the higher version of each wins.
    "profile": {"name": _STR, "avatar": _STR, "name_version": _INT, "avatar_version": _INT},
}
_ALLOWED_VALUES = {
    ("blocks", "action"): ("block", "unblock"),
    ("requests", "action"): ("pending", "accepted", "denied"),
    ("requests", "direction"): ("in", "out"),
    ("messages", "sender"): ("me", "other"),
    ("deleted", "sender"): ("me", "other"),
}
_SHORT_FIELDS = 256  # characters of any string field but these:
_LONG_FIELDS = {"text": MAX_TEXT, "notes": MAX_TEXT, "avatar": MAX_AVATAR_URI}
_BINDING = ("sender", "sender_device", "sender_key", "recipient", "recipient_device",
            "recipient_key")


class InvalidFrame(Exception):
    """Not a frame this client accepts; the message says which field is wrong."""


@attrs.frozen
class Binding:
    """Sender and recipient of one encrypted frame, inside the ciphertext: the relay
    chooses the envelope's `from_user`/`from_device`, so the receiver checks these
    against them and against the keys it verified (`check`)."""

    sender: str
    sender_device: str
    sender_key: str  # the sender device's Curve25519 key
    recipient: str
    recipient_device: str
    recipient_key: str  # the recipient device's Curve25519 key

    def check(self, expected: Binding) -> None:
        for name in _BINDING:
            if getattr(self, name) != getattr(expected, name):
                raise InvalidFrame(f"the frame's {name} does not match the envelope")


@attrs.frozen
class Frame:
    type: str
    sid: str
    data: dict[str, Any]
    # For copies sent to my own other devices: whom the original went to.
    to: str | None = None

    def encode(self, binding: Binding | None = None) -> bytes:
        """The frame as JSON; with `binding`, the plaintext of one envelope."""
        body: dict[str, Any] = {"t": self.type, "sid": self.sid, "data": self.data}
        if self.to is not None:
            body["to"] = self.to
        if binding is not None:
            body.update(attrs.asdict(binding))
        return _json(body)


def bind(encoded: bytes, binding: Binding, to: str | None = None) -> bytes:
    """The plaintext of one envelope from a frame already encoded without binding or
    `to` (as the outbox keeps it): the fields are appended, the frame is not parsed or
    encoded again."""
    extra: dict[str, Any] = {} if to is None else {"to": to}
    extra.update(attrs.asdict(binding))
    return encoded[:-1] + b"," + _json(extra)[1:]


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_bound(plaintext: bytes) -> tuple[Frame, Binding]:
    """An envelope's plaintext: the frame and its binding (which the caller checks)."""
    raw = _json_object(plaintext)
    frame = _frame(raw)
    for name in _BINDING:
        if type(raw.get(name)) is not str:
            raise InvalidFrame(f"{frame.type}.{name} is missing or not a string")
    return frame, Binding(*(raw[name] for name in _BINDING))


def parse(plaintext: bytes) -> Frame:
    return _frame(_json_object(plaintext))


def _json_object(plaintext: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidFrame(f"not a JSON frame ({type(e).__name__})") from None
    if type(raw) is not dict:
        raise InvalidFrame("a frame must be an object")
    return raw


def _frame(raw: dict[str, Any]) -> Frame:
    kind, sid, data, to = raw.get("t"), raw.get("sid"), raw.get("data"), raw.get("to")
    fields = _FIELDS.get(kind) if type(kind) is str else None
    if fields is None:
        # The sender chose it: the reason (logged, and in an event) shows 40 characters.
        raise InvalidFrame(f"unknown frame type {reprlib.repr(kind)[:40]}")
    if type(sid) is not str:
        raise InvalidFrame(f"{kind}.sid is missing or not a string")
    if type(data) is not dict:
        raise InvalidFrame(f"{kind}.data is missing or not an object")
    if not (to is None or type(to) is str):
        raise InvalidFrame(f"{kind}.to is not a string")
    for name, types in fields.items():
        if type(data.get(name)) not in types:
            raise InvalidFrame(f"{kind}.data.{name} is missing or has the wrong type")
    if kind == MSG and len(data["text"]) > MAX_TEXT:
        raise InvalidFrame("MSG.data.text is too long")
    if kind == RECEIPT and data["status"] not in (RECEIPT_DELIVERED, RECEIPT_READ):
        raise InvalidFrame(f"RECEIPT.data.status is neither {RECEIPT_DELIVERED!r} nor "
                           f"{RECEIPT_READ!r}")
    if kind == RECEIPT and not all(type(i) is str for i in data["ids"]):
        raise InvalidFrame("RECEIPT.data.ids holds something other than strings")
    if kind in (PROFILE_DATA, PROFILE_VERSION):
        _check_profile(kind, data)
    if kind == MANIFEST:
        _check_manifest(data)
    if kind in _CALL_FRAMES:
        _check_call(kind, data)
    if kind == HISTORY_REQUEST and "before" in data and not (
            type(data["before"]) is list and len(data["before"]) == 2
            and type(data["before"][0]) is int and type(data["before"][1]) is str):
        raise InvalidFrame("HISTORY_REQUEST.data.before is not [timestamp, id]")
    if kind == REACTION:
        check_reaction(data["emoji"])
    if kind == EDIT:
        check_edit_text(data["text"])
    if kind == FILE_INFO:
        _check_file_info(data)
    return Frame(kind, sid, data, to)


def _check_call(kind: str, data: dict[str, Any]) -> None:
    for name, value in data.items():
        if type(value) is str and len(value) > (MAX_SDP if name == "payload" else _SHORT_FIELDS):
            raise InvalidFrame(f"{kind}.data.{name} is too long")
    if "mode" in data and data["mode"] not in CALL_MODES:
        raise InvalidFrame(f"{kind}.data.mode is neither audio nor video")
    if kind == SYNC_CALL_END and not 0 <= data["duration"] <= 7 * 24 * 3600:
        raise InvalidFrame("SYNC_CALL_END.data.duration is out of range")


def _check_manifest(data: dict[str, Any]) -> None:
    for section, value in data.items():
        if section == "history":  # a history page: {"total": int, "for": device, "done"}
            if type(value) is not dict or type(value.get("total")) is not int:
                raise InvalidFrame("MANIFEST.data.history.total is missing or not an integer")
            if type(value.get("for", "")) is not str or type(value.get("done", False)) \
                    is not bool:
                raise InvalidFrame("MANIFEST.data.history.for or .done has the wrong type")
            continue
        fields = _MANIFEST_SECTIONS.get(section)
        if fields is None:
            raise InvalidFrame(f"unknown MANIFEST section {reprlib.repr(section)[:40]}")
        if type(value) is not list:
            raise InvalidFrame(f"MANIFEST.data.{section} is not a list")
        if len(value) > MAX_MANIFEST_ENTRIES:
            raise InvalidFrame(f"MANIFEST.data.{section} has too many entries")
        for entry in value:
            if type(entry) is not dict:
                raise InvalidFrame(f"MANIFEST.data.{section} holds something other than "
                                   "objects")
            for name, types in fields.items():
                field = entry.get(name)
                if type(field) not in types:
                    raise InvalidFrame(f"MANIFEST.data.{section}[].{name} is missing or has "
                                       "the wrong type")
                if type(field) is str and len(field) > _LONG_FIELDS.get(name, _SHORT_FIELDS):
                    raise InvalidFrame(f"MANIFEST.data.{section}[].{name} is too long")
                allowed = _ALLOWED_VALUES.get((section, name))
                if allowed is not None and field not in allowed:
                    raise InvalidFrame(f"MANIFEST.data.{section}[].{name} is not one of "
                                       f"{', '.join(allowed)}")
            # Unsend leaves a marker (issue 11): a deletion says whether it was an unsend.
            if section == "deleted" and type(entry.get("unsent", False)) is not bool:
                raise InvalidFrame("MANIFEST.data.deleted[].unsent is not a boolean")
            # A shared file's message carries its FILE_INFO (issue 13: files follow as
            # references): checked as a FILE_INFO of that message.
            if section == "messages" and "file" in entry:
                _check_manifest_file(entry)


# A MANIFEST message's `file`: FILE_INFO's fields but those the message has already.
MANIFEST_FILE_FIELDS = tuple(f for f in _FIELDS[FILE_INFO] if f not in
                             ("messageId", "timestamp", "text"))


def _check_manifest_file(entry: dict[str, Any]) -> None:
    file = entry["file"]
    if type(file) is not dict or set(file) != set(MANIFEST_FILE_FIELDS):
        raise InvalidFrame("MANIFEST.data.messages[].file is not a file's description")
    info = {**file, "messageId": entry["id"], "timestamp": entry["timestamp"], "text": None}
    for name, types in _FIELDS[FILE_INFO].items():
        if type(info[name]) not in types:
            raise InvalidFrame(f"MANIFEST.data.messages[].file.{name} has the wrong type")
    try:
        _check_file_info(info)
    except InvalidFrame as e:
        raise InvalidFrame(str(e).replace("FILE_INFO.data.", "MANIFEST.data.messages[].file."),
                           ) from None


def _check_profile(kind: str, data: dict[str, Any]) -> None:
    if data["name_version"] < 0 or data["avatar_version"] < 0:
        raise InvalidFrame(f"{kind}.data has a negative version")
    if kind == PROFILE_DATA and len(data["name"]) > MAX_PROFILE_NAME:
        raise InvalidFrame("PROFILE_DATA.data.name is too long")
    if kind == PROFILE_DATA and len(data["avatar"]) > MAX_AVATAR_URI:
        raise InvalidFrame("PROFILE_DATA.data.avatar is too large")


def check_reaction(emoji: str) -> None:
    """A reaction is one short symbol on one line ("" takes a reaction back)."""
    if len(emoji) > MAX_REACTION:
        raise InvalidFrame("REACTION.data.emoji is too long")
    if emoji and (not emoji.strip() or any(ord(ch) < 32 or ch.isspace() for ch in emoji)):
        raise InvalidFrame("REACTION.data.emoji holds spaces or control characters")


def check_edit_text(text: str) -> None:
    if not text.strip():
        raise InvalidFrame("EDIT.data.text is empty")
    if len(text) > MAX_TEXT:
        raise InvalidFrame("EDIT.data.text is too long")


_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # names the file kept on disk: no paths
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")  # 32 bytes, standard base64


def _check_file_info(data: dict[str, Any]) -> None:
    for name, limit in (("messageId", 64), ("name", 255), ("type", 127),
                        ("thumbnail", MAX_THUMBNAIL)):
        if len(data[name]) > limit:
            raise InvalidFrame(f"FILE_INFO.data.{name} is too long")
    if data["text"] is not None and len(data["text"]) > MAX_TEXT:
        raise InvalidFrame("FILE_INFO.data.text is too long")
    if not data["name"] or data["size"] < 0:
        raise InvalidFrame("FILE_INFO.data.name is empty or its size negative")
    if not 0 < data["chunkSize"] <= MAX_FILE_CHUNK or data["chunkCount"] != max(
            1, -(-data["size"] // data["chunkSize"])):
        raise InvalidFrame("FILE_INFO.data.chunkSize or chunkCount does not fit its size")
    for name, pattern in (("messageId", _FILE_ID), ("blobId", _HEX32), ("sha256", _HEX64),
                          ("key", _KEY), ("token", _KEY)):
        if not pattern.fullmatch(data[name]):
            raise InvalidFrame(f"FILE_INFO.data.{name} is not well formed")
