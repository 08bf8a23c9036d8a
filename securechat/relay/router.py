"""The realm: sessions, the broker and dealer, and the relay's own procedures.

The one module that knows every part of the relay: it builds the handlers over a
`context.RelayContext` and is what `session.Realm` describes to the sessions.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.relay.accounts import Accounts
from securechat.relay.auth import Authenticator
from securechat.relay.blobs import Blobs
from securechat.relay.blobstore import IBlobStore
from securechat.relay.broker import Broker
from securechat.relay.config import RelayConfig
from securechat.relay.connections import Connections
from securechat.relay.context import RelayContext
from securechat.relay.dealer import Dealer
from securechat.relay.delivery import Delivery
from securechat.relay.directory import Directory
from securechat.relay.emailcodes import EmailVerification, Mailer
from securechat.relay.prekeys import Prekeys
from securechat.relay.presence import Presence
from securechat.relay.recovery import Recovery
from securechat.relay.session import RouterSession
from securechat.relay.storage import IRelayStorage, StorageUnavailable
from securechat.relay.turn import TurnCredentials


class Router:
    log = Logger()

    def __init__(self, config: RelayConfig, storage: IRelayStorage, clock: IReactorTime,
                 mailer: Mailer | None = None, blob_store: IBlobStore | None = None,
                 bus: Any = None) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock
        self.directory = Directory(storage)
        self.broker = Broker(config)
        self.dealer = Dealer(config)
        self.authenticator = Authenticator(storage, config, clock)
        self.sessions: dict[int, RouterSession] = {}  # welcomed sessions
        self._connected: set[RouterSession] = set()  # every open connection
        self._devices: dict[str, RouterSession] = {}  # device id -> its live session
        self.connections = Connections(config)  # counted from TCP accept (transport.py)
        # A cluster node (relay.cluster.RedisBus): events, kicks and directory changes
        # reach the other nodes through Redis.
        self.bus = bus
        # What the handlers get of the realm: no handler holds the router.
        shared = None
        if bus is not None:
            import securechat.relay.cluster_limits as cluster_limits
            import securechat.relay.cluster_node as cluster_node

            shared = cluster_limits.shared_buckets(bus, clock)
        ctx = RelayContext(config, storage, self.directory, clock, self.sessions,
                           push=self.broker.deliver if bus is None else self._push_anywhere,
                           kick_device=self.kick_device, registered=self.registered,
                           shared_buckets=shared, clustered=bus is not None,
                           push_reaching=None if bus is None else self._push_reaching)
        self.presence: Any = Presence(ctx)
        if bus is not None:
            self.presence = cluster_node.join(self, bus, ctx)
        self.delivery = Delivery(ctx)
        self.email_verification = EmailVerification(ctx, mailer)
        if bus is not None:
            import securechat.relay.cluster_codes as cluster_codes

            self.email_verification = cluster_codes.ClusterEmailVerification(ctx, mailer, bus)
        self.accounts = Accounts(ctx, self.email_verification, self.presence)
        handlers: list[Any] = [self.accounts, Recovery(ctx), self.email_verification,
                               Prekeys(ctx), self.delivery, self.presence,
                               TurnCredentials(config, clock)]
        # Encrypted file sharing: only when the service gives it somewhere to keep bytes.
        self.blobs = Blobs(ctx, blob_store) if blob_store is not None else None
        if self.blobs is not None:
            handlers.append(self.blobs)
        for handler in handlers:
            self.dealer.add_procedures(handler.procedures())

    def session_factory(self) -> RouterSession:
        return RouterSession(self)

    # --- what sessions tell the router -----------------------------------------------

    def opened(self, session: RouterSession) -> None:
        self._connected.add(session)

    def attach(self, session: RouterSession) -> None:
        """A session was welcomed."""
        if session.admission is not None:
            self.connections.welcomed(session.admission)
        self.sessions[session.id] = session
        device_id = session.principal.device_id
        if device_id is None:
            return
        self.storage.device_seen(device_id, int(self.clock.seconds() * 1000)).addErrback(
            self._not_seen)
        previous = self._devices.get(device_id)
        self._devices[device_id] = session
        if self.bus is not None and previous is None:
            self._cluster.device_attached(device_id)
        if previous is not None:
            # One live session per device: the newer one wins (a reconnect
            # that raced the old connection's timeout, say).
            previous.abort(uris.CLOSE_REPLACED, "this device connected again elsewhere")
        was_online = previous is not None and previous.principal.role == uris.ROLE_DEVICE
        # A pending device is nobody's news; one just approved (its pending session
        # replaced by a certified one) is.
        if session.principal.role == uris.ROLE_DEVICE and not was_online:
            self.presence.device_online(session.principal.user_id or "", device_id)

    def _not_seen(self, failure: Any) -> None:
        if failure.check(StorageUnavailable):  # a cluster's database restarting
            self.log.warn("could not record when a device was last seen: {why}",
                          why=failure.getErrorMessage())
        else:
            self.log.failure("could not record when a device was last seen", failure)

    def closed(self, session: RouterSession, was_established: bool) -> None:
        self._connected.discard(session)
        if not was_established:
            return
        self.sessions.pop(session.id, None)
        self.broker.detach(session)
        self.dealer.detach(session)
        device_id = session.principal.device_id
        if device_id is not None and self._devices.get(device_id) is session:
            del self._devices[device_id]
            if self.bus is not None:
                self._cluster.device_detached(device_id)
            if session.principal.role == uris.ROLE_DEVICE:
                self.presence.device_offline(session.principal.user_id or "", device_id)

    # --- for handlers ----------------------------------------------------------------

    def registered(self, session_id: int) -> None:
        """An account was registered in this session: an anonymous one has done all it
        may do, and ends once the answer is sent."""
        session = self.sessions.get(session_id)
        if session is not None and session.principal.role == uris.ROLE_ANONYMOUS:
            session.leave_after_reply(uris.CLOSE_REGISTERED, "registered; sign in to go on")

    def kick_device(self, device_id: str, reason: str, message: str) -> None:
        """End the device's session, and any handshake in progress for it (on every
        node of a cluster)."""
        self.kick_here(device_id, reason, message)
        if self.bus is not None:
            self._cluster.kick_elsewhere(device_id, reason, message)

    def kick_here(self, device_id: str, reason: str, message: str) -> None:
        """kick_device, on this node only."""
        session = self._devices.get(device_id)
        if session is not None:
            session.abort(reason, message)
        for pending in [s for s in self._connected
                        if not s.welcomed and s.pending_device == device_id]:
            pending.abort(reason, message)

    def device_sessions(self) -> dict[str, RouterSession]:
        """The live session of each device connected to this node."""
        return dict(self._devices)

    def has_device(self, device_id: str) -> bool:
        """Whether the device's live session is on this node."""
        return device_id in self._devices

    def _push_anywhere(self, topic: str, args: list[Any]) -> int:
        return self._cluster.push(topic, args)

    def _push_reaching(self, topic: str, args: list[Any]) -> Any:
        return self._cluster.push_reaching(topic, args)

    def shutdown(self) -> defer.Deferred[Any]:
        """Close every connection; fires when all are gone."""
        sessions = list(self._connected)
        for session in sessions:
            session.abort(uris.WAMP_SYSTEM_SHUTDOWN, "the relay is shutting down")
        return defer.gatherResults([s.closed for s in sessions])
