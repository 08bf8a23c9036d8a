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
    message_actions  reactions and edits                         MessageActions (`actions`)
    search       full-text search of every conversation (FTS5)   MessageSearch (`search`)
    trust        safety numbers, verified marks, nicknames       Trust
    manifest     the same account on every device (MANIFEST)     AccountSync (`account_sync`)
    profiles     display names and avatars                       Profiles (`profiles`)
    files        encrypted file sharing (relay blob store)       FileTransfers (`files`)
    file_sync    files on devices linked later (MANIFEST)        FileSync (`file_sync`)
    vault, totp  the vault behind its local MFA code             Vault (`vault`), Mfa (`mfa`)
    backup       the encrypted backup file, and restoring it     (module functions)
    calls        voice and video calls through TURN (WebRTC)     Calls (`calls`)
    typing_indicator, presence, prekeys, linking (device approval), devices (notices)
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.account as account
import securechat.client.backup as backup
import securechat.client.events as ev
import securechat.client.linking as linking
from securechat.client.accountlock import AccountLock
from securechat.client.calls.service import Calls
from securechat.client.connection import ConnectionMachine
from securechat.client.context import ClientContext
from securechat.client.devices import LinkedDevice
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, nothing
from securechat.client.errors import ClientError, NotCaughtUp
from securechat.client.fanout import Fanout
from securechat.client.file_sync import FileSync
from securechat.client.files import FileTransfers
from securechat.client.friends import Friends
from securechat.client.inbox import Inbox
from securechat.client.manifest import AccountSync
from securechat.client.message_actions import MessageActions
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
from securechat.client.profiles import Profiles
from securechat.client.restore import RestoreEntryPoint
from securechat.client.screen_lock import ScreenLock
from securechat.client.search import MessageSearch
from securechat.client.sync import Sync
from securechat.client.totp import Mfa
from securechat.client.trust import Trust
from securechat.client.typing_indicator import TypingIndicator
from securechat.client.vault import Vault
from securechat.client.wamp import Password

STOP_PATIENCE = 3.0  # seconds stop() waits on the relay before dropping the connection
Deferred = defer.Deferred


class SecureChatClient(account.AccountEntryPoints, RestoreEntryPoint):
    """One account on one device (see the module docstring); made by the entry
    points it inherits: `register`, `login`, `link`, `open`, `open_with_pin`,
    `restore_backup`."""

    log = Logger()

    def __init__(self, ctx: ClientContext, lock: AccountLock) -> None:
        self._ctx = ctx
        self._lock = lock  # held until stop()
        self.reactor = ctx.reactor
        self.url = ctx.relay.url
        self.store = ctx.store
        self.events = ctx.events
        self.stop_patience = STOP_PATIENCE
        self.connection = ctx.connection = ConnectionMachine(
            ctx.reactor, lambda: ctx.relay.connect(ctx.device_key), lambda s: self.sync.run(s),
            ctx.events.emit)
        self.handlers = handlers = FrameHandlers(ctx)
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
        self.sync = Sync(ctx, self.connection, self.inbox, self.outbox, self.directory,
                         self.prekeys, self.presence)
        self.friends.contact_added += [self.sync.declare_contacts_quietly,
                                       self.inbox.replay_held]
        self.conversations = Messages(ctx, handlers, self.outbox)
        self.actions = MessageActions(ctx, handlers, self.outbox)  # reactions, edits
        self.search = MessageSearch(ctx)  # `search.messages(words)`: FTS5, every chat
        self.account_sync = AccountSync(ctx, handlers, self.outbox, self.directory,
                                        self.friends.contact_added)
        self.profiles = Profiles(ctx, handlers, self.outbox, self.friends.contact_added,
                                 self.account_sync)
        self.typing = TypingIndicator(ctx, handlers, self.fanout)
        self.mfa = Mfa(ctx)
        self.vault = Vault(ctx, self.mfa)
        self.screen_lock = ScreenLock(ctx)  # `screen_lock.check_password`: a soft lock
        self.calls = Calls(ctx, handlers, self.fanout, self.outbox, self.directory)
        self.files = FileTransfers(ctx, handlers, self.outbox, self.directory)
        self.file_sync = FileSync(ctx, self.files, self.account_sync)

    @defer.inlineCallbacks
    def _load(self) -> Any:
        ctx = self._ctx
        yield ctx.reload_contacts()
        self.account_sync.fresh = not ctx.contacts
        ctx.blocked = yield ctx.store.blocked()
        yield self.directory.load()
        yield self.profiles.load()

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
        than a few seconds: the connection is then dropped without a goodbye. Stopping
        a stopped client does nothing."""
        ctx = self._ctx
        if ctx.closed:
            return
        try:
            # What was stored need not come again: ack it, if the relay answers in time.
            yield self._within(self.inbox.settled())
            yield self.account_sync.settled()  # what it answers goes in the outbox
            yield self._within(self.inbox.flush_acks())
            self.approvals.stop()
            self.typing.stop()
            self.calls.stop()
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
            ctx.closed = True  # no new pushes from here: cancel the one waiting
            self.account_sync.stop()
            yield self.vault.close()  # locked with the app
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

    def create_backup(self, path: str, passphrase: str, password: str | None,
                      code: str | None = None,
                      progress: backup.Progress | None = None) -> Deferred[None]:
        """Write this account's encrypted backup to `path` (client.backup): it takes the
        master password, and the vault's MFA code when MFA is on."""
        return backup.create(self._ctx, self.vault, self.mfa, path, passphrase, password,
                             code, progress)

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

    def lookup_account(self, email: str) -> Deferred[bool]:
        """Whether the relay has an account for `email` (NoSuchAccount if not); False
        when offline (unknown)."""
        return self.friends.lookup_account(email)

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

    def set_notes(self, peer_user_id: str, notes: str | None) -> Deferred[None]:
        """Private notes about a contact: synced to my other devices, never sent to them."""
        return self.trust.set_notes(peer_user_id, notes)

    def notes(self, peer_user_id: str) -> Deferred[str | None]:
        return self.store.notes(peer_user_id)

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
