"""The microphone and camera pickers in the settings window, on a real relay: this
machine has neither (no PulseAudio, no /dev/video*, a PyAV without `pulse`), so the lists
say so and a call shows the clear error; a device chosen on an earlier run stays listed
and is the one a call tries to open (the real `open_devices`, whose error names it).

Runs on the Qt reactor like tests.test_ui (scripts/run_trial.py starts it so).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from securechat.client import MediaDeviceError, find_media_devices
from securechat.ui import strings as S
from securechat.ui.widgets.device_picker import CAMERA_KEY, MICROPHONE_KEY
from tests.test_ui import UITestCase, screenshot

HEADSET = "alsa_input.usb-Headset-00.mono-fallback"


class DevicePickerTests(UITestCase):
    @defer.inlineCallbacks
    def settings_listed(self, window: Any) -> Any:
        dialog = window.show_settings()
        yield dialog.devices.listing
        return dialog.devices

    @defer.inlineCallbacks
    def call_error(self, window: Any, bob: Any) -> Any:
        errors: list[str] = []
        window.main.calls.error.connect(errors.append)
        yield self.chat_with(window, bob.me.user_id)
        buttons = window.main.chat.call_buttons
        self.assertTrue(buttons.audio.isEnabled())
        QTest.mouseClick(buttons.audio, Qt.MouseButton.LeftButton)
        self.assertEqual(len(errors), 1)
        self.assertFalse(buttons.audio.isEnabled())  # calls off until the device is there
        return errors[0]

    @defer.inlineCallbacks
    def test_no_device_here_the_lists_say_so_and_a_call_says_why(self) -> Any:
        found = yield find_media_devices()
        if found.microphones or found.cameras:  # pragma: no cover - a desktop with devices
            raise unittest.SkipTest("this machine has a microphone or camera")
        window, alice, bob = yield self.alice_window_and_bob()
        pickers = yield self.settings_listed(window)
        self.assertEqual(pickers.microphone.currentText(), S.NO_MICROPHONE)
        self.assertEqual(pickers.camera.currentText(), S.NO_CAMERA)
        self.assertFalse(pickers.microphone.isEnabled())
        self.assertFalse(pickers.camera.isEnabled())
        screenshot(pickers.window(), "41-settings-no-devices")
        error = yield self.call_error(window, bob)
        self.assertIn("the microphone cannot be opened", error)
        self.assertIn("Calls are off until the device is available", error)
        self.assertIsNone(alice.calls.current)

    @defer.inlineCallbacks
    def test_the_saved_microphone_is_listed_and_the_one_a_call_opens(self) -> Any:
        self.settings.setValue(MICROPHONE_KEY, HEADSET)  # chosen on an earlier run
        window, alice, bob = yield self.alice_window_and_bob()
        pickers = yield self.settings_listed(window)
        self.assertEqual(pickers.microphone.currentText(),
                         S.DEVICE_NOT_CONNECTED.format(name=HEADSET))
        self.assertTrue(pickers.microphone.isEnabled())
        error = yield self.call_error(window, bob)
        self.assertIn(f"the microphone {HEADSET!r} cannot be opened", error)
        self.assertIsNone(alice.calls.current)
        # Back to the default: remembered, and the next call opens the default.
        pickers.microphone.setCurrentIndex(0)
        self.assertEqual(self.settings.value(MICROPHONE_KEY), "")
        self.assertEqual(self.settings.value(CAMERA_KEY, ""), "")
        with self.assertRaises(MediaDeviceError) as raised:
            window.main.calls.sources_for("audio")
        self.assertNotIn(HEADSET, str(raised.exception))
