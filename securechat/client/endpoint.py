"""Where the relay is and how to reach it: one object instead of four loose settings.

Every connection an account makes (its long-lived session, and the one-call sessions
that enroll a device or remove one with the password) goes through a `RelayEndpoint`,
so the URL, the serializer and the trusted CA file cannot disagree between them.

The URL may name several relays (a cluster's nodes, `relay_url.relay_urls`): a
connection tries them in order, starting from the one that last worked, and moves on
when one cannot be reached; the connection lifecycle (client.connection) backs off
when none can.
"""

from __future__ import annotations

from typing import Any

import attrs
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, error

from securechat.client.errors import ClientError
from securechat.client.relay_url import relay_urls
from securechat.client.wamp import Credentials, JoinRefused, connect, leave
from securechat.protocol import uris

# Why one node could not be reached (the next one may be): not a refusal of ours.
_UNREACHABLE = (error.ConnectError, error.ConnectionLost, error.ConnectionDone)
_UNREACHABLE_REASONS = frozenset({uris.ERR_CONNECTION_FAILED, uris.WAMP_SYSTEM_SHUTDOWN})


@attrs.frozen
class RelayEndpoint:
    reactor: Any
    url: str
    serializer: str = "msgpack"
    ca_file: str | None = None  # trusted for a wss:// relay instead of the system's CAs
    # Which of the URLs last worked (a one-item list: the endpoint is otherwise frozen).
    _last_good: list[int] = attrs.field(factory=lambda: [0], eq=False, repr=False)

    @property
    def urls(self) -> tuple[str, ...]:
        return relay_urls(self.url)

    @defer.inlineCallbacks
    def connect(self, credentials: Credentials) -> Any:
        """Deferred[RelaySession]: joined to the first relay of the list that answers."""
        urls = self.urls
        first = self._last_good[0] % len(urls)
        for attempt in range(len(urls)):
            index = (first + attempt) % len(urls)
            try:
                session = yield connect(self.reactor, urls[index], credentials,
                                        self.serializer, ca_file=self.ca_file)
            except _UNREACHABLE:
                if attempt == len(urls) - 1:
                    raise
                continue
            except JoinRefused as e:
                if e.reason not in _UNREACHABLE_REASONS or attempt == len(urls) - 1:
                    raise
                continue
            self._last_good[0] = index
            return session

    @defer.inlineCallbacks
    def call_once(self, credentials: Credentials, errors: dict[str, ClientError],
                  procedure: str, *args: Any) -> Any:
        """Join, make one call, leave; relay errors in `errors` become those ClientErrors."""
        session = yield self.connect(credentials)
        try:
            return (yield session.call(procedure, *args))
        except ApplicationError as e:
            if e.error in errors:
                raise errors[e.error] from None
            raise
        finally:
            yield leave(session)
