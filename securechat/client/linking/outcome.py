"""What both sides of a link share to report: a result that comes once, and the
errback for a step whose failure is logged (see securechat.client.linking)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client.errors import LinkFailed


class Once:
    """A result that comes once; every `when()` gets it (a failure included) without
    a Deferred left unconsumed (no "unhandled error" for a result nobody asked for)."""

    def __init__(self) -> None:
        self.fired = False
        self._result: Any = None
        self._waiting: list[defer.Deferred[Any]] = []

    def fire(self, result: Any) -> None:
        if self.fired:
            return
        self.fired, self._result = True, result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(result) if isinstance(result, Failure) else d.callback(result)

    def when(self) -> defer.Deferred[Any]:
        if not self.fired:
            d: defer.Deferred[Any] = defer.Deferred()
            self._waiting.append(d)
            return d
        if isinstance(self._result, Failure):
            return defer.fail(self._result)
        return defer.succeed(self._result)


def logged(log: Logger, what: str) -> Callable[[Failure], None]:
    def errback(failure: Failure) -> None:
        if failure.check(ApplicationError, TransportLost, LinkFailed):
            log.info("{what} failed: {error}", what=what, error=type(failure.value).__name__)
        else:
            log.failure(what, failure)
    return errback
