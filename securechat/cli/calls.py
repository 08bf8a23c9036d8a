"""`securechat-cli call` and `securechat-cli answer`: a call from the shell, with WAV
files for ears and mouth (bots, tests, a quick check of a TURN setup).

    securechat-cli call --email A --to B --play IN.wav --record OUT.wav --seconds N
    securechat-cli answer --email B --play IN.wav --record OUT.wav --seconds N

`call` places an audio call, sends IN.wav as its audio once connected and records what it
hears into OUT.wav, then hangs up after N seconds; `answer` waits for the next incoming
call (at most --wait seconds) and does the same. The TURN server and its credentials
come from the relay. aiortc runs on asyncio: these commands run on Twisted's asyncio
reactor (`uses_asyncio`, installed by cli.main before anything imports a reactor).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Coroutine
from typing import Any

from twisted.internet import defer

from securechat.cli.commands import contact_id, with_account
from securechat.cli.output import printable, say
from securechat.client import (
    CallOutcome,
    CallState,
    CallStateChanged,
    ClientError,
    IncomingCall,
    MediaSources,
    SecureChatClient,
)

COMMANDS = ("call", "answer")


def uses_asyncio(command: str) -> bool:
    return command in COMMANDS


def add_arguments(call: argparse.ArgumentParser, answer: argparse.ArgumentParser) -> None:
    call.add_argument("--to", required=True, metavar="EMAIL", help="the contact to call")
    answer.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="how long to wait for a call (default 60)")
    for parser in (call, answer):
        parser.add_argument("--play", metavar="IN.wav", help="audio to send (default: none)")
        parser.add_argument("--record", metavar="OUT.wav", help="record what is heard")
        parser.add_argument("--seconds", type=float, default=10.0, metavar="N",
                            help="hang up after N seconds connected (default 10)")


def as_deferred(coroutine: Coroutine[Any, Any, Any]) -> defer.Deferred[Any]:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coroutine))


class _Recorder:
    """A sink for the remote audio: records it to a WAV file (aiortc's MediaRecorder)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._recorder: Any = None
        self._started: defer.Deferred[Any] | None = None

    def __call__(self, track: Any) -> None:
        from aiortc.contrib.media import MediaBlackhole, MediaRecorder

        if self._recorder is not None:
            return
        if self._path is None or track.kind != "audio":
            self._recorder = MediaBlackhole()
        else:
            self._recorder = MediaRecorder(self._path)
        self._recorder.addTrack(track)
        self._started = as_deferred(self._recorder.start())

    @defer.inlineCallbacks
    def stop(self) -> Any:
        if self._recorder is not None:
            yield self._started
            yield as_deferred(self._recorder.stop())


def _sources(args: argparse.Namespace) -> tuple[MediaSources, _Recorder]:
    audio = None
    if args.play:
        if not os.path.isfile(args.play):
            raise ClientError(f"cannot read {args.play}")
        from aiortc.contrib.media import MediaPlayer

        try:
            audio = MediaPlayer(args.play).audio
        except Exception as e:  # PyAV: not a media file it can read
            raise ClientError(f"cannot play {args.play}: {type(e).__name__}") from None
        if audio is None:
            raise ClientError(f"{args.play} has no audio")
    recorder = _Recorder(args.record)
    return MediaSources(audio, None, recorder), recorder


def _connected_or_ended(client: SecureChatClient, call_id: str) -> defer.Deferred[Any]:
    return client.events.next(CallStateChanged, lambda e: e.call_id == call_id and e.state in (
        CallState.CONNECTED, CallState.ENDED))


@defer.inlineCallbacks
def _talk(reactor: Any, client: SecureChatClient, call: Any, recorder: _Recorder,
          seconds: float, peer_email: str) -> Any:
    """From ringing to the end: connected for `seconds`, then hang up (unless the peer
    did first); a call that never connected is an error."""
    try:
        event = yield _connected_or_ended(client, call.call_id)
        if event.state is CallState.CONNECTED:
            say(f"Connected with {peer_email}.")
            timer = reactor.callLater(seconds, call.hang_up)
            outcome = yield call.ended
            if timer.active():
                timer.cancel()
        else:
            outcome = event.outcome
    finally:
        if call.state is not CallState.ENDED:
            call.hang_up()
        yield recorder.stop()
    if outcome is not CallOutcome.COMPLETED:
        raise ClientError(f"the call ended: {outcome}" + (f" ({call.reason})"
                                                          if call.reason else ""))
    say(f"Call with {peer_email} ended after {call.duration} s.")


def _check(client: SecureChatClient) -> None:
    if not client.calls.available:
        raise ClientError("calls need aiortc (pip install 'securechat[calls]')")


@with_account()
@defer.inlineCallbacks
def cmd_call(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    peer = contact_id(client, args.to)
    _check(client)
    sources, recorder = _sources(args)
    call = client.calls.place(peer, "audio", sources)
    say(f"Calling {args.to}...")
    yield _talk(reactor, client, call, recorder, args.seconds, args.to)


@with_account()
@defer.inlineCallbacks
def cmd_answer(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    _check(client)
    sources, recorder = _sources(args)
    say("Waiting for a call...")
    call = client.calls.current  # one may have rung while catching up
    if call is None or call.state is not CallState.INCOMING:
        try:
            incoming = yield client.events.next(IncomingCall).addTimeout(args.wait, reactor)
        except defer.TimeoutError:
            raise ClientError(f"no call came within {args.wait:g} s") from None
        call = client.calls.get(incoming.call_id)
    if call is None:
        raise ClientError("the call ended before it could be answered")
    peer = client.contacts[call.peer_user_id]
    say(f"Answering {printable(peer.peer_email)}.")
    call.answer(sources)
    yield _talk(reactor, client, call, recorder, args.seconds, printable(peer.peer_email))
