"""What `frames.parse` accepts from a peer's decrypted envelope, and what it refuses (saying
which field), before anything reaches storage or the UI."""

from __future__ import annotations

import json
from typing import Any

import attrs
from twisted.trial import unittest

from securechat.protocol import frames
from securechat.protocol.frames import MAX_TEXT, Binding, Frame, InvalidFrame

SID = "ab" * 32

# One valid `data` per frame type.
VALID: dict[str, dict[str, Any]] = {
    frames.MSG: {"id": "m-1", "text": "hello", "timestamp": 1_700_000_000_000,
                 "replyTo": None},
    frames.DELETE: {"id": "m-1"},
    frames.RECEIPT: {"ids": ["m-1", "m-2"], "status": frames.RECEIPT_READ},
    frames.TYPING: {"typing": True},
    frames.FRIEND_REQUEST: {"email": "alice@example.org", "name": "Alice"},
    frames.FRIEND_ACCEPT: {"email": "bob@example.org", "name": "Bob"},
    frames.FRIEND_DENY: {"email": "bob@example.org"},
    frames.DUMMY: {},
    frames.MANIFEST: {},  # every section optional (tests.test_manifest checks them)
    frames.HISTORY_REQUEST: {"since": 0},
    # calls (tests.test_call_frames checks their limits)
    frames.RTC_OFFER: {"call_id": "c-1", "payload": "v=0", "mode": "audio",
                       "sent": 1_700_000_000_000},
    frames.RTC_ANSWER: {"call_id": "c-1", "payload": "v=0"},
    frames.RTC_ICE: {"call_id": "c-1", "payload": "candidate:1 1 udp 1 127.0.0.1 1 typ relay"},
    frames.CALL_RINGING: {"call_id": "c-1"},
    frames.CALL_BUSY: {"call_id": "c-1"},
    frames.CALL_DECLINE: {"call_id": "c-1"},
    frames.CALL_HANGUP: {"call_id": "c-1", "reason": "hangup", "device": None},
    frames.SYNC_CALL_END: {"call_id": "c-1", "peer": "u", "direction": "out", "mode": "audio",
                           "outcome": "completed", "started": 1, "duration": 3},
    frames.PROFILE_VERSION: {"name_version": 1, "avatar_version": 0},
    frames.GET_PROFILE: {},
    frames.PROFILE_DATA: {"name": "Alice", "avatar": "", "name_version": 1,
                          "avatar_version": 0},
    frames.REACTION: {"id": "m-1", "emoji": "👍", "timestamp": 1_700_000_000_000},
    frames.EDIT: {"id": "m-1", "text": "hello again", "timestamp": 1_700_000_000_000},
    frames.FILE_INFO: {"messageId": "m-1", "name": "a.jpg", "size": 10, "type": "image/jpeg",
                       "thumbnail": "", "blobId": "0" * 32, "chunkSize": 524288,
                       "chunkCount": 1, "key": "A" * 43 + "=", "token": "B" * 43 + "=",
                       "sha256": "f" * 64, "timestamp": 5, "text": None},
}
# The call frames' fields (docs/protocol.md §9.4, §9.13).
CALL_FIELDS = {
    "RTC_OFFER.call_id", "RTC_OFFER.payload", "RTC_OFFER.mode", "RTC_OFFER.sent",
    "RTC_ANSWER.call_id",
    "RTC_ANSWER.payload", "RTC_ICE.call_id", "RTC_ICE.payload", "CALL_RINGING.call_id",
    "CALL_BUSY.call_id", "CALL_DECLINE.call_id", "CALL_HANGUP.call_id", "CALL_HANGUP.reason",
    "CALL_HANGUP.device", "SYNC_CALL_END.call_id", "SYNC_CALL_END.peer",
    "SYNC_CALL_END.direction", "SYNC_CALL_END.mode", "SYNC_CALL_END.outcome",
    "SYNC_CALL_END.started", "SYNC_CALL_END.duration"}
# For each type of field, values of the wrong type (a boolean is not an int).
WRONG: dict[tuple[type, ...], list[Any]] = {
    (str,): [1, None, ["x"], {"x": 1}],
    (int,): ["1", 1.5, True, None],
    (bool,): [1, "true", None],
    (list,): ["m-1", {"0": "m-1"}, None],
    (str, type(None)): [1, ["m-0"], False],
}
BINDING = Binding("a" * 64, "alice-laptop", "alice-curve-key", "b" * 64, "bob-phone",
                  "bob-curve-key")


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def frame(kind: str, data: Any, **extra: Any) -> bytes:
    return encoded({"t": kind, "sid": SID, "data": data, **extra})


class AcceptedFrames(unittest.TestCase):
    def test_every_frame_type_with_valid_data(self) -> None:
        self.assertEqual(set(VALID), set(frames._FIELDS))  # every type the client knows
        for kind, data in VALID.items():
            self.assertEqual(frames.parse(frame(kind, data)), Frame(kind, SID, data), kind)

    def test_what_may_be_left_out_or_added(self) -> None:
        data = {"id": "m-1", "text": "hi", "timestamp": 5}  # replyTo may be left out
        self.assertEqual(frames.parse(frame(frames.MSG, data)).data, data)
        reply = {**data, "replyTo": "m-0", "to_email": "bob@example.org"}  # extras kept
        copy = frames.parse(frame(frames.MSG, reply, to="b" * 64, extra="ignored"))
        self.assertEqual((copy.data, copy.to), (reply, "b" * 64))
        self.assertIsNone(frames.parse(frame(frames.MSG, data, to=None)).to)
        self.assertEqual(frames.parse(frame(frames.RECEIPT, {"ids": [], "status": "delivered"}))
                         .data["ids"], [])

    def test_the_longest_text_counts_characters(self) -> None:
        text = "é" * MAX_TEXT  # twice as many bytes
        parsed = frames.parse(frame(frames.MSG, {**VALID[frames.MSG], "text": text}))
        self.assertEqual(parsed.data["text"], text)

    def test_what_the_client_encodes_parses_back_with_its_binding(self) -> None:
        sent = Frame(frames.MSG, SID, {**VALID[frames.MSG], "text": "naïve ☕"}, to="b" * 64)
        self.assertEqual(frames.parse(sent.encode()), sent)
        self.assertEqual(frames.parse_bound(sent.encode(BINDING)), (sent, BINDING))
        frames.parse_bound(sent.encode(BINDING))[1].check(BINDING)


class RefusedFrames(unittest.TestCase):
    def assertRefused(self, plaintext: bytes, says: str, bound: bool = False) -> None:
        with self.assertRaises(InvalidFrame) as caught:
            (frames.parse_bound if bound else frames.parse)(plaintext)
        self.assertIn(says, str(caught.exception))

    def test_not_json_or_not_an_object(self) -> None:
        self.assertRefused(b"MSG hello", "not a JSON frame (JSONDecodeError)")
        self.assertRefused(b'{"t": "MSG", ', "not a JSON frame")
        self.assertRefused(b'"\xff"', "not a JSON frame (UnicodeDecodeError)")
        for body in (b"[]", b'"MSG"', b"null", b"42", encoded([{"t": "MSG"}])):
            self.assertRefused(body, "a frame must be an object")

    def test_unknown_or_missing_types(self) -> None:
        self.assertRefused(frame("FILE_REQ_CHUNK", {}), "unknown frame type 'FILE_REQ_CHUNK'")
        self.assertRefused(frame("msg", VALID[frames.MSG]), "unknown frame type 'msg'")
        self.assertRefused(encoded({"sid": SID, "data": {}}), "unknown frame type None")
        for kind in (1, ["MSG"], {"MSG": 1}, True):
            self.assertRefused(frame(kind, VALID[frames.MSG]), "unknown frame type")
        with self.assertRaises(InvalidFrame) as caught:  # the sender's text, cut short
            frames.parse(frame("X" * 100_000, {}))
        self.assertLess(len(str(caught.exception)), 80)

    def test_sid_data_and_to_of_the_wrong_type(self) -> None:
        for kind, data in VALID.items():
            valid = {"t": kind, "sid": SID, "data": data}
            for sid in (None, 1, ["x"]):
                self.assertRefused(encoded({**valid, "sid": sid}), f"{kind}.sid is missing")
            self.assertRefused(encoded({"t": kind, "data": data}), f"{kind}.sid is missing")
            for bad in (None, [], "x", 1):
                self.assertRefused(encoded({**valid, "data": bad}), f"{kind}.data is missing")
            self.assertRefused(encoded({"t": kind, "sid": SID}), f"{kind}.data is missing")
            for to in (1, ["b" * 64], {}, False):
                self.assertRefused(encoded({**valid, "to": to}), f"{kind}.to is not a string")

    def test_each_data_field_missing_or_of_the_wrong_type(self) -> None:
        checked = set()
        for kind, fields in frames._FIELDS.items():
            for name, types in fields.items():
                says = f"{kind}.data.{name} is missing or has the wrong type"
                if type(None) not in types:
                    missing = {k: v for k, v in VALID[kind].items() if k != name}
                    self.assertRefused(frame(kind, missing), says)
                for wrong in WRONG[types]:
                    self.assertRefused(frame(kind, {**VALID[kind], name: wrong}), says)
                checked.add(f"{kind}.{name}")
        # the fields docs/protocol.md §9.4 lists, every one checked
        self.assertEqual(checked, {
            "MSG.id", "MSG.text", "MSG.timestamp", "MSG.replyTo", "DELETE.id", "RECEIPT.ids",
            "RECEIPT.status", "TYPING.typing", "FRIEND_REQUEST.email", "FRIEND_REQUEST.name",
            "FRIEND_ACCEPT.email", "FRIEND_ACCEPT.name", "FRIEND_DENY.email",
            "HISTORY_REQUEST.since", "PROFILE_VERSION.name_version",
            "PROFILE_VERSION.avatar_version", "PROFILE_DATA.name", "PROFILE_DATA.avatar",
            "PROFILE_DATA.name_version", "PROFILE_DATA.avatar_version", "REACTION.id",
            "REACTION.emoji", "REACTION.timestamp", "EDIT.id", "EDIT.text",
            "EDIT.timestamp"} | CALL_FIELDS | {f"FILE_INFO.{name}" for name in (
                "messageId", "name", "size", "type", "thumbnail", "blobId", "chunkSize",
                "chunkCount", "key", "token", "sha256", "timestamp", "text")})

    def test_a_file_info_whose_layout_or_secrets_do_not_fit(self) -> None:
        valid = VALID[frames.FILE_INFO]
        for change, says in (
                ({"chunkCount": 2}, "chunkSize or chunkCount does not fit its size"),
                ({"chunkSize": 0}, "chunkSize or chunkCount does not fit its size"),
                ({"size": -1}, "its size negative"),
                ({"name": ""}, "name is empty"),
                ({"key": "short"}, "FILE_INFO.data.key is not well formed"),
                ({"token": "A" * 44}, "FILE_INFO.data.token is not well formed"),
                ({"blobId": "../../etc/passwd"}, "FILE_INFO.data.blobId is not well formed"),
                ({"messageId": "../../.bashrc"}, "FILE_INFO.data.messageId is not well formed"),
                ({"sha256": "F" * 64}, "FILE_INFO.data.sha256 is not well formed"),
                ({"thumbnail": "x" * (frames.MAX_THUMBNAIL + 1)}, "thumbnail is too long")):
            self.assertRefused(frame(frames.FILE_INFO, {**valid, **change}), says)

    def test_an_over_long_message(self) -> None:
        self.assertRefused(frame(frames.MSG, {**VALID[frames.MSG], "text": "x" * (MAX_TEXT + 1)}),
                           "MSG.data.text is too long")

    def test_a_receipt_with_an_unknown_status_or_ids_that_are_not_strings(self) -> None:
        for status in ("seen", "READ", ""):
            self.assertRefused(frame(frames.RECEIPT, {"ids": ["m-1"], "status": status}),
                               "RECEIPT.data.status is neither 'delivered' nor 'read'")
        for ids in ([1], ["m-1", None], [["m-1"]]):
            self.assertRefused(frame(frames.RECEIPT, {"ids": ids, "status": "read"}),
                               "RECEIPT.data.ids holds something other than strings")

    def test_a_binding_with_a_field_missing_or_not_a_string(self) -> None:
        bound = json.loads(Frame(frames.TYPING, SID, {"typing": True}).encode(BINDING))
        for name in ("sender", "sender_device", "sender_key", "recipient", "recipient_device",
                     "recipient_key"):
            self.assertRefused(encoded({k: v for k, v in bound.items() if k != name}),
                               f"TYPING.{name} is missing or not a string", bound=True)
            self.assertRefused(encoded({**bound, name: 7}),
                               f"TYPING.{name} is missing or not a string", bound=True)
        # a frame without any binding parses as a frame, not as an envelope's plaintext
        self.assertRefused(frame(frames.TYPING, {"typing": True}), "TYPING.sender is missing",
                           bound=True)

    def test_a_binding_that_names_other_devices_than_the_envelope(self) -> None:
        _, binding = frames.parse_bound(Frame(frames.MSG, SID, VALID[frames.MSG]).encode(BINDING))
        for name, other in (("sender", "c" * 64), ("sender_device", "mallory-laptop"),
                            ("sender_key", "mallory-key"), ("recipient", "c" * 64),
                            ("recipient_device", "bob-laptop"), ("recipient_key", "other-key")):
            with self.assertRaises(InvalidFrame) as caught:
                binding.check(attrs.evolve(BINDING, **{name: other}))
            self.assertEqual(str(caught.exception),
                             f"the frame's {name} does not match the envelope")

