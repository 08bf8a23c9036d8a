"""A hostile relay for tests: the real relay, with chosen answers rewritten in-process.

This is what a compromised relay, or anyone in the middle of a `ws://` connection,
can do: change what a procedure answers, record what clients send, and push
envelopes of its own making to any device. Nothing of the relay is faked: the
procedures run as usual and the harness only stands between them and the wire.

    hostile = HostileRelay(self.relay)
    hostile.rewrite(uris.DEVICE_LIST, lambda caller, answer, user_id=None: answer + [fake])
    sent = hostile.capture(uris.MESSAGE_SEND)
    hostile.inject(alice.me.device_id, forged_envelope(...))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from securechat.client.olm import ALG, CRYPTO_VERSION
from securechat.protocol import uris
from securechat.relay.dealer import Caller
from securechat.relay.service import RelayService

Rewrite = Callable[..., Any]  # (caller, answer, *args, **kwargs) -> answer


class HostileRelay:
    def __init__(self, relay: RelayService) -> None:
        self.relay = relay
        self._procedures = relay.router.dealer._procedures
        self._originals: dict[str, Any] = {}
        self._captured: dict[str, list[tuple[Caller, tuple[Any, ...], dict[str, Any]]]] = {}

    def _wrap(self, uri: str, around: Callable[..., Any]) -> None:
        fn, signature = self._procedures[uri]
        self._originals.setdefault(uri, (fn, signature))
        self._procedures[uri] = (around(fn), signature)

    def rewrite(self, uri: str, change: Rewrite) -> None:
        """Clients get `change(caller, answer, *args, **kwargs)` instead of `answer`."""
        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                d = defer.maybeDeferred(fn, caller, *args, **kwargs)
                d.addCallback(lambda answer: change(caller, answer, *args, **kwargs))
                return d
            return call
        self._wrap(uri, around)

    def capture(self, uri: str) -> list[tuple[Caller, tuple[Any, ...], dict[str, Any]]]:
        """A list that fills with (caller, args, kwargs) of every call of `uri`."""
        calls = self._captured.setdefault(uri, [])

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                calls.append((caller, args, kwargs))
                return fn(caller, *args, **kwargs)
            return call
        self._wrap(uri, around)
        return calls

    def inject(self, device_id: str, envelope: dict[str, Any]) -> int:
        """Push `envelope` to a connected device as if the relay delivered it; returns
        how many sessions got it (0: the device is not online)."""
        return self.relay.router.broker.deliver(uris.inbox_topic(device_id), [envelope])

    def restore(self) -> None:
        for uri, original in self._originals.items():
            self._procedures[uri] = original
        self._originals.clear()


def forged_envelope(from_user: str, from_device: str, message_type: int, body: bytes,
                    ts_ms: int | None = None) -> dict[str, Any]:
    """An inbox event with whatever sender the relay chooses to claim."""
    return {"id": os.urandom(16).hex(), "from_user": from_user, "from_device": from_device,
            "ts": int(time.time() * 1000) if ts_ms is None else ts_ms,
            "v": CRYPTO_VERSION, "alg": ALG, "type": message_type, "body": body}


def envelopes_to(calls: list[tuple[Caller, tuple[Any, ...], dict[str, Any]]],
                 device_id: str) -> list[dict[str, Any]]:
    """The envelopes captured `sc.message.send` calls addressed to `device_id`."""
    found = []
    for _, args, kwargs in calls:
        envelopes = args[1] if len(args) > 1 else kwargs.get("envelopes", [])
        found += [e for e in envelopes if e.get("device_id") == device_id]
    return found
