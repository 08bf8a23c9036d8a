"""Where the relay is and how to reach it: one object instead of four loose settings.

Every connection an account makes (its long-lived session, and the one-call sessions
that enroll a device or remove one with the password) goes through a `RelayEndpoint`,
so the URL, the serializer and the trusted CA file cannot disagree between them.
"""

from __future__ import annotations

from typing import Any

import attrs
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.client.errors import ClientError
from securechat.client.wamp import Credentials, RelaySession, connect, leave


@attrs.frozen
class RelayEndpoint:
    reactor: Any
    url: str
    serializer: str = "msgpack"
    ca_file: str | None = None  # trusted for a wss:// relay instead of the system's CAs

    def connect(self, credentials: Credentials) -> defer.Deferred[RelaySession]:
        return connect(self.reactor, self.url, credentials, self.serializer,
                       ca_file=self.ca_file)

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
