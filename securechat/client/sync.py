"""Getting in step after joining the relay, and what the relay pushes to this device.

On every join (`run`, the connection machine's `on_online`): subscribe to the inbox and
presence topics, follow my contacts' presence, re-read my own devices (added or removed
while away), top up prekeys, check the relay's recovery blob is phrase-sealed, drain the
mailbox, flush the outbox; then the connection is caught up (`syncing -> online`).
"""

from __future__ import annotations

from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.events as ev
import securechat.client.recovery as recovery
from securechat.client.connection import ConnectionMachine
from securechat.client.context import ClientContext
from securechat.client.directory import DeviceDirectory
from securechat.client.inbox import Inbox
from securechat.client.outbox import Outbox
from securechat.client.prekeys import PrekeyPublisher
from securechat.client.presence import Presence
from securechat.client.wamp import RelaySession
from securechat.protocol import uris

RETRY_FIRST = 2.0  # seconds before catching up again after the relay refused a step
RETRY_MAX = 60.0


class Sync:
    log = Logger()

    def __init__(self, ctx: ClientContext, connection: ConnectionMachine, inbox: Inbox,
                 outbox: Outbox, directory: DeviceDirectory, prekeys: PrekeyPublisher,
                 presence: Presence) -> None:
        self._ctx = ctx
        self._connection = connection
        self._inbox = inbox
        self._outbox = outbox
        self._directory = directory
        self._prekeys = prekeys
        self._presence = presence
        self._recovery_sealed = False  # the relay's blob is checked to be under the phrase
        self._retry_delay = RETRY_FIRST
        self.clock: Any = ctx.reactor  # IReactorTime for the retries (tests: a task.Clock)

    @defer.inlineCallbacks
    def run(self, session: RelaySession, subscribe: bool = True) -> Any:
        """Joined: subscribe, re-read what changed while away, drain the mailbox, flush
        the outbox; then the connection is caught up."""
        ctx = self._ctx
        try:
            if subscribe:
                yield session.subscribe(self._inbox.arrived,
                                        uris.inbox_topic(ctx.me.device_id))
                yield session.subscribe(self.presence_event,
                                        uris.presence_topic(ctx.me.device_id))
            yield self.declare_contacts()
            # Devices added or removed while this one was away are told now.
            yield self._directory.refresh(ctx.me.user_id)
            yield self._prekeys.top_up()
            if ctx.secrets is not None and not self._recovery_sealed:
                self._recovery_sealed = yield recovery.keep_relay_blob_sealed(
                    session, ctx.secrets, ctx.me.user_id)
            yield self._inbox.drain_mailbox()
            yield self._outbox.flush()
            if self._connection.session is session:
                self._retry_delay = RETRY_FIRST
                self._connection.caught_up()
        except (TransportLost, Disconnected) as e:
            self.log.info("connection lost while catching up: {error}", error=type(e).__name__)
        except ApplicationError as e:
            # The relay refused a step (a rate limit, say): still joined, not in step.
            # Try again later on this session; the connection stays `syncing`.
            if self._connection.session is session:
                self.log.info("catching up failed ({error}); again in {delay}s",
                              error=e.error, delay=self._retry_delay)
                self.clock.callLater(self._retry_delay, self._again, session)
                # Still syncing; the UI may say why and when it tries again.
                self._ctx.events.emit(ev.ConnectionStateChanged(
                    ev.ConnectionState.SYNCING, e.error, retry_in=self._retry_delay))
                self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)

    def _again(self, session: RelaySession) -> None:
        if self._connection.session is session and not self._connection.is_caught_up:
            self.run(session, subscribe=False)  # this session's subscriptions stand

    @defer.inlineCallbacks
    def declare_contacts(self) -> Any:
        """Follow my contacts' presence; devices online that we do not know are checked."""
        for user_id, device_id in (yield self._presence.declare_contacts()):
            self._directory.check_device(user_id, device_id)

    def declare_contacts_quietly(self, _new_contact: str) -> defer.Deferred[None]:
        """After a new friendship: the same, failures only logged."""
        return self.declare_contacts().addErrback(
            lambda f: self.log.info("presence not declared: {e}", e=type(f.value).__name__))

    def presence_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == uris.DEVICES_CHANGED:
            # A hint only: the list fetched (and verified) now says what changed.
            self._directory.refresh(self._ctx.me.user_id)
        elif kind == uris.PREKEYS_LOW:
            self._prekeys.refill(rotate_fallback=False)
        else:
            online = kind == uris.PEER_ONLINE
            user_id, device_id = event.get("user_id", ""), event.get("device_id", "")
            self._presence.device_changed(user_id, device_id, online)
            if online:
                self._directory.check_device(user_id, device_id)
                self._outbox.flush()
