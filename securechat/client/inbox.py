"""What arrives: envelopes from the relay, decrypted, checked and handed to the features.

One envelope at a time, in order (`ctx.inbound`): drop a replay, check the sender
device and the crypto version, decrypt, check the binding inside (the relay chooses
`from_user`/`from_device`; the plaintext must agree), then ask the frame-handler table
(`dispatch.FrameHandlers`) what the frame means. Its state changes are applied before
the envelope is marked handled, in one transaction with the new Olm state and any
message; the UI is told once that commits, while the next envelope is handled
(commits stay in order). Acks go to the relay in batches, only for what is stored.
Nothing a sender can put in an envelope stops the queue behind it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.events as ev
import securechat.client.linking as linking
from securechat.client.clock import relay_timestamp
from securechat.client.context import ClientContext, now_ms
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import IdentityKeyChangedError
from securechat.client.fanout import Fanout
from securechat.client.olm import ALG, CRYPTO_VERSION, DecryptionFailed
from securechat.client.outbox import Outbox
from securechat.client.prekeys import PrekeyPublisher
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame

RECENT_ENVELOPES = 4096  # envelope ids remembered in memory (the database has them all)
ACK_DELAY = 0.05  # seconds acks wait to be sent together
MAX_ACK_IDS = 1000
UNWEDGE_INTERVAL = 600.0  # seconds between two fresh sessions for the same device
DEVICE_RECHECK = 60.0  # seconds between two re-reads of a sender's devices on failure


class Inbox:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers,
                 directory: DeviceDirectory, fanout: Fanout, outbox: Outbox,
                 prekeys: PrekeyPublisher,
                 approval_envelope: Callable[[dict[str, Any]], defer.Deferred[Any]]) -> None:
        self._ctx = ctx
        self._handlers = handlers
        self._directory = directory
        self._fanout = fanout
        self._outbox = outbox
        self._prekeys = prekeys
        self._approval_envelope = approval_envelope
        self._recent: set[str] = set()  # envelope ids handled by this process
        self._committing: dict[str, defer.Deferred[Any]] = {}  # id -> its write, until done
        self._recent_order: collections.deque[str] = collections.deque()
        self._acks: list[str] = []
        self._ack_call: Any = None
        self._unwedged_at: dict[tuple[str, str], float] = {}
        self._devices_checked: dict[str, float] = {}  # user -> when its devices were re-read
        handlers.register(frames.DUMMY, self._session_restarted, strangers="drop")

    def arrived(self, envelope: dict[str, Any]) -> None:
        """A live envelope (the inbox topic): new unless this process handled it already;
        the database's own check covers anything older."""
        self._ctx.inbound.run(self.receive, envelope, False).addErrback(
            lambda f: self.log.failure("handling an envelope failed", f))

    @defer.inlineCallbacks
    def drain_mailbox(self) -> Any:
        """Fetch and handle what the relay kept for this device while it was away."""
        while True:
            session = self._ctx.session
            if session is None:
                raise TransportLost()
            page = yield session.call(uris.MAILBOX_FETCH)
            for envelope in page["envelopes"]:
                yield self._ctx.inbound.run(self.receive, envelope)
            yield self.settled()
            yield self.flush_acks()  # before the next page, or it would be this one
            if not page["more"]:
                return

    @defer.inlineCallbacks
    def receive(self, envelope: dict[str, Any], check_store: bool = True) -> Any:
        """Handle one envelope (under `ctx.inbound`)."""
        ctx = self._ctx
        envelope_id = str(envelope.get("id"))
        sender, device_id = envelope.get("from_user", ""), envelope.get("from_device", "")
        if envelope_id in self._recent or (check_store and (yield ctx.store.seen(envelope_id))):
            # A replay or a re-delivery, handled once already: acked once that is stored.
            committing = self._committing.get(envelope_id)
            if committing is None:
                self._ack(envelope_id)
            else:
                committing.addCallback(lambda _: self._ack(envelope_id))
            return
        self._remember(envelope_id)
        if envelope.get("alg") == linking.ALG:  # a new device of mine asking for approval
            try:
                yield self._approval_envelope(envelope)
            except Exception:  # a frame we cannot use must not stop the queue behind it
                self.log.failure("handling a device-approval frame failed")
            yield self._mark_handled(envelope_id)
            return
        if sender in ctx.blocked:
            yield self._mark_handled(envelope_id)
            return
        if envelope.get("alg") != ALG or envelope.get("v") != CRYPTO_VERSION:
            yield self._reject(envelope_id, sender, "unsupported crypto version or algorithm")
            return
        identity_key = self._directory.devices.get(sender, {}).get(device_id)  # no detour
        if identity_key is None:
            identity_key = yield self._directory.sender_identity_key(sender, device_id)
        if identity_key is None:
            yield self._reject(envelope_id, sender, "the sending device is not verified")
            return
        body = envelope.get("body")
        if not isinstance(body, bytes):
            yield self._reject(envelope_id, sender, "the ciphertext is not binary")
            return
        try:
            plaintext, account_changed, identity_key = yield self._decrypt(
                sender, device_id, identity_key, _message_type(envelope), body)
        except DecryptionFailed as e:
            yield self._reject(envelope_id, sender, f"decryption failed: {e}")
            self._recover_session(sender, device_id)
            return
        if account_changed:
            # A one-time key was used up, or the fallback key: replace what went.
            ctx.reactor.callLater(0, self._prekeys.refill)
        try:
            frame, binding = frames.parse_bound(plaintext)
            binding.check(frames.Binding(sender, device_id, identity_key, ctx.me.user_id,
                                         ctx.me.device_id, ctx.olm.identity_key))
            outcome = self._handlers.interpret(frame, sender, device_id,
                                               relay_timestamp(envelope))
            # State changes first: if we crash before the envelope is marked handled,
            # it is decrypted again from the older pickle and they are re-applied.
            yield outcome.apply()
        except Exception as e:  # a frame that cannot be handled must not wedge the queue
            if not isinstance(e, frames.InvalidFrame):
                self.log.failure("handling a frame failed")
            yield ctx.store.receive(envelope_id, now_ms(),
                                    ctx.olm.pickle_sessions(sender, device_id),
                                    ctx.olm.pickle_account() if account_changed else None,
                                    None)
            yield self._reject(envelope_id, sender, f"invalid frame: {e}", stored=True)
            return
        # The pickles are taken as the write is queued (so the database never goes back
        # to an older ratchet than one it holds), and the next envelope is handled while
        # this one commits: the database thread commits a burst of them at once. Writes
        # commit in order, so a crash leaves a prefix of them stored; the ack and the
        # event follow the commit.
        write = ctx.store.receive(
            envelope_id, now_ms(), ctx.olm.pickle_sessions(sender, device_id),
            ctx.olm.pickle_account() if account_changed else None, outcome.message,
            outcome.effect)
        self._committing[envelope_id] = committed = defer.Deferred()
        write.addBoth(self._committed, envelope_id, committed)
        write.addCallback(self._stored, envelope_id, outcome).addErrback(
            lambda f: self.log.failure("storing an envelope failed", f))

    def _committed(self, result: Any, envelope_id: str,
                   committed: defer.Deferred[None]) -> Any:
        del self._committing[envelope_id]
        if isinstance(result, Failure):
            self._recent.discard(envelope_id)  # not stored: when it comes again, anew
        else:
            committed.callback(None)  # copies that came meanwhile are acked now
        return result

    def _stored(self, stored: bool, envelope_id: str, outcome: Outcome) -> Any:
        self._ack(envelope_id)
        # A message stored already (sent again after a crash) is not shown again.
        return outcome.notify() if stored else None

    def settled(self) -> defer.Deferred[Any]:
        """Fires once every envelope handled so far is stored (and its ack queued)."""
        return self._ctx.inbound.run(lambda: self._ctx.store.run(lambda conn: None))

    @defer.inlineCallbacks
    def replay_held(self, peer: str) -> Any:
        """Frames held from `peer` while they were not a contact here: handle them now."""
        store = self._ctx.store
        for held in (yield store.take_held(peer)):
            outcome = self._handlers.interpret(frames.parse(held), peer)
            yield outcome.apply()
            if outcome.effect is not None:
                yield store.run(outcome.effect)
            if outcome.message is not None and not (yield store.add_message(outcome.message)):
                continue  # a copy of a message stored already: shown once
            yield outcome.notify()

    def _remember(self, envelope_id: str) -> None:
        self._recent.add(envelope_id)
        self._recent_order.append(envelope_id)
        if len(self._recent_order) > RECENT_ENVELOPES:
            self._recent.discard(self._recent_order.popleft())

    @defer.inlineCallbacks
    def _decrypt(self, sender: str, device_id: str, identity_key: str, message_type: int,
                 body: bytes) -> Any:
        """(plaintext, account changed, the sender device's key). When nothing decrypts,
        the device may have been enrolled again with new keys: look at its user's
        devices again (at most once a minute per user) and, if its key changed, retry."""
        olm = self._ctx.olm
        try:
            plaintext, account_changed = olm.decrypt(sender, device_id, identity_key,
                                                     message_type, body)
            return plaintext, account_changed, identity_key
        except DecryptionFailed as e:
            failed = e
        now = self._ctx.reactor.seconds()
        if (self._ctx.session is None
                or now - self._devices_checked.get(sender, -DEVICE_RECHECK) < DEVICE_RECHECK):
            raise failed
        self._devices_checked[sender] = now
        try:
            devices = yield self._directory.devices_of(sender, refresh=True)
        except (IdentityKeyChangedError, ApplicationError, TransportLost):
            raise failed from None
        newer = devices.get(device_id)
        if newer is None or newer == identity_key:
            raise failed
        plaintext, account_changed = olm.decrypt(sender, device_id, newer, message_type, body)
        return plaintext, account_changed, newer

    def _recover_session(self, user_id: str, device_id: str) -> None:
        """A device of a contact (or mine) sent what no session decrypts: its state and
        ours parted (a restore, a lost pickle). Start a fresh session and send it an
        empty frame, so its next messages come in a session we both have."""
        ctx = self._ctx
        if user_id != ctx.me.user_id and user_id not in ctx.contacts:
            return  # strangers get nothing, not even a claimed one-time key
        peer = (user_id, device_id)
        now = ctx.reactor.seconds()
        if now - self._unwedged_at.get(peer, -UNWEDGE_INTERVAL) < UNWEDGE_INTERVAL:
            return
        self._unwedged_at[peer] = now
        self._fanout.restart_session(user_id, device_id)
        contact = ctx.contacts.get(user_id)
        self.log.info("starting a fresh session with a device that cannot decrypt")
        self._outbox.queue(user_id, Frame(frames.DUMMY, contact.sid if contact else "", {}),
                           copy_to_own=False).addErrback(
            lambda f: self.log.failure("queueing a session restart failed", f))

    def _session_restarted(self, frame: Frame, origin: Origin) -> Outcome:
        """A DUMMY: its sender could not decrypt us and started a fresh session."""
        if origin.from_me:
            return Outcome()
        return Outcome(notify=lambda: self._ctx.emit(ev.SessionReset(origin.sender)))

    @defer.inlineCallbacks
    def _mark_handled(self, envelope_id: str) -> Any:
        yield self._ctx.store.receive(envelope_id, now_ms(), None, None, None)
        self._ack(envelope_id)

    @defer.inlineCallbacks
    def _reject(self, envelope_id: str, sender: str, reason: str, stored: bool = False) -> Any:
        self.log.warn("rejected envelope {id}: {reason}", id=envelope_id, reason=reason)
        if not stored:
            yield self._ctx.store.receive(envelope_id, now_ms(), None, None, None)
        self._ack(envelope_id)
        self._ctx.events.emit(ev.EnvelopeRejected(envelope_id, sender, reason))

    # --- acks are batched: the relay deletes an envelope only after we stored it --------

    def _ack(self, envelope_id: str) -> None:
        self._acks.append(envelope_id)
        if self._ack_call is None or not self._ack_call.active():
            self._ack_call = self._ctx.reactor.callLater(ACK_DELAY, self._ack_timer_fired)

    def _ack_timer_fired(self) -> None:
        self.flush_acks()  # its Deferred never fails: nothing to keep

    @defer.inlineCallbacks
    def flush_acks(self) -> Any:
        """Ack what was stored, now. Never fails: unacked envelopes come again from the
        mailbox and are skipped."""
        while self._acks:
            ids, self._acks = self._acks[:MAX_ACK_IDS], self._acks[MAX_ACK_IDS:]
            session = self._ctx.session
            if session is None:
                return
            try:
                yield session.call(uris.MAILBOX_ACK, ids)
            except (ApplicationError, TransportLost, Disconnected) as e:
                self.log.info("ack failed; the relay will re-deliver: {e}", e=type(e).__name__)
                return

    def cancel_acks(self) -> None:
        """Stopping: unacked envelopes come again at the next start and are skipped."""
        if self._ack_call is not None and self._ack_call.active():
            self._ack_call.cancel()


def _message_type(envelope: dict[str, Any]) -> int:
    """The envelope's Olm message type; -1 (which nothing decrypts) if it is not an int."""
    kind = envelope.get("type")
    return kind if type(kind) is int else -1
