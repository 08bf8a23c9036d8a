"""Which microphones and cameras a call could open here (for the desktop's pickers).

`open_devices` opens a microphone through PyAV's `pulse` input and a camera through
`v4l2`; a device is listed only where this PyAV build has that input format and the
system shows the device: PulseAudio's sources (`pactl list short sources`, monitors of
outputs left out) and the video4linux character devices (/dev/video*). A headless
machine, or a PyAV without those formats, lists none. Listing runs a subprocess and reads
/sys: call `media_devices()` from a thread (`find_media_devices` does).
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess

import attrs
from twisted.internet import defer, threads

PACTL_TIMEOUT = 3.0  # seconds: a PulseAudio that does not answer lists nothing


@attrs.frozen
class MediaDevice:
    name: str  # what `open_devices` takes
    label: str  # what a person reads


@attrs.frozen
class MediaDevices:
    microphones: list[MediaDevice]
    cameras: list[MediaDevice]


def _formats() -> set[str]:
    try:
        import av
    except ImportError:
        return set()
    return set(av.formats_available)


def microphones() -> list[MediaDevice]:
    pactl = shutil.which("pactl")
    if "pulse" not in _formats() or pactl is None:
        return []
    try:
        # A fixed command line (no shell, nothing from outside): pactl found on PATH.
        listed = subprocess.run([pactl, "list", "short", "sources"], capture_output=True,  # noqa: S603
                                text=True, timeout=PACTL_TIMEOUT, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []  # no PulseAudio server here
    found = []
    for line in listed.splitlines():
        fields = line.split("\t")
        if len(fields) > 1 and not fields[1].endswith(".monitor"):
            found.append(MediaDevice(fields[1], fields[1]))
    return found


def cameras(pattern: str = "/dev/video*") -> list[MediaDevice]:
    if "v4l2" not in _formats():
        return []
    found = []
    for path in sorted(glob.glob(pattern)):
        try:
            if not stat.S_ISCHR(os.stat(path).st_mode):
                continue
        except OSError:
            continue
        label = path
        try:
            with open(f"/sys/class/video4linux/{os.path.basename(path)}/name") as f:
                label = f"{f.read().strip()} ({path})"
        except OSError:
            pass
        found.append(MediaDevice(path, label))
    return found


def media_devices() -> MediaDevices:
    """The microphones and cameras here (blocking: see the module docstring)."""
    return MediaDevices(microphones(), cameras())


def find_media_devices() -> defer.Deferred[MediaDevices]:
    """`media_devices()` in a thread."""
    return threads.deferToThread(media_devices)
