"""The realm: sessions, the broker and dealer, and the relay's own procedures."""

from __future__ import annotations

from collections import Counter
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.relay.accounts import Accounts
from securechat.relay.auth import Authenticator
from securechat.relay.broker import Broker
from securechat.relay.config import RelayConfig
from securechat.relay.dealer import Dealer
from securechat.relay.delivery import Delivery
from securechat.relay.directory import Directory
from securechat.relay.prekeys import Prekeys
from securechat.relay.presence import Presence
from securechat.relay.session import RouterSession
from securechat.relay.storage import IRelayStorage
from securechat.relay.turn import TurnCredentials


class Router:
    log = Logger()

    def __init__(self, config: RelayConfig, storage: IRelayStorage, clock: IReactorTime) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock
        self.directory = Directory(storage)
        self.broker = Broker(config)
        self.dealer = Dealer(config)
        self.authenticator = Authenticator(storage, config, clock)
        self.presence = Presence(self.broker)
        self.delivery = Delivery(self)
        self.sessions: dict[int, RouterSession] = {}  # welcomed sessions
        self._connected: set[RouterSession] = set()  # every open connection
        self._devices: dict[str, RouterSession] = {}  # device id -> its live session
        self._handshakes: Counter[str] = Counter()  # peer address -> sessions not yet welcomed
        for handler in (Accounts(self), Prekeys(self), self.delivery, self.presence,
                        TurnCredentials(config, clock)):
            self.dealer.add_procedures(handler.procedures())

    def session_factory(self) -> RouterSession:
        return RouterSession(self)

    # --- what sessions tell the router -----------------------------------------------

    def opened(self, session: RouterSession) -> None:
        self._connected.add(session)
        self._handshakes[session.peer] += 1
        if self._handshakes[session.peer] > self.config.max_pending_handshakes:
            session.abort(uris.ERR_RATE_LIMITED,
                          "too many unauthenticated connections from this address")

    def attach(self, session: RouterSession) -> None:
        """A session was welcomed."""
        self._handshake_done(session.peer)
        self.sessions[session.id] = session
        device_id = session.principal.device_id
        if device_id is None:
            return
        previous = self._devices.get(device_id)
        self._devices[device_id] = session
        if previous is not None:
            # One live session per device: the newer one wins (a reconnect
            # that raced the old connection's timeout, say).
            previous.abort(uris.CLOSE_REPLACED, "this device connected again elsewhere")
        else:
            self.presence.device_online(session.principal.user_id or "", device_id)

    def closed(self, session: RouterSession, was_established: bool) -> None:
        self._connected.discard(session)
        if not was_established:
            self._handshake_done(session.peer)
            return
        self.sessions.pop(session.id, None)
        self.broker.detach(session)
        self.dealer.detach(session)
        device_id = session.principal.device_id
        if device_id is not None and self._devices.get(device_id) is session:
            del self._devices[device_id]
            self.presence.device_offline(session.principal.user_id or "", device_id)

    def _handshake_done(self, peer: str) -> None:
        self._handshakes[peer] -= 1
        if self._handshakes[peer] <= 0:
            del self._handshakes[peer]

    # --- for handlers ----------------------------------------------------------------

    def kick_device(self, device_id: str, reason: str, message: str) -> None:
        session = self._devices.get(device_id)
        if session is not None:
            session.abort(reason, message)

    def shutdown(self) -> defer.Deferred[Any]:
        """Close every connection; fires when all are gone."""
        sessions = list(self._connected)
        for session in sessions:
            session.abort(uris.WAMP_SYSTEM_SHUTDOWN, "the relay is shutting down")
        return defer.gatherResults([s.closed for s in sessions])
