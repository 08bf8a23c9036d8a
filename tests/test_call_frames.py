"""The call frames' shapes: what a peer (or a device of mine) may send, and what is
refused before any call sees it."""

from __future__ import annotations

import json

from twisted.trial import unittest

from securechat.protocol import frames


def raw(kind: str, data: dict[str, object]) -> bytes:
    return json.dumps({"t": kind, "sid": "s", "data": data}).encode()


class CallFrameTests(unittest.TestCase):
    def test_the_signaling_and_control_frames_parse(self) -> None:
        for kind, data in (
                (frames.RTC_OFFER, {"call_id": "c", "payload": "v=0", "mode": "video",
                                    "sent": 1}),
                (frames.RTC_ANSWER, {"call_id": "c", "payload": "v=0"}),
                (frames.RTC_ICE, {"call_id": "c", "payload": "candidate:1 1 udp 1 x 1 typ relay"}),
                (frames.CALL_RINGING, {"call_id": "c"}),
                (frames.CALL_BUSY, {"call_id": "c"}),
                (frames.CALL_DECLINE, {"call_id": "c"}),
                (frames.CALL_HANGUP, {"call_id": "c", "reason": "hangup", "device": None}),
                (frames.SYNC_CALL_END, {"call_id": "c", "peer": "u", "direction": "out",
                                        "mode": "audio", "outcome": "completed",
                                        "started": 1, "duration": 3})):
            self.assertEqual(frames.parse(raw(kind, data)).data, data)

    def test_malformed_call_frames_are_refused_with_the_field_named(self) -> None:
        for kind, data, reason in (
                (frames.RTC_OFFER, {"call_id": "c", "payload": "v=0", "mode": "hologram",
                                    "sent": 1},
                 "RTC_OFFER.data.mode is neither audio nor video"),
                (frames.RTC_OFFER, {"call_id": "c", "payload": "x" * (frames.MAX_SDP + 1),
                                    "mode": "audio", "sent": 1},
                 "RTC_OFFER.data.payload is too long"),
                (frames.RTC_OFFER, {"call_id": "c", "payload": "v=0", "mode": "audio"},
                 "RTC_OFFER.data.sent is missing or has the wrong type"),
                (frames.RTC_ANSWER, {"call_id": "c" * 300, "payload": "v=0"},
                 "RTC_ANSWER.data.call_id is too long"),
                (frames.RTC_ANSWER, {"call_id": "c", "payload": 5},
                 "RTC_ANSWER.data.payload is missing or has the wrong type"),
                (frames.CALL_HANGUP, {"call_id": "c", "reason": "x", "device": 3},
                 "CALL_HANGUP.data.device is missing or has the wrong type"),
                (frames.SYNC_CALL_END, {"call_id": "c", "peer": "u", "direction": "out",
                                        "mode": "audio", "outcome": "completed",
                                        "started": 1, "duration": -1},
                 "SYNC_CALL_END.data.duration is out of range")):
            with self.assertRaises(frames.InvalidFrame) as caught:
                frames.parse(raw(kind, data))
            self.assertEqual(str(caught.exception), reason)
