"""One call's media: an aiortc RTCPeerConnection through TURN only (asyncio).

`CallMedia` makes the offer or the answer, checks that the local description holds
relay candidates (aiortc says nothing when TURN authentication fails: it gathers no
candidate and stays "new", so no relay candidate means "TURN authentication or
reachability failed"), and reports the connection's state. Sources: `MediaSources`
(tracks to send, and a sink for what arrives); `ToneTrack` and `PatternTrack` are
synthetic ones (bots, tests), `open_devices` the desktop's microphone and camera.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time
from collections.abc import Callable
from typing import Any

import attrs

from securechat.client.calls.model import MediaDeviceError, TurnFailed
from securechat.client.calls.turn import TurnServers, configuration

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms, as Opus sends them
# aioice's first STUN retransmission is 0.5 s. On the way to a TURN relay the first
# connectivity check is usually dropped (the peer's permission is not installed yet), so
# that timer is most of a call's setup time; 0.1 s keeps the retransmissions few (7
# doublings still cover 12.7 s) and brings setup on a LAN to tens of milliseconds.
STUN_FIRST_RETRANSMISSION = 0.1
Sink = Callable[[Any], None]  # given each remote MediaStreamTrack


@attrs.define
class MediaSources:
    audio: Any = None  # a MediaStreamTrack to send, or None (receive only)
    video: Any = None
    sink: Sink | None = None  # consumes remote tracks; None: discarded (MediaBlackhole)
    # A device (microphone, camera) rather than a file: its end is a "stream failure"
    # that ends the call; a file that ends just leaves silence.
    live: bool = False


def tune_stun(first_retransmission: float) -> None:
    """aioice keeps its first retransmission timer in a module constant (all its
    transactions in this process share it)."""
    import aioice.stun

    aioice.stun.RETRY_RTO = first_retransmission


def has_relay_candidate(sdp: str) -> bool:
    return any(" typ relay" in line for line in sdp.splitlines()
               if line.startswith("a=candidate:"))


class CallMedia:
    def __init__(self, servers: TurnServers, sources: MediaSources, mode: str,
                 on_state: Callable[[str], None], on_track: Callable[[Any], None],
                 on_source_failed: Callable[[str], None] = lambda kind: None) -> None:
        from aiortc import RTCPeerConnection

        self._source_failed = on_source_failed
        self._sources = sources
        self._mode = mode
        self._sinks: list[Any] = []
        self._gates: dict[str, Any] = {}
        self.pc = RTCPeerConnection(configuration(servers))
        self.pc.on("connectionstatechange", lambda: on_state(self.pc.connectionState))

        def track(track: Any) -> None:
            on_track(track)
            if sources.sink is not None:
                sources.sink(track)
            else:
                self._discard(track)
        self.pc.on("track", track)

    def _discard(self, track: Any) -> None:
        from aiortc.contrib.media import MediaBlackhole

        sink = MediaBlackhole()
        sink.addTrack(track)
        self._sinks.append((sink, asyncio.ensure_future(sink.start())))

    def _add_tracks(self) -> None:
        kinds = ["audio"] + (["video"] if self._mode == "video" else [])
        for kind in kinds:
            track = getattr(self._sources, kind)
            if track is not None:
                failed = self._source_failed if self._sources.live else None
                self._gates[kind] = Gate(track, failed)
                self.pc.addTrack(self._gates[kind])
            elif not any(t.kind == kind for t in self.pc.getTransceivers()):
                self.pc.addTransceiver(kind, direction="recvonly")

    def _local_sdp(self) -> str:
        sdp = self.pc.localDescription.sdp
        if not has_relay_candidate(sdp):
            raise TurnFailed()
        return str(sdp)

    async def offer(self) -> str:
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self._local_sdp()

    async def answer(self, offer_sdp: str) -> str:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self._local_sdp()

    async def accept(self, answer_sdp: str) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    async def add_candidate(self, line: str) -> None:
        """A trickled candidate (RTC_ICE): only relay candidates are taken."""
        from aiortc.sdp import candidate_from_sdp

        candidate = candidate_from_sdp(line.removeprefix("a=").removeprefix("candidate:"))
        if candidate.type != "relay":
            return
        transceivers = self.pc.getTransceivers()
        if transceivers:
            candidate.sdpMid = transceivers[0].mid
            await self.pc.addIceCandidate(candidate)

    def set_sending(self, kind: str, on: bool) -> None:
        """Mute (or turn the camera off): silence (black frames) goes out instead of the
        source, which is still read so nothing piles up; no renegotiation."""
        gate = self._gates.get(kind)
        if gate is not None:
            gate.on = on

    def selected_pair(self) -> tuple[str, str] | None:
        """(local, remote) candidate types of the nominated pair (aioice keeps it in
        a private attribute: None when it cannot be read)."""
        for transceiver in self.pc.getTransceivers():
            transport = transceiver.sender.transport
            connection = getattr(getattr(transport, "transport", None), "_connection", None)
            for pair in (getattr(connection, "_nominated", None) or {}).values():
                return pair.local_candidate.type, pair.remote_candidate.type
        return None

    def stop_sources(self) -> None:
        """Stop what this call sends (the microphone, the camera): the peer connection's
        close leaves its tracks running, and a device left open keeps capturing."""
        for gate in self._gates.values():
            gate.stop()

    async def close(self) -> None:
        self.stop_sources()
        for sink, started in self._sinks:
            await started
            await sink.stop()
        await self.pc.close()


def Gate(source: Any, failed: Callable[[str], None] | None = None) -> Any:
    """`source`, or silence / black frames of the same shape while `.on` is False;
    `failed(kind)` is told when a live source breaks or ends."""
    import av
    from aiortc.mediastreams import MediaStreamError

    class _Gate(_media_track_base()):  # type: ignore[misc]
        kind = source.kind

        def __init__(self) -> None:
            super().__init__()
            self.on = True

        async def recv(self) -> Any:
            try:
                frame = await source.recv()
            except Exception as e:
                if failed is not None and self.readyState == "live":
                    failed(self.kind)
                if isinstance(e, MediaStreamError):
                    raise
                raise MediaStreamError from e
            if self.on:
                if isinstance(frame, av.VideoFrame) and frame.format.name != "yuv420p":
                    # What the VP8 encoder takes, converted here on one thread: left to
                    # the encoder, PyAV's scaler runs on every core and can hang freeing
                    # its threads (PyAV 17+; its maintainers advise threads=1).
                    return frame.reformat(format="yuv420p", threads=1)
                return frame
            if isinstance(frame, av.AudioFrame):
                quiet = av.AudioFrame(format=frame.format.name, layout=frame.layout.name,
                                      samples=frame.samples)
                quiet.sample_rate = frame.sample_rate
                fills = [0] * len(quiet.planes)
            else:
                quiet = av.VideoFrame(frame.width, frame.height, "yuv420p")
                fills = [0, 128, 128]  # black
            for plane, fill in zip(quiet.planes, fills, strict=True):
                plane.update(bytes([fill]) * plane.buffer_size)
            quiet.pts, quiet.time_base = frame.pts, frame.time_base
            return quiet

        def stop(self) -> None:
            source.stop()
            super().stop()

    return _Gate()


def _media_track_base() -> Any:
    from aiortc import MediaStreamTrack

    return MediaStreamTrack


class _Paced:
    """Real-time pacing shared by the synthetic tracks: frame n is due at start + n·period."""

    def __init__(self, period: float) -> None:
        self._period = period
        self._start: float | None = None
        self.frames = 0  # produced so far

    async def next_due(self) -> int:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.frames * self._period - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self.frames
        self.frames += 1
        return n


def _still_live(track: Any) -> None:
    from aiortc.mediastreams import MediaStreamError

    if track.readyState != "live":
        raise MediaStreamError


def ToneTrack(frequency: float = 440.0) -> Any:
    """A sine tone at 48 kHz, 20 ms frames; `.frames` counts what was sent."""
    import av

    class _Tone(_media_track_base()):  # type: ignore[misc]
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self._pace = _Paced(FRAME_SAMPLES / SAMPLE_RATE)

        @property
        def frames(self) -> int:
            return self._pace.frames

        async def recv(self) -> Any:
            _still_live(self)
            n = await self._pace.next_due()
            first = n * FRAME_SAMPLES
            samples = array.array("h", (
                int(8000 * math.sin(2 * math.pi * frequency * (first + i) / SAMPLE_RATE))
                for i in range(FRAME_SAMPLES)))
            frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate = SAMPLE_RATE
            frame.pts = first
            frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
            return frame

    return _Tone()


def PatternTrack(width: int = 160, height: int = 120, fps: int = 15) -> Any:
    """A synthetic video track (a moving grey level, in `gray`: the call converts it,
    as it does a camera's frames); `.frames` counts what was sent."""
    import av

    class _Pattern(_media_track_base()):  # type: ignore[misc]
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._pace = _Paced(1 / fps)

        @property
        def frames(self) -> int:
            return self._pace.frames

        async def recv(self) -> Any:
            _still_live(self)
            n = await self._pace.next_due()
            frame = av.VideoFrame(width, height, "gray")
            frame.planes[0].update(bytes([n * 8 % 256]) * (width * height))
            frame.pts = n
            frame.time_base = fractions.Fraction(1, fps)
            return frame

    return _Pattern()


def open_devices(mode: str, microphone: str | None = None,
                 camera: str | None = None) -> MediaSources:
    """The desktop's microphone (and camera for video) through PyAV: `microphone` and
    `camera` are device names ("default" when None). MediaDeviceError when one is
    missing or refused ("Mic permission denied")."""
    from aiortc.contrib.media import MediaPlayer

    # A device chosen by name is named in the error: the one picked may be unplugged.
    try:
        mic = MediaPlayer(microphone or "default", format="pulse")
    except Exception as e:  # PyAV raises OSError subclasses, or ValueError for formats
        which = f"the microphone {microphone!r}" if microphone else "the microphone"
        raise MediaDeviceError(f"{which} cannot be opened ({type(e).__name__}): "
                               "check that it is there and that access is allowed") from None
    video = None
    if mode == "video":
        try:
            video = MediaPlayer(camera or "/dev/video0", format="v4l2").video
        except Exception as e:
            mic.audio.stop()  # the microphone opened: not left capturing
            which = f"the camera {camera!r}" if camera else "the camera"
            raise MediaDeviceError(f"{which} cannot be opened ({type(e).__name__})"
                                   ) from None
    return MediaSources(mic.audio, video, live=True)
