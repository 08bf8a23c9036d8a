"""A real coturn for a RelayTestCase (securechat.relay.turnprocess), with the relay's
TURN settings pointing at it."""

from __future__ import annotations

import os
import secrets
from typing import Any

from twisted.internet import defer, reactor

from securechat.relay.config import RelayConfig
from securechat.relay.turnprocess import TurnServer


@defer.inlineCallbacks
def with_turn(test: Any, relay_secret: str | None = None) -> Any:
    """Before a RelayTestCase's setUp: start coturn for `test` (stopped at its cleanup)
    and give the relay its secret (or `relay_secret`, a wrong one) and URI."""
    secret = secrets.token_urlsafe(24)
    turn = TurnServer(reactor, os.path.abspath(test.mktemp()), secret)
    yield turn.start()
    test.addCleanup(turn.stop)
    test.config = RelayConfig(turn_secret=relay_secret or secret, turn_uris=(turn.uri,),
                              turn_ttl=600)
    return turn
