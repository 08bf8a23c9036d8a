"""Conversations: text messages, ticks (delivery and read receipts), deleting, unsending.

A message I send is stored at once (pending) and queued; my other devices get a copy.
A message I receive is stored with its envelope, and a delivery receipt follows after
a short gathering delay (one receipt for a burst, per contact). Reading a conversation
sends a read receipt, and my other devices mark the same messages read.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.events as ev
import securechat.client.storage as storage
from securechat.client.clock import message_timestamp
from securechat.client.context import ClientContext, now_ms
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError
from securechat.client.model import (
    Contact,
    ConversationSummary,
    MessageStatus,
    MessageType,
    Sender,
    StoredMessage,
    new_message_id,
)
from securechat.client.outbox import Outbox
from securechat.protocol import frames
from securechat.protocol.frames import Frame

RECEIPT_DELAY = 0.05  # seconds delivery receipts wait to be sent together
MAX_RECEIPT_IDS = 500


class Messages:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, outbox: Outbox) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._receipts: dict[str, list[str]] = {}  # peer -> delivered ids not yet receipted
        self._receipt_call: Any = None
        handlers.register(frames.MSG, self._msg)
        handlers.register(frames.RECEIPT, self._receipt)
        handlers.register(frames.DELETE, self._delete)

    # --- what the user does --------------------------------------------------------------

    @defer.inlineCallbacks
    def send_text(self, peer_user_id: str, text: str, reply_to: str | None = None) -> Any:
        """Deferred[StoredMessage]: stored at once (pending, shown), then sent."""
        contact = self._ctx.contact(peer_user_id)
        if not text.strip():
            raise ClientError("the message is empty")
        if len(text) > frames.MAX_TEXT:
            raise ClientError("the message is too long")
        now = now_ms()
        message = StoredMessage(new_message_id(now), contact.sid, Sender.ME, text,
                                MessageType.TEXT, now, MessageStatus.PENDING, True, reply_to)
        frame = Frame(frames.MSG, contact.sid, {"id": message.id, "text": text,
                                                "timestamp": message.timestamp,
                                                "replyTo": reply_to})
        yield self._outbox.queue(peer_user_id, frame, message)
        return message

    def messages(self, peer_user_id: str, limit: int = 50,
                 before: tuple[int, str] | None = None,
                 after: tuple[int, str] | None = None) -> defer.Deferred[list[StoredMessage]]:
        """A page of the conversation, oldest first: the newest `limit` messages (before
        the (timestamp, id) key `before`, if given), or the oldest `limit` after `after`."""
        return self._ctx.store.messages(self._ctx.contact(peer_user_id).sid, limit, before,
                                        after)

    def unread_count(self, peer_user_id: str) -> defer.Deferred[int]:
        return self._ctx.store.unread_count(self._ctx.contact(peer_user_id).sid)

    @defer.inlineCallbacks
    def summaries(self) -> Any:
        """Deferred[{contact user id: ConversationSummary}]: what the conversation list
        shows, in one query however many conversations there are."""
        by_sid = yield self._ctx.store.summaries()
        return {peer: ConversationSummary(*by_sid.get(c.sid, (None, 0)))
                for peer, c in self._ctx.contacts.items()}

    @defer.inlineCallbacks
    def mark_read(self, peer_user_id: str) -> Any:
        """Deferred[list[str]]: mark the conversation read and send a read receipt for
        what was unread; my other devices get a copy and mark the same messages read."""
        contact = self._ctx.contact(peer_user_id)
        ids = yield self._ctx.store.mark_read(contact.sid)
        if ids:
            yield self._outbox.queue(peer_user_id, Frame(
                frames.RECEIPT, contact.sid, {"ids": ids, "status": frames.RECEIPT_READ}))
        return ids

    @defer.inlineCallbacks
    def delete_message(self, message_id: str) -> Any:
        """Delete a message on this device only ("delete for me"), mine or theirs."""
        message = yield self._ctx.store.message(message_id)
        if message is None:
            raise ClientError("no such message")
        yield self._ctx.store.delete_message(message_id, message.sid, message.sender)
        yield self._deleted(message_id, message.sid)

    @defer.inlineCallbacks
    def unsend_message(self, message_id: str) -> Any:
        """Delete one of my messages for everyone: here, on my other devices and on the
        recipient's. A marker stays in its place on every side ("This message was
        deleted"), its text, reactions and edit history wiped (docs/protocol.md §9.7)."""
        message = yield self._ctx.store.message(message_id)
        if message is None:
            raise ClientError("no such message")
        if not message.from_me:
            raise ClientError("only your own messages can be unsent")
        if message.type == MessageType.DELETED:
            raise ClientError("this message was already unsent")
        peer = self._ctx.peer_of(message.sid)
        if peer is None:
            raise ClientError("this conversation is gone")
        marker = yield self._ctx.store.unsend_message(message_id, message.sid, message.sender)
        yield self._deleted(message_id, message.sid, marker)
        yield self._outbox.queue(peer, Frame(frames.DELETE, message.sid, {"id": message_id}))

    # --- receipts ------------------------------------------------------------------------

    def _received(self, message: StoredMessage, contact: Contact) -> defer.Deferred[None]:
        self._ctx.events.emit(ev.MessageReceived(message, contact.peer_user_id))
        # Delivery receipts are gathered for a moment and sent as one frame per
        # contact: a burst of messages costs one receipt, not one each.
        self._receipts.setdefault(contact.peer_user_id, []).append(message.id)
        if self._receipt_call is None or not self._receipt_call.active():
            self._receipt_call = self._ctx.reactor.callLater(RECEIPT_DELAY,
                                                             self.send_receipts)
        return defer.succeed(None)

    def send_receipts(self) -> defer.Deferred[Any]:
        """Queue the gathered delivery receipts; fires once they are in the outbox."""
        if self._receipt_call is not None and self._receipt_call.active():
            self._receipt_call.cancel()
        pending, self._receipts = self._receipts, {}
        queued = []
        for peer, ids in pending.items():
            contact = self._ctx.contacts.get(peer)
            if contact is None:
                continue
            for start in range(0, len(ids), MAX_RECEIPT_IDS):
                queued.append(self._outbox.queue(peer, Frame(frames.RECEIPT, contact.sid, {
                    "ids": ids[start:start + MAX_RECEIPT_IDS],
                    "status": frames.RECEIPT_DELIVERED}), copy_to_own=False).addErrback(
                    lambda f: self.log.failure("queueing a receipt failed", f)))
        return defer.gatherResults(queued)

    @property
    def receipts_waiting(self) -> bool:
        return bool(self._receipts)

    # --- frames --------------------------------------------------------------------------

    def _msg(self, frame: Frame, origin: Origin) -> Outcome:
        data, contact = frame.data, origin.contact
        assert contact is not None  # dispatch: a contact's conversation
        from_me = origin.from_me
        message = StoredMessage(data["id"], contact.sid, Sender.ME if from_me else Sender.OTHER,
                                data["text"], MessageType.TEXT,
                                message_timestamp(data["timestamp"], origin.relay_ts),
                                MessageStatus.SENT if from_me else MessageStatus.DELIVERED,
                                from_me, data["replyTo"])
        if from_me:
            return Outcome(message, notify=lambda: self._ctx.emit(
                ev.MessageSent(message, contact.peer_user_id)))
        return Outcome(message, notify=lambda: self._received(message, contact))

    def _receipt(self, frame: Frame, origin: Origin) -> Outcome:
        data, contact = frame.data, origin.contact
        assert contact is not None
        changed: list[str] = []
        if not origin.from_me:
            status = (MessageStatus.READ if data["status"] == frames.RECEIPT_READ
                      else MessageStatus.DELIVERED)
            return Outcome(
                effect=lambda c: changed.extend(
                    storage.raise_status(c, contact.sid, data["ids"], status)),
                notify=lambda: self._ticked(contact, changed, status))
        if data["status"] == frames.RECEIPT_READ:
            # I read their messages on another device: they are read here too.
            return Outcome(
                effect=lambda c: changed.extend(
                    storage.mark_ids_read(c, contact.sid, data["ids"])),
                notify=lambda: self._read_elsewhere(contact, changed))
        return Outcome()

    def _delete(self, frame: Frame, origin: Origin) -> Outcome:
        contact = origin.contact
        assert contact is not None
        sender = Sender.ME if origin.from_me else Sender.OTHER
        message_id = frame.data["id"]
        # A DELETE is always an unsend (delete for me tells no one, and my other devices
        # learn it from a MANIFEST): the sender's message stays as a marker.
        markers: list[StoredMessage | None] = []
        return Outcome(
            effect=lambda c: markers.append(
                storage.unsend_message(c, message_id, contact.sid, sender,
                                       self._ctx.store.clock())),
            notify=lambda: self._deleted(message_id, contact.sid, markers[0])
            if markers and markers[0] is not None else defer.succeed(None))

    def _ticked(self, contact: Contact, ids: list[str],
                status: MessageStatus) -> defer.Deferred[None]:
        for message_id in ids:
            self._ctx.events.emit(ev.MessageUpdated(message_id, status, contact.peer_user_id))
        return defer.succeed(None)

    @defer.inlineCallbacks
    def _read_elsewhere(self, contact: Contact, read: list[str]) -> Any:
        if read:
            self._ctx.events.emit(ev.MessagesRead(contact.peer_user_id, contact.sid,
                                                  tuple(read)))
            yield self._conversation_changed(contact.sid)

    @defer.inlineCallbacks
    def _deleted(self, message_id: str, sid: str,
                 marker: StoredMessage | None = None) -> Any:
        peer = self._ctx.peer_of(sid) or ""
        self._ctx.events.emit(ev.MessageDeleted(message_id, sid, peer, marker))
        yield self._conversation_changed(sid)

    @defer.inlineCallbacks
    def _conversation_changed(self, sid: str) -> Any:
        peer = self._ctx.peer_of(sid)
        if peer is not None:
            last, unread = yield self._ctx.store.summary(sid)
            self._ctx.events.emit(ev.ConversationChanged(peer, ConversationSummary(last,
                                                                                  unread)))
