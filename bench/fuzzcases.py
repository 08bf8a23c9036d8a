"""Fuzz cases for the relay's router, and the connections that deliver them.

Used by ``bench/fuzz_router.py`` (a campaign against a relay child process) and by
``tests/test_fuzz.py`` (a few thousand cases against the in-process relay).

A *case* is one WebSocket message: a WAMP message of any type (the client's and
the router's own) built from plausible values and then mutated (fields replaced,
dropped or added, types changed, strings and lists made huge, structures nested
deep), encoded with the connection's serializer (json, msgpack or cbor); or
garbage (random bytes, truncated or wrongly typed frames, invalid UTF-8); or a
WebSocket-level oddity (a fragmented message, a ping). Everything follows from
the seed: case ``n`` of seed ``s`` is always the same bytes.

Cases go out on three kinds of connection: raw ones that never authenticated
(they exercise HELLO and AUTHENTICATE), anonymous sessions, and device sessions
of a fuzz account (the whole router: calls, subscriptions, registrations and
publications in the account's own namespace). A joined connection is opened by
the ordinary client and then taken over: its incoming messages go to a sink and
the fuzz frames are written on its WebSocket. Each connection carries a batch of
cases that should leave the session up, then perhaps one that should end it; a
probe call at the end proves the relay processed the batch and still answers.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cbor2
import msgpack
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IReactorTime

from securechat.client.wamp import Anonymous, RelaySession, connect
from securechat.protocol import uris
from securechat.protocol.wamp_validation import InvalidMessage, UriTooLong, parse
from securechat.testing import TestDevice

SERIALIZERS = ("json", "msgpack", "cbor")
SUBPROTOCOL = {"json": "wamp.2.json", "msgpack": "wamp.2.msgpack", "cbor": "wamp.2.cbor"}
PROBE_BASE = 9_007_199_254_000_000  # probe request ids: far from the fuzzer's own ids

# WAMP message type codes, the client's and the router's.
HELLO, WELCOME, ABORT, CHALLENGE, AUTHENTICATE, GOODBYE, ERROR = 1, 2, 3, 4, 5, 6, 8
PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE, UNSUBSCRIBED, EVENT = (
    16, 17, 32, 33, 34, 35, 36)
CALL, CANCEL, RESULT, REGISTER, REGISTERED, UNREGISTER, UNREGISTERED = (
    48, 49, 50, 64, 65, 66, 67)
INVOCATION, INTERRUPT, YIELD = 68, 69, 70
CLIENT_TYPES = (HELLO, ABORT, AUTHENTICATE, GOODBYE, ERROR, PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
                CALL, CANCEL, REGISTER, UNREGISTER, YIELD)
ROUTER_TYPES = (WELCOME, CHALLENGE, PUBLISHED, SUBSCRIBED, UNSUBSCRIBED, EVENT, RESULT,
                REGISTERED, UNREGISTERED, INVOCATION, INTERRUPT)
ENDS_SESSION = (HELLO, AUTHENTICATE, GOODBYE, ABORT)  # in an established session

_OPTION_KEYS = ["acknowledge", "exclude_me", "receive_progress", "match", "invoke", "mode",
                "progress", "disclose_me", "timeout", "roles", "authmethods", "authid",
                "authextra", "eligible", "exclude", "x_unknown"]
_OPTION_VALUES = [True, False, None, "exact", "prefix", "wildcard", "single", "roundrobin",
                  "kill", "skip", "killnowait", 0, -1, 2**53, "", [], {}]


@dataclass(frozen=True)
class Case:
    payload: bytes
    binary: bool
    fatal: bool  # expected to end the session (sent last on its connection)
    fragment: int | None = None  # send as WebSocket fragments of this size
    ping: bool = False  # a WebSocket ping carrying the payload


class CaseGenerator:
    """Deterministic fuzz cases; `user_id` names the fuzz account's namespace."""

    def __init__(self, seed: int, user_id: str, max_message_bytes: int = 1024 * 1024) -> None:
        self.seed = seed
        self.ns = uris.user_namespace(user_id)
        self.max_message_bytes = max_message_bytes
        relay_procedures = [v for k, v in vars(uris).items()
                            if isinstance(v, str) and v.startswith("sc.")
                            and not k.startswith(("ERR_", "CLOSE_"))]
        self.uris = [
            *relay_procedures, self.ns + "p", self.ns + "t", self.ns + "a.b", self.ns,
            "sc.u.", "sc.inbox.x",
            "wamp.session.list", "com.example.x", "", "a..b", ".x", "x.", "a b", "ü.ñ",
            "sc.u." + "0" * 64 + ".p", self.ns + "x" * 200, self.ns + "y" * 300,
            "z" * 257, "z" * 5000, uris.REALM,
        ]

    def batch(self, n: int, state: str, size: int) -> list[Case]:
        """The cases of connection `n` in `state` ("raw", "anonymous", "device"):
        `size` cases, those expected to end the session last (at most one sent)."""
        rng = random.Random(f"{self.seed}:{n}:{state}")
        serializer = rng.choice(SERIALIZERS)
        cases = [self.case(rng, serializer, state) for _ in range(size)]
        survivors = [c for c in cases if not c.fatal]
        fatal = [c for c in cases if c.fatal]
        if state == "raw":
            survivors = survivors[:1]  # one HELLO: a second one ends the handshake anyway
        return survivors + fatal[:1]

    @staticmethod
    def serializer_of(n: int, seed: int, state: str) -> str:
        return random.Random(f"{seed}:{n}:{state}").choice(SERIALIZERS)

    # --- one case -------------------------------------------------------------

    def case(self, rng: random.Random, serializer: str, state: str) -> Case:
        roll = rng.random()
        if roll < 0.04:
            return self._garbage(rng, serializer)
        if roll < 0.07:
            return self._deep(rng, serializer)
        if roll < 0.09:
            return self._oversized(rng, serializer)
        if roll < 0.11:
            msg = self._message(rng, rng.choice(ROUTER_TYPES), state)
            return self._encoded(rng, serializer, msg, fatal=True)
        if state == "raw":
            kind = rng.choice((HELLO, HELLO, HELLO, AUTHENTICATE, *CLIENT_TYPES))
        else:
            kind = rng.choice((*CLIENT_TYPES, CALL, CALL, CALL, PUBLISH, SUBSCRIBE, REGISTER,
                               YIELD, ERROR))
        msg = self._message(rng, kind, state)
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            msg = self._mutate(rng, msg)
        return self._encoded(rng, serializer, msg, fatal=self._ends(msg, state))

    def _ends(self, msg: Any, state: str) -> bool:
        """Whether the relay will end the session over this message (a guess for
        ordering only: every case is sent either way)."""
        try:
            parse(msg, 256)
        except UriTooLong as e:
            return e.request is None
        except (InvalidMessage, RecursionError):
            return True
        if state == "raw":
            return msg[0] != HELLO  # before WELCOME only HELLO (and AUTHENTICATE) belong
        return msg[0] in ENDS_SESSION

    def _encoded(self, rng: random.Random, serializer: str, msg: Any, fatal: bool) -> Case:
        try:
            payload = encode(serializer, msg)
        except (TypeError, ValueError, OverflowError, RecursionError, msgpack.PackException,
                cbor2.CBOREncodeError):
            return Case(rng.randbytes(rng.randint(1, 64)), serializer != "json", fatal=True)
        fatal = fatal or len(payload) > self.max_message_bytes
        fragment = rng.choice((None,) * 15 + (1, 7, 100))
        if fragment is not None and len(payload) > 4096:
            fragment = rng.choice((1000, 65536))  # a flood of tiny frames: only when small
        return Case(payload, serializer != "json", fatal, fragment=fragment)

    # --- well-formed messages ---------------------------------------------------------

    def _message(self, rng: random.Random, kind: int, state: str) -> list[Any]:
        rid = self._id(rng)
        uri = rng.choice(self.uris)
        opts = self._options(rng)
        payload = self._payload(rng)
        builders: dict[int, Callable[[], list[Any]]] = {
            HELLO: lambda: [HELLO, rng.choice((uris.REALM, uris.REALM, uri)), self._hello(rng)],
            ABORT: lambda: [ABORT, opts, uri],
            AUTHENTICATE: lambda: [AUTHENTICATE, self._string(rng), opts],
            GOODBYE: lambda: [GOODBYE, opts, rng.choice((uris.WAMP_GOODBYE_AND_OUT, uri))],
            ERROR: lambda: [ERROR, rng.choice((INVOCATION, CALL, 0, 999)), rid, opts, uri,
                            *payload],
            PUBLISH: lambda: [PUBLISH, rid, opts, uri, *payload],
            SUBSCRIBE: lambda: [SUBSCRIBE, rid, opts, uri],
            UNSUBSCRIBE: lambda: [UNSUBSCRIBE, rid, self._id(rng)],
            CALL: lambda: [CALL, rid, opts, uri, *payload],
            CANCEL: lambda: [CANCEL, rid, opts],
            REGISTER: lambda: [REGISTER, rid, opts, uri],
            UNREGISTER: lambda: [UNREGISTER, rid, self._id(rng)],
            YIELD: lambda: [YIELD, rid, opts, *payload],
        }
        build = builders.get(kind)
        if build is not None:
            return build()
        # A router's message: its shape, roughly.
        return [kind, rid, opts, *([uri] if rng.random() < 0.5 else []), *payload]

    def _hello(self, rng: random.Random) -> dict[str, Any]:
        methods = rng.choice((["anonymous"], ["cryptosign"], ["scram"], ["ticket"], [],
                              ["anonymous", "cryptosign"], [self._value(rng, 0)]))
        details: dict[str, Any] = {"roles": rng.choice(({"caller": {}}, {}, {"x": 1},
                                                          self._value(rng, 0))),
                                   "authmethods": methods}
        if rng.random() < 0.6:
            details["authid"] = rng.choice(("0" * 64, "dev", "", self._string(rng)))
        if rng.random() < 0.6:
            details["authextra"] = rng.choice((
                {"pubkey": rng.randbytes(32).hex()}, {"nonce": "bm9uY2U="},
                {"pubkey": self._string(rng)}, {"nonce": self._value(rng, 0)},
                self._value(rng, 1)))
        return details

    def _options(self, rng: random.Random) -> dict[str, Any]:
        keys = rng.sample(_OPTION_KEYS, rng.choice((0, 0, 1, 2, 3)))
        return {k: rng.choice(_OPTION_VALUES) for k in keys}

    def _payload(self, rng: random.Random) -> list[Any]:
        shape = rng.random()
        if shape < 0.3:
            return []
        args = [self._value(rng, 0) for _ in range(rng.choice((0, 1, 2, 3, 5)))]
        if shape < 0.7:
            return [args]
        return [args, {self._string(rng)[:20]: self._value(rng, 0)
                       for _ in range(rng.choice((0, 1, 3)))}]

    def _id(self, rng: random.Random) -> Any:
        if rng.random() < 0.85:
            return rng.choice((rng.randint(1, 1000), rng.randint(1, 2**53), 1, 2**53))
        return rng.choice((0, -1, 2**53 + 1, 2**63, 1.5, "1", None))

    # --- values -----------------------------------------------------------------

    def _string(self, rng: random.Random) -> str:
        pick = rng.randrange(13)
        if pick < 3:
            return rng.choice(self.uris)
        if pick < 5:
            return "x" * rng.randint(1, 40)
        if pick == 5:
            return "x" * rng.choice((255, 256, 257, 4096, 70_000))
        if pick == 6:
            return rng.randbytes(16).hex()
        return rng.choice(("", "a", "ü€𝄞", "\x00\x01", "0" * 64, "=" * 3, "bm9uY2U", "\ufeff",
                           "a\u202eb"))

    def _value(self, rng: random.Random, depth: int) -> Any:
        roll = rng.random()
        if depth > 3 or roll < 0.6:
            pick = rng.randrange(16)
            if pick < 4:
                return self._string(rng)
            if pick < 7:
                return rng.randint(-10, 10)
            if pick == 7:
                return rng.randbytes(rng.choice((0, 8, 300, 5000)))
            return rng.choice((2**53, 2**63 - 1, -(2**63), 2**64 - 1, 0.5, float("inf"),
                               True, False, None))
        if roll < 0.82:
            return [self._value(rng, depth + 1) for _ in range(rng.choice((0, 1, 2, 5)))]
        return {self._string(rng)[:30]: self._value(rng, depth + 1)
                for _ in range(rng.choice((0, 1, 2, 5)))}

    # --- mutations ---------------------------------------------------------------

    def _mutate(self, rng: random.Random, msg: list[Any]) -> list[Any]:
        msg = list(msg)
        roll = rng.random()
        if roll < 0.35 and len(msg) > 1:
            msg[rng.randrange(1, len(msg))] = self._value(rng, 0)
        elif roll < 0.45 and len(msg) > 1:
            del msg[rng.randrange(1, len(msg))]
        elif roll < 0.55:
            msg.insert(rng.randrange(1, len(msg) + 1), self._value(rng, 0))
        elif roll < 0.62:
            msg[0] = rng.choice((rng.randint(-5, 300), 2**64, "48", None, 48.0))
        elif roll < 0.7 and len(msg) > 1:
            i = rng.randrange(1, len(msg))
            msg[i] = _nest(msg[i], rng.randint(2, 40))
        elif roll < 0.8:
            # Big, but within a WebSocket message: long lists, big maps, long strings.
            big = rng.choice((list(range(rng.randint(1000, 50_000))),
                              {str(i): i for i in range(rng.randint(100, 5000))},
                              "s" * rng.randint(10_000, 300_000),
                              [self._value(rng, 2) for _ in range(rng.randint(50, 200))]))
            msg.append(big) if rng.random() < 0.5 else msg.__setitem__(
                rng.randrange(0, len(msg)), big)
        elif roll < 0.9:
            for i in range(1, len(msg)):
                if isinstance(msg[i], dict) and msg[i]:
                    k = rng.choice(list(msg[i]))
                    msg[i] = {**msg[i], k: self._value(rng, 1)}
                    break
        else:
            msg = [msg[0], *reversed(msg[1:])]
        return msg

    # --- frames that are not WAMP messages ------------------------------------------

    def _garbage(self, rng: random.Random, serializer: str) -> Case:
        binary = serializer != "json"
        roll = rng.random()
        if roll < 0.3:
            return Case(rng.randbytes(rng.randint(0, 2000)), binary, fatal=True)
        if roll < 0.45:  # the other frame type than the serializer expects
            return Case(encode(serializer, [CALL, 1, {}, uris.PRESENCE_SESSIONS]),
                        not binary, fatal=True)
        if roll < 0.6:  # a valid message cut short
            whole = encode(serializer, [CALL, 1, {}, uris.PRESENCE_SESSIONS, [1, 2, 3]])
            return Case(whole[:rng.randint(0, len(whole) - 1)], binary, fatal=True)
        if roll < 0.7:  # not UTF-8 in a text frame
            return Case(b"[48, 1, {}, \"\xff\xfe\"]", False, fatal=True)
        if roll < 0.8:  # a serialized value that is not a message
            value = rng.choice(({}, 7, "x", None, [], [[]], {"0": 48}))
            return Case(encode(serializer, value), binary, fatal=True)
        if roll < 0.9:  # a WebSocket ping with a payload
            return Case(rng.randbytes(rng.randint(0, 125)), binary, fatal=False, ping=True)
        return Case(b"", binary, fatal=True)

    def _deep(self, rng: random.Random, serializer: str) -> Case:
        depth = rng.choice((100, 500, 1000, 5000, 100_000))
        return Case(deep_frame(serializer, depth, rng.random() < 0.5), serializer != "json",
                    fatal=True)

    def _oversized(self, rng: random.Random, serializer: str) -> Case:
        size = self.max_message_bytes + rng.choice((1, 1000, 100_000))
        msg = [CALL, 1, {}, uris.PRESENCE_SESSIONS, ["x" * size]]
        return Case(encode(serializer, msg), serializer != "json", fatal=True)


def _nest(value: Any, depth: int) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def encode(serializer: str, value: Any) -> bytes:
    if serializer == "json":
        return json.dumps(_json_safe(value), ensure_ascii=False).encode("utf-8",
                                                                       "surrogatepass")
    if serializer == "msgpack":
        return msgpack.packb(value, use_bin_type=True)
    return cbor2.dumps(value)


def _json_safe(value: Any) -> Any:
    """autobahn's JSON carries bytes as a string: NUL and base64."""
    if isinstance(value, bytes):
        return "\x00" + base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def deep_frame(serializer: str, depth: int, in_message: bool) -> bytes:
    """A structure nested `depth` deep, written byte by byte (no encoder recurses)."""
    if serializer == "json":
        inner = b"[" * depth + b"]" * depth
        return b'[48, 1, {}, "sc.presence.sessions", [' + inner + b"]]" if in_message else inner
    if serializer == "msgpack":
        inner = b"\x91" * depth + b"\xc0"
        head = msgpack.packb([48, 1, {}, "sc.presence.sessions"])
        return (b"\x95" + head[1:] + b"\x91" + inner) if in_message else inner
    inner = b"\x81" * depth + b"\xf6"
    head = cbor2.dumps([48, 1, {}, "sc.presence.sessions"])
    return (b"\x85" + head[1:] + b"\x81" + inner) if in_message else inner


# --- delivering cases ------------------------------------------------------------------


@dataclass
class FuzzStats:
    cases: int = 0
    connections: int = 0
    ended_by_relay: int = 0  # the relay closed the connection (a case ended the session)
    probes_answered: int = 0  # the relay processed the batch and answered
    stuck: int = 0  # neither within the timeout: a hang
    join_failures: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    slowest_s: float = 0.0  # the longest a connection took, open to closed
    slowest: str = ""  # which: "state n" (replay it with run_connection)


class _RawFuzzClient(WebSocketClientProtocol):
    """A WebSocket client that never authenticates; counts what comes back."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: defer.Deferred[None] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()

    def onOpen(self) -> None:
        self.opened.callback(None)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        pass

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.opened.called:
            self.opened.errback(ConnectionError(reason))
        if not self.closed.called:
            self.closed.callback(None)


def _send(protocol: Any, case: Case) -> None:
    if case.ping:
        protocol.sendPing(case.payload)
    elif case.fragment:
        protocol.sendMessage(case.payload, case.binary, fragmentSize=case.fragment)
    else:
        protocol.sendMessage(case.payload, case.binary)


class _Probe:
    """Watches a taken-over session's incoming frames for the probe's answer."""

    def __init__(self, serializer: str, request: int) -> None:
        self.serializer = serializer
        self.request = request
        self.answered: defer.Deferred[None] = defer.Deferred()

    def rearm(self, request: int) -> None:
        self.request = request
        self.answered = defer.Deferred()

    def received(self, payload: bytes, isBinary: bool) -> None:
        if self.answered.called:
            return
        try:
            msg = (json.loads(payload) if self.serializer == "json" else
                   msgpack.unpackb(payload, raw=False, strict_map_key=False)
                   if self.serializer == "msgpack" else cbor2.loads(payload))
        except Exception:
            return
        if isinstance(msg, list) and (
                (msg[:2] == [RESULT, self.request]) or (msg[:3] == [ERROR, CALL, self.request])):
            self.answered.callback(None)


async def _wait(d: defer.Deferred[Any], clock: IReactorTime, timeout: float) -> bool:
    """Whether `d` fired within `timeout` seconds (it is not cancelled)."""
    waiter: defer.Deferred[bool] = defer.Deferred()
    timer = clock.callLater(timeout, lambda: waiter.called or waiter.callback(False))
    d.addBoth(lambda r: (waiter.called or waiter.callback(True), r)[1])
    fired = await waiter
    if timer.active():
        timer.cancel()
    return fired


async def run_connection(reactor: Any, url: str, gen: CaseGenerator, n: int, state: str,
                         device: TestDevice | None, stats: FuzzStats, size: int = 60,
                         timeout: float = 20.0) -> None:
    """Connection `n`: open it in `state`, send its batch, probe, close."""
    started = time.monotonic()
    try:
        await _run_connection(reactor, url, gen, n, state, device, stats, size, timeout)
    finally:
        took = time.monotonic() - started
        if took > stats.slowest_s:
            stats.slowest_s, stats.slowest = took, f"{state} {n}"


async def _run_connection(reactor: Any, url: str, gen: CaseGenerator, n: int, state: str,
                          device: TestDevice | None, stats: FuzzStats, size: int,
                          timeout: float) -> None:
    serializer = CaseGenerator.serializer_of(n, gen.seed, state)
    cases = gen.batch(n, state, size)
    stats.connections += 1
    stats.by_state[state] = stats.by_state.get(state, 0) + 1
    if state == "raw":
        await _raw_connection(reactor, url, serializer, cases, stats, timeout)
        return
    try:
        session: RelaySession = await connect(
            reactor, url, device.key if device is not None else Anonymous(), serializer)
    except Exception:
        stats.join_failures += 1
        return
    protocol = session._transport
    probe = _Probe(serializer, PROBE_BASE + 2 * n)
    protocol.onMessage = probe.received  # the client session hears nothing from now on
    ended = session.disconnected
    last = cases[-1] if cases and cases[-1].fatal else None
    for case in cases:
        if case is not last:
            _send(protocol, case)
            stats.cases += 1

    async def probe_now() -> None:
        """Answered once the relay has handled everything sent before it."""
        _send(protocol, _probe_case(serializer, probe.request))
        fired = await _wait(defer.DeferredList([probe.answered, ended], fireOnOneCallback=True),
                            reactor, timeout)
        if not fired:
            stats.stuck += 1
        elif probe.answered.called:
            stats.probes_answered += 1
        else:
            stats.ended_by_relay += 1

    await probe_now()
    if last is not None and probe.answered.called and not ended.called:
        # The case expected to end the session, and a second probe in case it did not.
        _send(protocol, last)
        stats.cases += 1
        probe.rearm(PROBE_BASE + 2 * n + 1)
        await probe_now()
    if not ended.called:
        protocol.sendClose(1000)
        if not await _wait(ended, reactor, timeout):
            stats.stuck += 1
            protocol.transport.abortConnection()
            await ended


def _probe_case(serializer: str, request: int) -> Case:
    return Case(encode(serializer, [CALL, request, {}, uris.PRESENCE_SESSIONS]),
                serializer != "json", fatal=False)


async def _raw_connection(reactor: Any, url: str, serializer: str, cases: list[Case],
                          stats: FuzzStats, timeout: float) -> None:
    factory = WebSocketClientFactory(url, protocols=[SUBPROTOCOL[serializer]])
    factory.protocol = _RawFuzzClient
    factory.noisy = False
    port = int(url.rsplit(":", 1)[1])
    client: _RawFuzzClient = await endpoints.TCP4ClientEndpoint(
        reactor, "127.0.0.1", port).connect(factory)
    try:
        await client.opened
    except ConnectionError:
        stats.join_failures += 1
        return
    for case in cases:
        _send(client, case)
        stats.cases += 1
    # An ABORT ends any session in any state: the relay must close at once.
    _send(client, Case(encode(serializer, [ABORT, {}, "wamp.close.normal"]),
                       serializer != "json", fatal=True))
    if await _wait(client.closed, reactor, timeout):
        stats.ended_by_relay += 1
    else:
        stats.stuck += 1
        client.transport.abortConnection()
        await client.closed


async def campaign(reactor: Any, url: str, gen: CaseGenerator, devices: list[TestDevice],
                   cases: int, seconds: float, batch: int = 60,
                   on_progress: Callable[[FuzzStats], None] | None = None) -> FuzzStats:
    """Run connections until `cases` cases are sent or `seconds` have passed; one
    connection per device at a time, plus as many raw and anonymous ones."""
    stats = FuzzStats()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**12))
    slots: list[tuple[str, TestDevice | None]] = [("device", d) for d in devices]
    slots += [("raw", None), ("anonymous", None)] * max(1, len(devices) // 4)

    async def worker(state: str, device: TestDevice | None) -> None:
        while stats.cases < cases and time.monotonic() < deadline:
            await run_connection(reactor, url, gen, next(counter), state, device, stats,
                                 size=batch)
            if on_progress is not None:
                on_progress(stats)

    await defer.gatherResults([defer.ensureDeferred(worker(s, d)) for s, d in slots])
    return stats
