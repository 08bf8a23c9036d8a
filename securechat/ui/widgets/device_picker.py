"""The microphone and camera calls use (the settings window's Calls section).

Lists what `find_media_devices` finds (in a thread: it asks PulseAudio and reads /sys);
the choice is remembered in QSettings and `chosen_devices` gives it to `open_devices`. A
choice whose device is not there now stays listed ("… (not connected)") rather than being
dropped silently; with nothing found and nothing chosen the list says "No microphone
found" and calls show the usual clear error.
"""

from __future__ import annotations

from typing import Any

from PyQt6 import sip
from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QWidget

from securechat.client import MediaDevice, MediaDevices, find_media_devices
from securechat.ui import strings as S

MICROPHONE_KEY = "calls/microphone"  # "" (or absent): the system's default
CAMERA_KEY = "calls/camera"


def chosen_devices(settings: QSettings | None) -> tuple[str | None, str | None]:
    """(microphone, camera) as `open_devices` takes them: None for the default."""
    if settings is None:
        return None, None
    return (str(settings.value(MICROPHONE_KEY, "")) or None,
            str(settings.value(CAMERA_KEY, "")) or None)


class DevicePickers(QGroupBox):
    listed = pyqtSignal()  # the devices were found and the lists filled

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(S.SETTINGS_CALLS, parent)
        self.settings = settings
        form = QFormLayout(self)
        self.microphone = QComboBox()
        self.camera = QComboBox()
        for combo in (self.microphone, self.camera):
            combo.addItem(S.DEVICES_LOOKING, "")
            combo.setEnabled(False)
        form.addRow(S.MICROPHONE, self.microphone)
        form.addRow(S.CAMERA, self.camera)
        self.listing = find_media_devices().addCallback(self._found)

    def _found(self, devices: MediaDevices) -> Any:
        if sip.isdeleted(self):
            return  # the settings window closed meanwhile
        self._fill(self.microphone, MICROPHONE_KEY, devices.microphones,
                   S.DEFAULT_MICROPHONE, S.NO_MICROPHONE)
        self._fill(self.camera, CAMERA_KEY, devices.cameras, S.DEFAULT_CAMERA, S.NO_CAMERA)
        self.listed.emit()

    def _fill(self, combo: QComboBox, key: str, found: list[MediaDevice], default: str,
              none: str) -> None:
        combo.clear()
        combo.addItem(default if found else none, "")
        for device in found:
            combo.addItem(device.label, device.name)
        saved = str(self.settings.value(key, ""))
        if saved and combo.findData(saved) < 0:
            combo.addItem(S.DEVICE_NOT_CONNECTED.format(name=saved), saved)
        combo.setCurrentIndex(max(combo.findData(saved), 0))
        combo.setEnabled(combo.count() > 1)
        combo.currentIndexChanged.connect(
            lambda _: self.settings.setValue(key, combo.currentData()))
