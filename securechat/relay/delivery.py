"""Sending envelopes to every device of a user, and each device's mailbox.

Every accepted envelope is written to the mailbox first (group-committed
with its neighbours), then pushed live to its device if online; it stays
until that device acks it or it expires. So the sender's RESULT means
"stored": it survives a relay crash or restart (SQLite WAL, synchronous=NORMAL;
a power cut may lose the last commits), and a device that drops off
mid-delivery gets it again from `sc.mailbox.fetch`: clients de-duplicate by
envelope id.

Ephemeral frames (call signaling, typing) go through `sc.message.send_live` instead:
the same checks, but pushed only to the devices' live sessions and never stored; the
answer lists the devices it reached (in a cluster, also those connected to other
nodes: the nodes that took it from Redis).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import attrs
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

from securechat.protocol import envelope, uris
from securechat.relay import arguments
from securechat.relay.context import Caller, RelayContext
from securechat.relay.errors import invalid, refuse
from securechat.relay.limits import after_take
from securechat.relay.records import Envelope, MailboxQuota
from securechat.relay.storage import MailboxFull, MailboxPage, StorageFull

MAX_ACK_IDS = 1000
ENVELOPE_OVERHEAD = 256  # bytes a serializer may add to an envelope's body in a page


# Envelope ids: 128 random bits each, unique but not secret (a device acks only its own
# mailbox), from a generator seeded by the OS: a system call per id cost the hot send
# path about 4% of the relay's time.
_ids = random.Random(os.urandom(32))  # noqa: S311 - unique ids, not secrets


@attrs.define
class FetchStats:
    """What mailbox fetches read from storage (the relay's memory per fetch)."""

    pages: int = 0
    bytes_read: int = 0  # envelope bodies loaded, in all
    largest_page: int = 0  # bytes of bodies the largest page loaded
    most_envelopes: int = 0  # envelopes in the largest page

    def read(self, page: MailboxPage) -> None:
        self.pages += 1
        self.bytes_read += page.size
        self.largest_page = max(self.largest_page, page.size)
        self.most_envelopes = max(self.most_envelopes, len(page.envelopes))


class Delivery:
    log = Logger()

    def __init__(self, ctx: RelayContext) -> None:
        self._ctx = ctx
        config = ctx.config
        self._accounts = ctx.buckets("account", config.account_rate, config.account_burst)
        self._quota = MailboxQuota(
            config.mailbox_max_count, config.mailbox_max_bytes, config.mailbox_sender_share,
            config.mailbox_stranger_count, config.mailbox_stranger_bytes,
            config.storage_max_bytes)
        self.stats = FetchStats()

    def procedures(self) -> dict[str, Any]:
        return {
            uris.MESSAGE_SEND: self.send,
            uris.MESSAGE_SEND_LIVE: self.send_live,
            uris.MAILBOX_FETCH: self.fetch,
            uris.MAILBOX_ACK: self.ack,
        }

    def send(self, caller: Caller, recipient: Any, envelopes: Any) -> defer.Deferred[Any]:
        """Fan one message out: an envelope per device of `recipient`, plus any of the
        sender's own other devices. The device set must match the relay's exactly."""
        # The hot path of the relay: plain callbacks, and no database read when the
        # device lists are cached.
        return self._checked(caller, recipient, envelopes, self._store)

    def _checked(self, caller: Caller, recipient: Any, envelopes: Any,
                 then: Callable[..., Any]) -> Any:
        """`then(device lists, parsed envelopes, ts)` once the envelopes are accepted,
        counted against the sender's rate, and match both users' device lists."""
        config = self._ctx.config
        sender, sender_device = caller.principal.user_id, caller.principal.device_id
        assert sender is not None and sender_device is not None
        arguments.user_id("recipient", recipient)
        if caller.principal.role == uris.ROLE_PENDING_DEVICE and recipient != sender:
            refuse(uris.ERR_DEVICE_PENDING, "this device is waiting for approval by another "
                   "device of its account: until then it may write only to its own account")
        arguments.listing("envelopes", envelopes, 2 * config.max_devices)
        if not envelopes:
            invalid("envelopes must not be empty")
        ts = self._ctx.now_ms()
        parsed = [self._envelope(e, sender, sender_device, ts) for e in envelopes]
        if len({e.device_id for e in parsed}) != len(parsed):
            invalid("each device may be listed once")
        return after_take(self._accounts.take(sender, len(envelopes)), lambda wait:
                          self._admitted(wait, parsed, recipient, sender, sender_device, ts,
                                         then))

    def _admitted(self, wait: float, parsed: list[Envelope], recipient: str, sender: str,
                  sender_device: str, ts: int, then: Callable[..., Any],
                  ) -> defer.Deferred[Any]:
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "this account is sending too fast",
                   retry_after=round(wait, 3))
        directory = self._ctx.directory
        d = defer.gatherResults([directory.devices(recipient), directory.devices(sender)])
        d.addCallback(self._matched, parsed, sender_device, ts, recipient == sender, then,
                      (recipient, sender) if self._ctx.clustered else None)
        return d

    def _matched(self, device_lists: list[Any], parsed: list[Envelope], sender_device: str,
                 ts: int, to_own: bool, then: Callable[..., Any],
                 cached: tuple[str, str] | None) -> Any:
        try:
            self._check_devices(device_lists, parsed, sender_device, to_own)
        except ApplicationError:
            if cached is None:
                raise
            # In a cluster the lists may be cached from before a change made on another
            # node (its notice still on its way): read them again once before refusing.
            directory = self._ctx.directory
            for user_id in cached:
                directory.forget_devices(user_id, tell=False)
            d = defer.gatherResults([directory.devices(u) for u in cached])
            return d.addCallback(self._matched, parsed, sender_device, ts, to_own, then, None)
        return then(device_lists, parsed, ts)

    # --- ephemeral frames (call signaling, typing): live only, never stored ----------------

    def send_live(self, caller: Caller, recipient: Any, envelopes: Any) -> defer.Deferred[Any]:
        """`sc.message.send_live`: like `send` (the same checks, device set and rate), but
        each envelope is only pushed to its device's live sessions, never written to a
        mailbox: a device that is offline never gets it. Answers which devices got it."""
        return self._checked(caller, recipient, envelopes, self._push_live)

    def _push_live(self, _device_lists: list[Any], parsed: list[Envelope], ts: int,
                   ) -> Any:
        push = self._ctx.push_reaching or self._ctx.push
        reached = [push(uris.inbox_topic(e.device_id), [e.event()]) for e in parsed]
        if not any(isinstance(r, defer.Deferred) for r in reached):
            return self._delivered_live(reached, parsed, ts)  # one node: no waiting
        # In a cluster, a device connected to another node counts once a node took the
        # frame from Redis for it.
        d = defer.gatherResults([r if isinstance(r, defer.Deferred) else defer.succeed(r)
                                 for r in reached], consumeErrors=True)
        return d.addCallback(self._delivered_live, parsed, ts)

    @staticmethod
    def _delivered_live(reached: list[int], parsed: list[Envelope], ts: int,
                        ) -> dict[str, Any]:
        delivered = sorted(e.device_id for e, r in zip(parsed, reached, strict=True) if r)
        return {"ts": ts, "delivered": delivered}

    def _store(self, device_lists: list[Any], parsed: list[Envelope], ts: int,
               ) -> defer.Deferred[Any]:
        config = self._ctx.config
        owners = {d.device_id: d.user_id for devices in device_lists for d in devices}
        d = self._ctx.storage.store_envelopes(
            parsed, ts + int(config.mailbox_ttl * 1000), self._quota, owners)
        d.addCallbacks(self._stored, self._not_stored, callbackArgs=(parsed, ts))
        return d

    @staticmethod
    def _check_devices(device_lists: list[Any], parsed: list[Envelope], sender_device: str,
                       to_own: bool) -> None:
        """Refuse unless `parsed` goes to exactly the recipient's devices (and perhaps
        the sender's own others): device lists [recipient's, sender's]."""
        own_devices = {d.device_id for d in device_lists[1]}
        if sender_device not in own_devices:
            # Removed while this session was still open (H6): it may not send any more.
            refuse(uris.ERR_NO_SUCH_DEVICE, "the sending device has been removed")
        # A pending device (not approved by its account yet) receives from its own
        # account only; a device writing to its own account (the approval of a new
        # device) addresses the devices it means, so none is required.
        recipient_devices = {d.device_id for d in device_lists[0] if not d.pending}
        if not recipient_devices and not to_own:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id has devices")
        allowed = (recipient_devices | own_devices) - {sender_device}
        targets = {e.device_id for e in parsed}
        missing = [] if to_own else sorted(recipient_devices - {sender_device} - targets)
        unknown = sorted(targets - allowed)
        if missing or unknown:
            refuse(uris.ERR_DEVICE_MISMATCH,
                   "the envelopes do not match the recipient's devices",
                   missing=missing, unknown=unknown)

    def _stored(self, _: None, parsed: list[Envelope], ts: int) -> dict[str, Any]:
        for stored in parsed:
            self._ctx.push(uris.inbox_topic(stored.device_id), [stored.event()])
        return {"ts": ts, "ids": {e.device_id: e.id for e in parsed}}

    @staticmethod
    def _not_stored(failure: Any) -> None:
        if failure.check(StorageFull):
            refuse(uris.ERR_STORAGE_FULL, "the relay cannot store more messages now")
        full = failure.trap(MailboxFull) and failure.value
        if full.sender_share:
            refuse(uris.ERR_MAILBOX_FULL, "you have filled your share of a recipient "
                   "device's mailbox: wait until it fetches", device_id=full.device_id,
                   sender_share=True)
        refuse(uris.ERR_MAILBOX_FULL, "a recipient device's mailbox is full",
               device_id=full.device_id)

    def _envelope(self, raw: Any, sender: str, sender_device: str, ts: int) -> Envelope:
        e = arguments.mapping("envelopes[]", raw)
        body = e.get("body")
        most = self._ctx.config.max_envelope_bytes
        if type(body) in (bytes, str) and arguments.size(body) > most:
            refuse(uris.ERR_PAYLOAD_TOO_LARGE, f"an envelope may carry at most {most} bytes",
                   max_bytes=most)
        if type(body) is str and not (body.isascii() and body.isprintable()):
            # JSON clients send base64 text; anything else could expand several-fold
            # when escaped for a JSON recipient and no longer fit in one message.
            invalid("a string envelope body must be printable ASCII (base64)")
        return Envelope(
            id=f"{_ids.getrandbits(128):032x}",
            device_id=arguments.device_id("envelopes[].device_id", e.get("device_id")),
            from_user=sender,
            from_device=sender_device,
            ts=ts,
            v=arguments.integer("envelopes[].v", e.get("v"), envelope.VERSION_MIN,
                                envelope.VERSION_MAX),
            alg=arguments.text("envelopes[].alg", e.get("alg"), envelope.ALG_MAX_LENGTH),
            type=arguments.integer("envelopes[].type", e.get("type"), envelope.TYPE_MIN,
                                   envelope.TYPE_MAX),
            body=arguments.blob("envelopes[].body", body, self._ctx.config.max_envelope_bytes),
        )

    @defer.inlineCallbacks
    def fetch(self, caller: Caller, limit: Any = None) -> Any:
        """The oldest unacknowledged envelopes of this device, a page at a time.

        A session's fetches run one after another, each once the previous page has
        left its socket: however many a client pipelines, and whether it reads or
        not, the relay holds about one page of bodies for it (H5).
        """
        most = self._ctx.config.mailbox_fetch_limit
        limit = most if limit is None else arguments.integer("limit", limit, 1, most)
        session = self._ctx.sessions.get(caller.session_id)
        if session is None:
            return {"envelopes": [], "more": True}  # it left: nobody gets this answer
        yield session.fetching.acquire()
        try:
            yield session.drained()
            if not session.welcomed or session.id not in self._ctx.sessions:
                return {"envelopes": [], "more": True}
            # A page must fit in one WebSocket message, whatever the serializer adds.
            page = yield self._ctx.storage.fetch_mailbox(
                caller.principal.device_id, self._ctx.now_ms(), limit,
                self._ctx.config.max_message_bytes // 2, ENVELOPE_OVERHEAD)
        finally:
            session.fetching.release()
        self.stats.read(page)
        return {"envelopes": [e.event() for e in page.envelopes], "more": page.more}

    def ack(self, caller: Caller, ids: Any) -> defer.Deferred[int]:
        """Delete delivered envelopes of this device; returns how many were deleted."""
        arguments.listing("ids", ids, MAX_ACK_IDS)
        for i in ids:
            arguments.text("ids[]", i, envelope.ID_MAX_LENGTH)
        return self._ctx.storage.ack(caller.principal.device_id, ids)

    @defer.inlineCallbacks
    def purge(self) -> Any:
        gone = yield self._ctx.storage.purge_expired(self._ctx.now_ms())
        if gone:
            self.log.info("purged {count} expired envelopes", count=gone)
        return gone
