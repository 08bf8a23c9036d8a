"""`securechat-cli call` and `answer` as real subprocesses: a real relay, a real coturn,
WAV files in and out."""

from __future__ import annotations

import array
import itertools
import math
import os
import wave
from typing import Any

from twisted.internet import defer

from tests.test_cli import ALICE, BOB, CLITestCase
from tests.turnserver import with_turn

RATE = 48_000


def write_tone(path: str, frequency: float, seconds: float) -> None:
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * frequency * i / RATE))
                                for i in range(int(RATE * seconds))))
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(samples.tobytes())


def dominant_frequency(path: str) -> tuple[float, float]:
    """(seconds of audio, its frequency estimated from zero crossings of the loud part)."""
    with wave.open(path, "rb") as f:
        channels, rate = f.getnchannels(), f.getframerate()
        data = array.array("h", f.readframes(f.getnframes()))
    mono = data[::channels]
    window = rate // 50  # 20 ms: count crossings only where the tone is loud
    crossings = loud = 0
    for start in range(0, len(mono) - window, window):
        part = mono[start:start + window]
        if math.sqrt(sum(s * s for s in part) / window) > 1000:
            loud += 1
            crossings += sum(1 for a, b in itertools.pairwise(part) if (a < 0) != (b < 0))
    return len(mono) / rate, crossings / 2 / max(loud * window / rate, 1e-9)


class CallCLITests(CLITestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield with_turn(self)
        yield super().setUp()

    @defer.inlineCallbacks
    def test_call_and_answer_send_and_record_wav_files(self) -> Any:
        yield self.cli("alice", "register", ALICE, "--name", "Alice")
        yield self.cli("bob", "register", BOB, "--name", "Bob")
        yield self.cli("alice", "add-friend", ALICE, "--friend", BOB)
        yield self.cli("bob", "accept", BOB, "--friend", ALICE)
        yield self.cli("alice", "requests", ALICE)  # Alice learns Bob accepted
        files = os.path.abspath(self.mktemp())
        os.makedirs(files)
        low, high = (os.path.join(files, n) for n in ("low.wav", "high.wav"))
        write_tone(low, 440, 4)
        write_tone(high, 1000, 4)
        heard_by_bob, heard_by_alice = (os.path.join(files, n) for n in ("bob.wav",
                                                                          "alice.wav"))
        answering = self.spawn("bob", "answer", BOB, "--play", high, "--record",
                               heard_by_bob, "--seconds", "30")
        yield answering.printed("Waiting for a call")
        out, _ = yield self.cli("alice", "call", ALICE, "--to", BOB, "--play", low,
                                "--record", heard_by_alice, "--seconds", "2")
        self.assertIn(f"Connected with {BOB}", out)
        self.assertIn(f"Call with {BOB} ended", out)
        self.assertEqual((yield answering.ended), 0, answering.output)
        self.assertIn(f"Call with {ALICE} ended", answering.output[1].decode())
        # Each heard the other's tone.
        for path, frequency in ((heard_by_bob, 440), (heard_by_alice, 1000)):
            seconds, heard = dominant_frequency(path)
            self.assertGreater(seconds, 1.0, path)
            self.assertLess(abs(heard - frequency), frequency * 0.1, f"{path}: {heard} Hz")

    @defer.inlineCallbacks
    def test_calling_someone_who_is_not_a_contact_is_a_clear_error(self) -> Any:
        yield self.cli("alice", "register", ALICE, "--name", "Alice")
        _, err = yield self.cli("alice", "call", ALICE, "--to", BOB, "--seconds", "1",
                                status=1)
        self.assertOneLineError(err, f"{BOB} is not a contact of {ALICE}")

    @defer.inlineCallbacks
    def test_answer_with_no_call_coming_gives_up_after_wait(self) -> Any:
        yield self.cli("bob", "register", BOB, "--name", "Bob")
        _, err = yield self.cli("bob", "answer", BOB, "--wait", "0.5", status=1)
        self.assertOneLineError(err, "no call came within 0.5 s")
