"""Calls in the desktop client: the call buttons of the chat header, the incoming-call
window (accept, decline, and a notification), and the in-call window (remote video, local
preview, mute, camera, hang-up, a timer).

`CallController` ties them to `client.calls` (the core does the calling; nothing here
but showing it). Media sources come from `sources_for(mode)`: the microphone and camera
chosen in the settings (`open_devices`) unless told otherwise; a missing or refused
device is shown as an error and the call buttons are disabled (the spec's "Mic
permission denied"). Remote video is drawn frame by frame into a label; remote audio
goes to the speaker through PyAV.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from securechat.client import (
    Call,
    CallLogged,
    CallState,
    CallStateChanged,
    ClientError,
    IncomingCall,
    MediaDeviceError,
    MediaSources,
    SecureChatClient,
    open_devices,
)
from securechat.ui import strings as S
from securechat.ui.plaintext import make_plain
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.device_picker import chosen_devices
from securechat.ui.widgets.notifier import Notifier

SourcesFor = Callable[[str], MediaSources]


class CallButtons(QWidget):
    """"Call" and "Video" in the chat header; shown while a conversation is open."""

    place = pyqtSignal(str)  # "audio" | "video"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.peer: str | None = None
        self.audio = QPushButton(S.CALL_AUDIO)
        self.audio.setToolTip(S.CALL_AUDIO_TIP)
        self.audio.clicked.connect(lambda: self.place.emit("audio"))
        self.video = QPushButton(S.CALL_VIDEO)
        self.video.setToolTip(S.CALL_VIDEO_TIP)
        self.video.clicked.connect(lambda: self.place.emit("video"))
        layout.addWidget(self.audio)
        layout.addWidget(self.video)
        self.hide()

    def set_peer(self, peer: str | None) -> None:
        self.peer = peer
        self.setVisible(peer is not None)

    def set_available(self, available: bool, why: str | None = None) -> None:
        for button in (self.audio, self.video):
            button.setEnabled(available)
        if why:
            self.audio.setToolTip(why)
            self.video.setToolTip(why)


class VideoView(QLabel):
    """Draws the frames of an aiortc video track (until `stop`)."""

    drawn = pyqtSignal(int)  # frames drawn so far

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        # The frames follow the label's size, never the other way round.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("background: #111; color: #aaa;")
        self.frames = 0
        self._task: asyncio.Task[None] | None = None

    def show_track(self, track: Any) -> None:
        self.stop()
        self._task = asyncio.ensure_future(self._draw(track))

    async def _draw(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            # One thread: FFmpeg's slice threads (the default, one per core) can hang
            # for good freeing themselves (seen on libswscale 9, PyAV 18).
            rgb = frame.reformat(format="rgb24", threads=1)
            plane = rgb.planes[0]
            image = QImage(bytes(plane), rgb.width, rgb.height, plane.line_size,
                           QImage.Format.Format_RGB888).copy()
            self.setPixmap(QPixmap.fromImage(image).scaled(
                self.size(), Qt.AspectRatioMode.KeepAspectRatio))
            self.frames += 1
            self.drawn.emit(self.frames)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class IncomingCallDialog(QDialog):
    def __init__(self, name: str, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(S.CALL_INCOMING_TITLE)
        layout = QVBoxLayout(self)
        self.text = make_plain(QLabel(S.CALL_INCOMING_BODY[mode].format(name=name)))
        layout.addWidget(self.text)
        buttons = QHBoxLayout()
        self.decline_button = QPushButton(S.CALL_DECLINE)
        self.decline_button.clicked.connect(self.reject)
        self.accept_button = primary_button(S.CALL_ACCEPT, self.accept)
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.accept_button)
        layout.addLayout(buttons)


class CallWindow(QWidget):
    """One call: who, its state and timer, the videos, and the controls."""

    def __init__(self, call: Call, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.call = call
        self.name = name
        self.setWindowTitle(name)
        layout = QVBoxLayout(self)
        self.title = make_plain(QLabel(name))
        self.title.setStyleSheet("font-size: 16px; font-weight: 600;")
        self.status = QLabel(S.CALL_STATES[call.state.value])
        self.timer_label = QLabel("0:00")
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.status)
        header.addWidget(self.timer_label)
        layout.addLayout(header)
        videos = QHBoxLayout()
        self.remote = VideoView(S.CALL_NO_VIDEO)
        self.preview = VideoView(S.CALL_NO_VIDEO)
        self.preview.setFixedWidth(200)
        self.preview.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Ignored)
        videos.addWidget(self.remote, 1)
        videos.addWidget(self.preview)
        layout.addLayout(videos, 1)
        self.remote.setVisible(call.mode == "video")
        self.preview.setVisible(call.mode == "video")
        controls = QHBoxLayout()
        self.mute = QPushButton(S.CALL_MUTE)
        self.mute.setCheckable(True)
        self.mute.toggled.connect(call.set_muted)
        self.camera = QPushButton(S.CALL_CAMERA)
        self.camera.setCheckable(True)
        self.camera.setChecked(call.mode == "video")
        self.camera.setVisible(call.mode == "video")
        self.camera.toggled.connect(call.set_camera)
        self.hang_up = primary_button(S.CALL_HANG_UP, call.hang_up)
        controls.addWidget(self.mute)
        controls.addWidget(self.camera)
        controls.addStretch(1)
        controls.addWidget(self.hang_up)
        layout.addLayout(controls)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_duration)

    def state_changed(self, event: CallStateChanged) -> None:
        if event.state is CallState.ENDED and event.outcome is not None:
            text = S.CALL_OUTCOMES[event.outcome.value].format(name=self.name)
            self.status.setText(text if not event.reason else f"{text}: {event.reason}")
            self._tick.stop()
            for button in (self.mute, self.camera, self.hang_up):
                button.setEnabled(False)
            self.remote.stop()
            self.preview.stop()
            return
        self.status.setText(S.CALL_STATES[event.state.value])
        if event.state is CallState.CONNECTED and not self._tick.isActive():
            self._tick.start()

    def _show_duration(self) -> None:
        seconds = self.call.duration
        self.timer_label.setText(f"{seconds // 60}:{seconds % 60:02d}")


def speaker_sink(track: Any) -> Any:
    """The remote audio to the default output (PulseAudio) through PyAV; a blackhole when
    there is no output (a headless machine)."""
    from aiortc.contrib.media import MediaBlackhole, MediaRecorder

    try:
        sink: Any = MediaRecorder("default", format="pulse")
    except Exception:  # PyAV: no PulseAudio here
        sink = MediaBlackhole()
    sink.addTrack(track)
    return asyncio.ensure_future(sink.start()), sink


class CallController(QObject):
    """The call windows of one signed-in client (see the module docstring)."""

    error = pyqtSignal(str)
    logged = pyqtSignal(object)  # CallLogged: a call log row for the conversation

    def __init__(self, buttons: CallButtons, notifier: Notifier,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons = buttons
        self.notifier = notifier
        self.parent_widget = parent
        self.client: SecureChatClient | None = None
        self.settings: QSettings | None = None  # the devices chosen (the shell's settings)
        self.sources_for: SourcesFor = self.open_chosen
        self.speaker: Callable[[Any], Any] = speaker_sink
        self.window: CallWindow | None = None
        self.incoming: IncomingCallDialog | None = None
        self._speakers: list[Any] = []
        self._preview: Any = None
        buttons.place.connect(self.place)

    def open_chosen(self, mode: str) -> MediaSources:
        """The microphone (and camera) chosen in the settings, else the defaults."""
        microphone, camera = chosen_devices(self.settings)
        return open_devices(mode, microphone, camera)

    def set_client(self, client: SecureChatClient | None) -> None:
        if self.client is not None:
            self.client.events.unsubscribe(self._event)
        self.client = client
        self._close_windows()
        if client is not None:
            client.events.subscribe(self._event)
            self.buttons.set_available(client.calls.available)

    def _name(self, peer: str) -> str:
        assert self.client is not None
        contact = self.client.contacts.get(peer)
        return contact.display_name if contact is not None else peer

    def _sources(self, mode: str) -> MediaSources | None:
        try:
            sources = self.sources_for(mode)
        except MediaDeviceError as e:
            message = S.CALL_DEVICE_ERROR.format(error=e)
            self.buttons.set_available(False, message)
            self.error.emit(message)
            return None
        if sources.sink is None:
            sources.sink = self._sink
        if sources.video is not None:  # one camera: to the peer and to the preview
            from aiortc.contrib.media import MediaRelay

            relay = MediaRelay()
            camera = sources.video
            sources.video = relay.subscribe(camera)
            self._preview = relay.subscribe(camera)
        else:
            self._preview = None
        return sources

    def _sink(self, track: Any) -> None:
        if track.kind == "video" and self.window is not None:
            self.window.remote.show_track(track)
        elif track.kind == "audio":
            self._speakers.append(self.speaker(track))

    def place(self, mode: str) -> None:
        peer = self.buttons.peer
        if self.client is None or peer is None:
            return
        sources = self._sources(mode)
        if sources is None:
            return
        try:
            call = self.client.calls.place(peer, mode, sources)
        except ClientError as e:
            self.error.emit(str(e))
            return
        self._open_window(call)

    def _open_window(self, call: Call) -> None:
        self._close_windows()
        self.window = CallWindow(call, self._name(call.peer_user_id))
        if self._preview is not None:
            self.window.preview.show_track(self._preview)
        self.window.resize(640, 480 if call.mode == "video" else 160)
        self.window.show()

    def _event(self, event: Any) -> None:
        if isinstance(event, IncomingCall):
            self._ring(event)
        elif isinstance(event, CallLogged):
            self.logged.emit(event)
        elif isinstance(event, CallStateChanged):
            if self.window is not None and self.window.call.call_id == event.call_id:
                self.window.state_changed(event)
                if event.state is CallState.ENDED:
                    self._stop_speakers()
            if (event.state is CallState.ENDED and self.incoming is not None
                    and self.incoming.property("call_id") == event.call_id):
                self.incoming.close()
                self.incoming = None

    def _ring(self, event: IncomingCall) -> None:
        name = self._name(event.peer_user_id)
        self.notifier.notify(S.CALL_INCOMING_TITLE,
                             S.CALL_INCOMING_BODY[event.mode].format(name=name))
        dialog = IncomingCallDialog(name, event.mode, self.parent_widget)
        dialog.setProperty("call_id", event.call_id)
        dialog.accepted.connect(lambda: self.answer(event.call_id))
        dialog.rejected.connect(lambda: self.decline(event.call_id))
        self.incoming = dialog
        dialog.show()

    def answer(self, call_id: str) -> None:
        call = self.client.calls.get(call_id) if self.client is not None else None
        if call is None:
            return
        sources = self._sources(call.mode)
        if sources is None:
            call.decline()
            return
        call.answer(sources)
        self._open_window(call)

    def decline(self, call_id: str) -> None:
        call = self.client.calls.get(call_id) if self.client is not None else None
        if call is not None and call.state is CallState.INCOMING:
            call.decline()

    def _stop_speakers(self) -> None:
        speakers, self._speakers = self._speakers, []

        async def stop() -> None:
            for started, sink in speakers:
                await started
                await sink.stop()
        if speakers:
            self._stopping = asyncio.ensure_future(stop())

    def _close_windows(self) -> None:
        if self.incoming is not None:
            self.incoming.close()
            self.incoming = None
        if self.window is not None and self.window.call.state is CallState.ENDED:
            self.window.close()
            self.window = None
