"""Calls in the desktop client, against a real relay and a real coturn: the incoming-call
window, the in-call window with remote video, mute and hang-up, the call log line, and a
missing microphone. The peer is a headless client with synthetic media."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from twisted.internet import defer

from securechat.client import (
    CallOutcome,
    CallState,
    CallStateChanged,
    IncomingCall,
    MediaDeviceError,
    MediaSources,
    PatternTrack,
    ToneTrack,
)
from securechat.ui import strings as S
from tests.test_call import FrameCounter
from tests.test_ui import UITestCase, model_signals, screenshot, until
from tests.turnserver import with_turn


def synthetic(mode: str) -> MediaSources:
    """The desktop's devices replaced by a tone and a test pattern (no microphone here)."""
    return MediaSources(ToneTrack(), PatternTrack() if mode == "video" else None)


class CallWindowTests(UITestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield with_turn(self)
        yield super().setUp()

    @defer.inlineCallbacks
    def test_answer_a_video_call_see_the_peer_mute_and_hang_up(self) -> Any:
        window, alice, bob = yield self.alice_window_and_bob()
        calls = window.main.calls
        calls.sources_for = synthetic
        heard = FrameCounter()
        bobs = bob.calls.place(alice.me.user_id, "video",
                               MediaSources(ToneTrack(), PatternTrack(), heard))
        yield self.log(alice).wait_for(IncomingCall)
        dialog = calls.incoming
        self.assertTrue(dialog.isVisible())
        self.assertEqual(dialog.text.text(), "bob is video calling you")
        self.assertIn((S.CALL_INCOMING_TITLE, "bob is video calling you"),
                      list(window.main.notifier.shown))
        screenshot(dialog, "call-incoming")
        QTest.mouseClick(dialog.accept_button, Qt.MouseButton.LeftButton)
        yield self.log(alice).wait_for(CallStateChanged,
                                       lambda e: e.state is CallState.CONNECTED)
        in_call = calls.window
        self.assertEqual(in_call.status.text(), S.CALL_STATES["connected"])
        # Bob's test pattern is drawn in the window; Bob hears Alice.
        yield until(lambda: in_call.remote.frames >= 5, in_call.remote.drawn)
        yield heard.reached(20)
        screenshot(in_call, "call-connected")
        QTest.mouseClick(in_call.mute, Qt.MouseButton.LeftButton)
        self.assertTrue(in_call.call.muted)
        QTest.mouseClick(in_call.hang_up, Qt.MouseButton.LeftButton)
        self.assertEqual((yield bobs.ended), CallOutcome.COMPLETED)
        self.assertEqual(in_call.status.text(), S.CALL_OUTCOMES["completed"])
        self.assertFalse(in_call.hang_up.isEnabled())
        # The conversation shows the call.
        chat = yield self.chat_with(window, bob.me.user_id)
        yield until(lambda: any(chat.model.index(i).data().startswith("Incoming video call")
                                for i in range(chat.model.rowCount())),
                    *model_signals(chat.model))
        in_call.close()

    @defer.inlineCallbacks
    def test_calling_someone_with_no_device_online_says_so_at_once(self) -> Any:
        window, _alice, bob = yield self.alice_window_and_bob()
        yield bob.stop()  # Bob's only device goes offline
        calls = window.main.calls
        calls.sources_for = synthetic
        chat = yield self.chat_with(window, bob.me.user_id)
        QTest.mouseClick(chat.call_buttons.audio, Qt.MouseButton.LeftButton)
        in_call = calls.window
        self.assertEqual((yield in_call.call.ended), CallOutcome.UNREACHABLE)
        self.assertEqual(in_call.status.text(), "bob is not reachable right now")
        self.assertFalse(in_call.hang_up.isEnabled())
        # The conversation's call log line says it too.
        yield until(lambda: any(chat.model.index(i).data() ==
                                "Outgoing voice call: bob was not reachable"
                                for i in range(chat.model.rowCount())),
                    *model_signals(chat.model))
        in_call.close()

    @defer.inlineCallbacks
    def test_a_missing_microphone_is_an_error_and_disables_calling(self) -> Any:
        window, alice, bob = yield self.alice_window_and_bob()

        def no_microphone(mode: str) -> MediaSources:
            raise MediaDeviceError("the microphone cannot be opened (OSError): check that "
                                   "it is there and that access is allowed")
        window.main.calls.sources_for = no_microphone
        errors: list[str] = []
        window.main.calls.error.connect(errors.append)
        yield self.chat_with(window, bob.me.user_id)
        buttons = window.main.chat.call_buttons
        self.assertTrue(buttons.isVisible() and buttons.audio.isEnabled())
        QTest.mouseClick(buttons.audio, Qt.MouseButton.LeftButton)
        self.assertEqual(len(errors), 1)
        self.assertIn("the microphone cannot be opened", errors[0])
        self.assertFalse(buttons.audio.isEnabled())
        self.assertFalse(buttons.video.isEnabled())
        self.assertIsNone(alice.calls.current)  # nothing was placed
