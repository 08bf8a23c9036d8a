"""A relay that rewrites its SCRAM CHALLENGE: the review's H3 attack, for tests.

The real relay's authenticator, wrapped in process (as the review's demos did): the
CHALLENGE a client gets is changed by `tamper`, and every HELLO and AUTHENTICATE that
reaches the relay is recorded, so a test can check that no proof was sent.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

from autobahn.wamp.message import Authenticate, Hello
from twisted.internet import defer

from securechat.relay.auth import Challenge
from securechat.relay.service import RelayService

Tamper = Callable[[dict[str, Any]], dict[str, Any]]


class HostileScram:
    """The real relay's authenticator with its SCRAM CHALLENGEs changed by `tamper`
    (from the `from_login`-th SCRAM login on), recording what reaches it."""

    def __init__(self, relay: RelayService) -> None:
        self._authenticator = relay.router.authenticator
        self._hello = self._authenticator.hello
        self.tamper: Tamper | None = None
        self.from_login = 1
        self.hellos: list[Hello] = []  # every HELLO, of any method
        self.challenges: list[dict[str, Any]] = []  # the SCRAM CHALLENGEs as sent
        self.proofs: list[Authenticate] = []  # the SCRAM AUTHENTICATEs received
        self._authenticator.hello = self._hello_received

    def restore(self) -> None:
        del self._authenticator.hello

    def _hello_received(self, msg: Hello, peer: str = "") -> defer.Deferred[Any]:
        self.hellos.append(msg)
        return defer.maybeDeferred(self._hello, msg, peer).addCallback(self._answer)

    def _answer(self, answer: Any) -> Any:
        if not isinstance(answer, Challenge) or answer.method != "scram":
            return answer
        extra = dict(answer.extra)
        if self.tamper is not None and len(self.challenges) + 1 >= self.from_login:
            extra = self.tamper(extra)
        self.challenges.append(extra)

        def verify(auth: Authenticate) -> Any:
            self.proofs.append(auth)
            return answer.verify(auth)
        return Challenge("scram", extra, verify)


def other_salt(extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, "salt": base64.b64encode(os.urandom(16)).decode("ascii")}


def downgrade(extra: dict[str, Any]) -> dict[str, Any]:
    """H3's attack: t=1, 8 KiB and a salt of the attacker's own."""
    return {**other_salt(extra), "iterations": 1, "memory": 8}


def fresh_nonce(extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, "nonce": base64.b64encode(os.urandom(34)).decode("ascii")}
