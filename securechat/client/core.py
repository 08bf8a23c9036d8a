"""The client core's face: one account on one device, driven by the reactor, no GUI.

`SecureChatClient.register` / `.login` / `.link` / `.open` give a client for an
account; `start()` connects (in the background, reconnecting as needed) and everything
else is a method returning a Deferred, or an event on `client.events`.

This class only wires the features together and delegates to them; the behaviour is
in one module per feature, over a shared `context.ClientContext`:

    account      creating, signing in, opening, PIN, password    (module functions)
    directory    verified device lists and pinned account keys   DeviceDirectory
    fanout       one frame to every device (Sesame over Olm)     Fanout
    outbox       what waits for the relay, in order              Outbox
    inbox        envelopes in: decrypt, check, dispatch, ack     Inbox
    dispatch     the frame-handler table                         FrameHandlers
    friends      requests, contacts, blocking                    Friends
    messages     texts, receipts, deleting                       Messages (`conversations`)
    trust        safety numbers, verified marks, nicknames       Trust
    typing_indicator, presence, prekeys, linking (device approval), devices (notices)
"""

from __future__ import annotations

from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client import account, linking, recovery
from securechat.client import events as ev
from securechat.client import pin as pin_lock
from securechat.client.accountlock import AccountLock
from securechat.client.connection import ConnectionMachine
from securechat.client.context import ClientContext
from securechat.client.devices import LinkedDevice
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, nothing
from securechat.client.endpoint import RelayEndpoint
from securechat.client.errors import ClientError, NoSuchAccount
from securechat.client.fanout import Fanout
from securechat.client.friends import Friends
from securechat.client.inbox import Inbox
from securechat.client.messages import Messages
from securechat.client.model import (
    Contact,
    ConversationSummary,
    DeviceNotice,
    KdfCost,
    Me,
    Request,
    StoredMessage,
)
from securechat.client.outbox import Outbox
from securechat.client.prekeys import PrekeyPublisher
from securechat.client.presence import Presence
from securechat.client.trust import Trust
from securechat.client.typing_indicator import TypingIndicator
from securechat.client.wamp import Password, RelaySession
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email

STOP_PATIENCE = 3.0  # seconds stop() waits on the relay before dropping the connection
Deferred = defer.Deferred


class NotCaughtUp(ClientError):
    """`wait_caught_up` gave up: `event` is the connection's trouble (None: too slow)."""

    def __init__(self, message: str, event: ev.ConnectionStateChanged | None) -> None:
        super().__init__(message)
        self.event = event


class SecureChatClient:
    log = Logger()

    def __init__(self, ctx: ClientContext, lock: AccountLock) -> None:
        self._ctx = ctx
        self._lock = lock  # held until stop()
        self.reactor = ctx.reactor
        self.url = ctx.relay.url
        self.store = ctx.store
        self.events = ctx.events
        self.stop_patience = STOP_PATIENCE
        self._recovery_sealed = False  # the relay's blob is checked to be under the phrase
        self.connection = ctx.connection = ConnectionMachine(
            ctx.reactor, lambda: ctx.relay.connect(ctx.device_key), self._catch_up,
            ctx.events.emit)
        handlers = FrameHandlers(ctx)
        self.directory = DeviceDirectory(ctx, lambda peer: self.trust.contact_updated(peer))
        self.fanout = Fanout(ctx, self.directory)
        self.outbox = Outbox(ctx, self.fanout)
        self.trust = Trust(ctx, self.directory, self.outbox.flush)
        self.prekeys = PrekeyPublisher(ctx)
        self.presence = Presence(ctx)
        self.approvals = linking.DeviceApprovals(
            ctx.reactor, ctx.me, lambda: ctx.session, lambda: ctx.secrets, ctx.olm,
            ctx.device_key.public_hex, lambda: ctx.olm.identity_key, ctx.events.emit,
            lambda: self.directory.devices_of(ctx.me.user_id, refresh=True))
        self.inbox = Inbox(ctx, handlers, self.directory, self.fanout, self.outbox,
                           self.prekeys, self.approvals.received)
        self.friends = Friends(ctx, handlers, self.directory, self.outbox)
        self.friends.contact_added += [self._declare_contacts, self.inbox.replay_held]
        self.conversations = Messages(ctx, handlers, self.outbox)
        self.typing = TypingIndicator(ctx, handlers, self.fanout)

    # === creating and opening accounts (client.account) ========================

    @classmethod
    def register(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
                 name: str = "", cost: KdfCost | None = None,
                 serializer: str = "msgpack", email_code: str | None = None,
                 ca_file: str | None = None,
                 insecure_ws: bool = False) -> Deferred[tuple[SecureChatClient, str]]:
        """Create an account and this device. Fires with (client, recovery phrase): show
        the phrase once. `email_code`: what the relay mailed (registration). `ca_file`
        (here and below): a PEM certificate or CA a wss:// relay must chain to. A ws://
        `url` off loopback needs `insecure_ws` (client.relay_url)."""
        return account.register(cls, RelayEndpoint(reactor, url, serializer, ca_file),
                                data_dir, email, password, name, cost or KdfCost(),
                                email_code, insecure_ws)

    @classmethod
    def login(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
              cost: KdfCost | None = None, serializer: str = "msgpack",
              recovery_phrase: str | None = None, ca_file: str | None = None,
              floor: KdfCost | None = None,
              insecure_ws: bool = False) -> Deferred[SecureChatClient]:
        """Sign in on a new device with the password (to the relay) and the recovery
        phrase (which opens the account key). Refusals change nothing, here or on the
        relay: InvalidRecoveryPhrase (a typo), WrongPassword, WrongRecoveryPhrase,
        RecoveryPhraseNeeded, LoginParametersRefused (hashing cheaper than `floor`)."""
        return account.login(cls, RelayEndpoint(reactor, url, serializer, ca_file), data_dir,
                             email, password, cost or KdfCost(), recovery_phrase,
                             floor or KdfCost(), insecure_ws)

    @classmethod
    def link(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             cost: KdfCost | None = None, serializer: str = "msgpack",
             ca_file: str | None = None, floor: KdfCost | None = None,
             insecure_ws: bool = False) -> Deferred[linking.NewDeviceLink]:
        """Sign in on a new device by approval on an existing one. Fires with a
        linking.NewDeviceLink once the request is out: show `wait_code()`'s code, then
        `confirm()` or `cancel()`; `wait_result()` fires with the client."""
        return account.link(cls, RelayEndpoint(reactor, url, serializer, ca_file), data_dir,
                            email, password, cost or KdfCost(), floor or KdfCost(),
                            insecure_ws)

    @classmethod
    def open(cls, reactor: Any, data_dir: str, url: str, email: str, password: str,
             serializer: str = "msgpack", ca_file: str | None = None,
             insecure_ws: bool = False) -> Deferred[SecureChatClient]:
        """Open an account already on this device, without the network (`start()`
        connects)."""
        return account.open_with_password(cls, RelayEndpoint(reactor, url, serializer,
                                                             ca_file),
                                          data_dir, email, password, insecure_ws)

    @classmethod
    def open_with_pin(cls, reactor: Any, data_dir: str, url: str, email: str, pin: str,
                      serializer: str = "msgpack", ca_file: str | None = None,
                      insecure_ws: bool = False) -> Deferred[SecureChatClient]:
        """`open` with the quick-unlock PIN: WrongPin (tries left) or PinLocked."""
        return account.open_with_pin(cls, RelayEndpoint(reactor, url, serializer, ca_file),
                                     data_dir, email, pin, insecure_ws)

    @staticmethod
    def has_pin(data_dir: str, email: str) -> bool:
        return account.has_pin(data_dir, email)

    @staticmethod
    def pin_keychain_bound() -> bool:
        """Whether a PIN set now is bound to the OS keychain (else a copy of the account
        directory is enough to guess it offline)."""
        return pin_lock.keychain_bound()

    @staticmethod
    def reset_password(reactor: Any, data_dir: str, url: str, email: str, recovery_phrase: str,
                       new_password: str, cost: KdfCost | None = None,
                       serializer: str = "msgpack",
                       ca_file: str | None = None) -> Deferred[bool | None]:
        """Forgot password: the recovery phrase sets a new one. Fires True (this device's
        copy re-sealed), False (sign in again here) or None (no copy here)."""
        cost = cost or KdfCost()
        return recovery.reset_password(reactor, data_dir, url, email, recovery_phrase,
                                       new_password, cost.iterations, cost.memory_kib,
                                       serializer, ca_file)

    @defer.inlineCallbacks
    def _load(self) -> Any:
        ctx = self._ctx
        yield ctx.reload_contacts()
        ctx.blocked = yield ctx.store.blocked()
        yield self.directory.load()

    # === state ==============================================================================

    @property
    def me(self) -> Me:
        return self._ctx.me

    @property
    def contacts(self) -> dict[str, Contact]:
        return self._ctx.contacts

    @property
    def blocked(self) -> set[str]:
        return self._ctx.blocked

    @property
    def account_dir(self) -> str:
        return self._ctx.account_dir

    @property
    def online(self) -> bool:
        return self._ctx.online

    @property
    def is_caught_up(self) -> bool:
        """Online, and this connection has drained the mailbox and flushed the outbox."""
        return self.connection.is_caught_up

    # === lifecycle ============================================================================

    def start(self) -> None:
        """Connect in the background; reconnects with backoff until `stop()`."""
        self.connection.start()

    def reconnect_now(self) -> None:
        """While offline and waiting to retry: try again at once (a user's "Retry")."""
        self.connection.retry_now()

    def caught_up(self) -> Deferred[None]:
        """Fires at once if caught up, else when the current or next connection is."""
        if self.is_caught_up:
            return defer.succeed(None)
        return self.events.next(ev.CaughtUp).addCallback(lambda _: None)

    @defer.inlineCallbacks
    def wait_caught_up(self, timeout: float) -> Any:
        """Deferred[None]: caught up within `timeout` seconds (start the client too), or
        NotCaughtUp: the relay cannot be reached, refused this device, or is too slow."""
        if self.is_caught_up:
            return
        waits = [self.caught_up(), self.events.next(
            ev.ConnectionStateChanged, lambda e: e.state in (
                ev.ConnectionState.OFFLINE, ev.ConnectionState.FAILED)
            and e.reason != "stopped")]
        first = defer.DeferredList(waits, fireOnOneCallback=True, consumeErrors=True)
        try:
            _, index = yield first.addTimeout(timeout, self.reactor)
        except defer.TimeoutError:
            raise NotCaughtUp(f"the relay did not answer within {timeout:g}s", None) from None
        finally:
            for d in waits:
                d.cancel()
        if index == 1:
            event = waits[1].result if not isinstance(waits[1].result, Exception) else None
            raise NotCaughtUp(f"not connected to the relay ({event.reason})", event)

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Finish what is in hand, ack what was stored, disconnect, close the database
        and free the account. A relay that stops answering cannot hold this up for more
        than a few seconds: the connection is then dropped without a goodbye."""
        ctx = self._ctx
        try:
            # What was stored need not come again: ack it, if the relay answers in time.
            yield self._within(self.inbox.settled())
            yield self._within(self.inbox.flush_acks())
            self.approvals.stop()
            self.typing.stop()
            session = self.connection.session
            self.connection.stop()
            if session is not None and not (yield self._within(session.disconnected)):
                session.abort()
                yield session.disconnected
            # Offline now: whatever still waits on the relay fails at once.
            yield self.inbox.settled()
            yield ctx.outbound.run(nothing)
            self.inbox.cancel_acks()  # unacked envelopes come again and are skipped
            if self.conversations.receipts_waiting:
                yield self.conversations.send_receipts()  # into the outbox: sent at next start
                yield ctx.outbound.run(nothing)
        finally:
            ctx.closed = True
            yield ctx.store.stop()
            self._lock.release()

    def _within(self, d: Deferred[Any]) -> Deferred[bool]:
        """Fires True when `d` fires within `stop_patience` seconds, else False (`d` is
        left alone)."""
        result: Deferred[bool] = Deferred()
        timer = self.reactor.callLater(self.stop_patience,
                                       lambda: result.called or result.callback(False))

        def fired(outcome: Any) -> Any:
            if timer.active():
                timer.cancel()
            if not result.called:
                result.callback(True)
            return outcome
        d.addBoth(fired)
        return result

    @defer.inlineCallbacks
    def _catch_up(self, session: RelaySession) -> Any:
        """Joined: subscribe, re-read what changed while away, drain the mailbox, flush
        the outbox; then the connection is caught up."""
        ctx = self._ctx
        try:
            yield session.subscribe(self.inbox.arrived, uris.inbox_topic(ctx.me.device_id))
            yield session.subscribe(self._presence_event,
                                    uris.presence_topic(ctx.me.device_id))
            yield self._declare_contacts()
            # Devices added or removed while this one was away are told now.
            yield self.directory.refresh(ctx.me.user_id)
            yield self.prekeys.top_up()
            if ctx.secrets is not None and not self._recovery_sealed:
                self._recovery_sealed = yield recovery.keep_relay_blob_sealed(
                    session, ctx.secrets, ctx.me.user_id)
            yield self.inbox.drain_mailbox()
            yield self.outbox.flush()
            if self.connection.session is session:
                self.connection.caught_up()
        except (TransportLost, Disconnected, ApplicationError) as e:
            self.log.info("connection lost while catching up: {error}", error=type(e).__name__)

    @defer.inlineCallbacks
    def _declare_contacts(self, _peer: str | None = None) -> Any:
        """Follow my contacts' presence; devices online that we do not know are checked."""
        try:
            for user_id, device_id in (yield self.presence.declare_contacts()):
                self.directory.check_device(user_id, device_id)
        except (TransportLost, Disconnected, ApplicationError) as e:
            if _peer is None:
                raise
            self.log.info("presence not declared: {e}", e=type(e).__name__)

    def _presence_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == uris.DEVICES_CHANGED:
            # A hint only: the list fetched (and verified) now says what changed.
            self.directory.refresh(self.me.user_id)
        elif kind == uris.PREKEYS_LOW:
            self.prekeys.refill(rotate_fallback=False)
        else:
            online = kind == uris.PEER_ONLINE
            user_id, device_id = event.get("user_id", ""), event.get("device_id", "")
            self.presence.device_changed(user_id, device_id, online)
            if online:
                self.directory.check_device(user_id, device_id)
                self.outbox.flush()

    # === my account's keys and devices =========================================================

    def set_pin(self, password: str, pin: str, cost: KdfCost | None = None) -> Deferred[None]:
        """Let `pin` unlock this account on this device instead of the master password,
        which must be given (and is checked). The PIN seals only this device's keys."""
        return account.set_pin(self._ctx, password, pin, cost)

    def remove_pin(self) -> Deferred[None]:
        return account.remove_pin(self._ctx)

    def change_password(self, old: str, new: str, cost: KdfCost | None = None,
                        ) -> Deferred[None]:
        """Checked here (WrongPassword), then on the relay; this device's keys are sealed
        under the new one. The PIN stays valid; other devices keep their own password."""
        return account.change_password(self._ctx, old, new, cost or KdfCost())

    def password_credentials(self, password: str) -> Deferred[Password]:
        """Credentials for a SCRAM login from this device, accepting only the parameters
        pinned here (client.scram_pinning)."""
        return account.password_credentials(self._ctx, password)

    def linked_devices(self) -> Deferred[list[LinkedDevice]]:
        return self.directory.linked_devices()

    def remove_device(self, device_id: str, password: str) -> Deferred[None]:
        return self.directory.remove_device(device_id, password)

    def device_notices(self) -> Deferred[list[DeviceNotice]]:
        """Devices added to my account that I have not acknowledged (oldest first)."""
        return self.store.device_notices()

    def dismiss_device_notice(self, device_id: str) -> Deferred[bool]:
        """"It was me": the notice of this new device goes."""
        return self.store.drop_device_notice(device_id)

    def approve_device(self, device_id: str) -> linking.Approval:
        """Compare codes with a new device asking for approval (DeviceApprovalRequested):
        `wait_code()`, then `confirm()` if both screens agree, else `reject()`."""
        return self.approvals.approve(device_id)

    def reject_device(self, device_id: str) -> None:
        """Refuse a new device that asked for approval: it is removed from the account."""
        approval = self.approvals.requests.get(device_id)
        if approval is None:
            raise ClientError("no device of this account is waiting for approval with this id")
        approval.reject()

    # === friends, trust =========================================================================

    def add_friend(self, email: str) -> Deferred[Request]:
        return self.friends.add(email)

    def accept_friend(self, peer_user_id: str) -> Deferred[Contact]:
        return self.friends.accept(peer_user_id)

    def deny_friend(self, peer_user_id: str) -> Deferred[None]:
        return self.friends.deny(peer_user_id)

    def requests(self) -> Deferred[list[Request]]:
        return self.friends.requests()

    def pending_requests(self, incoming_only: bool = False) -> Deferred[list[Request]]:
        return self.friends.pending(incoming_only)

    def block(self, peer_user_id: str, blocked: bool = True) -> Deferred[None]:
        return self.friends.block(peer_user_id, blocked)

    @defer.inlineCallbacks
    def lookup_account(self, email: str) -> Any:
        """Deferred[bool]: whether the relay has an account for `email` (NoSuchAccount if
        not); False when offline (unknown)."""
        session = self._ctx.session
        if session is None:
            return False
        try:
            yield session.call(uris.ACCOUNT_PUBLIC, user_id_for_email(email))
        except ApplicationError as e:
            if e.error == uris.ERR_NO_SUCH_ACCOUNT:
                raise NoSuchAccount(f"there is no account for {email}") from None
            raise
        return True

    def safety_number(self, peer_user_id: str) -> str:
        return self.trust.safety_number(peer_user_id)

    def safety_qr(self, peer_user_id: str) -> bytes:
        return self.trust.safety_qr(peer_user_id)

    def accept_identity_key(self, peer_user_id: str) -> Deferred[None]:
        return self.trust.accept_identity_key(peer_user_id)

    def set_verified(self, peer_user_id: str, verified: bool = True) -> Deferred[None]:
        return self.trust.set_verified(peer_user_id, verified)

    def set_alias(self, peer_user_id: str, alias: str | None) -> Deferred[None]:
        return self.trust.set_alias(peer_user_id, alias)

    def is_online(self, peer_user_id: str) -> bool:
        """Whether a contact is online on at least one device."""
        return self.presence.is_online(peer_user_id)

    # === messages =============================================================================

    def send_text(self, peer_user_id: str, text: str,
                  reply_to: str | None = None) -> Deferred[StoredMessage]:
        """Stored at once (pending, MessageSent), then sent (MessageUpdated)."""
        self.typing.message_sent(peer_user_id)  # the message ends "typing…" over there
        return self.conversations.send_text(peer_user_id, text, reply_to)

    def messages(self, peer_user_id: str, limit: int = 50,
                 before: tuple[int, str] | None = None,
                 after: tuple[int, str] | None = None) -> Deferred[list[StoredMessage]]:
        """A page of the conversation, oldest first (see messages.Messages.messages)."""
        return self.conversations.messages(peer_user_id, limit, before, after)

    def unread_count(self, peer_user_id: str) -> Deferred[int]:
        return self.conversations.unread_count(peer_user_id)

    def summaries(self) -> Deferred[dict[str, ConversationSummary]]:
        return self.conversations.summaries()

    def mark_read(self, peer_user_id: str) -> Deferred[list[str]]:
        return self.conversations.mark_read(peer_user_id)

    def delete_message(self, message_id: str) -> Deferred[None]:
        """Delete for me (this device only)."""
        return self.conversations.delete_message(message_id)

    def unsend_message(self, message_id: str) -> Deferred[None]:
        """Delete one of my messages for everyone."""
        return self.conversations.unsend_message(message_id)

    def send_typing(self, peer_user_id: str, typing: bool = True) -> Deferred[None]:
        """One typing frame now (ephemeral); `composing` applies the timing rules."""
        return self.typing.send(peer_user_id, typing)

    def composing(self, peer_user_id: str, draft: str) -> None:
        """The user edited the draft: "typing…" is shown to the peer as it should be."""
        self.typing.composing(peer_user_id, draft)

    def stopped_typing(self, peer_user_id: str) -> Deferred[None]:
        return self.typing.stopped(peer_user_id)

    def is_typing(self, peer_user_id: str) -> bool:
        """Whether a contact is typing to me now."""
        return self.typing.is_typing(peer_user_id)

    def flush_outbox(self) -> Deferred[None]:
        return self.outbox.flush()

    def outbox_entries(self) -> Deferred[set[int]]:
        """What waits in the outbox now (ids), for `handed_off`'s `since`."""
        return self.outbox.entries()

    def handed_off(self, since: set[int] | None = None) -> Deferred[bool]:
        """Flush, then whether everything queued (after the `since` entries) was taken
        by the relay."""
        return self.outbox.handed_off(since)
