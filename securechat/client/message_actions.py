"""Reactions and edits: what one does to a message after it was sent
(docs/protocol.md §9.7.2).

`react(message_id, emoji)` puts my one reaction on any message of a conversation (""
takes it back); `edit(message_id, text)` gives one of my own text messages a new text,
keeping every earlier version (`versions`). Each is applied here at once, then sent to
the contact as a `REACTION` or `EDIT` frame, with copies to my other devices.

Received, a frame applies only to a message of the conversation it came in, and an
`EDIT` only to a message its sender wrote: a stranger has no conversation (the frame is
dropped), another contact's frame names a message that is not in theirs, and the
other side cannot edit mine. Both carry the sender's time: a late, older one never
undoes a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet import defer

import securechat.client.events as ev
import securechat.client.storage.message_extras as extras
from securechat.client.context import ClientContext, now_ms
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError
from securechat.client.model import MessageType, Sender, StoredMessage
from securechat.client.outbox import Outbox
from securechat.protocol import frames
from securechat.protocol.frames import Frame, InvalidFrame

MessageExtras = extras.MessageExtras


class MessageActions:
    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, outbox: Outbox) -> None:
        self._ctx = ctx
        self._outbox = outbox
        handlers.register(frames.REACTION, self._reaction_frame, strangers="drop")
        handlers.register(frames.EDIT, self._edit_frame, strangers="drop")

    # --- what the user does ----------------------------------------------------------------

    @defer.inlineCallbacks
    def react(self, message_id: str, emoji: str) -> Any:
        """Deferred[None]: my reaction to a message ("" takes it back)."""
        try:
            frames.check_reaction(emoji)
        except InvalidFrame:
            raise ClientError("a reaction is one emoji") from None
        message, peer = yield self._message(message_id)
        at = now_ms()
        changed = yield self._ctx.store.run(extras.apply_reaction, message.sid, message_id,
                                            Sender.ME, emoji, at)
        if changed:
            self._ctx.emit(ev.ReactionChanged(message_id, message.sid, peer, Sender.ME, emoji))
        yield self._outbox.queue(peer, Frame(frames.REACTION, message.sid, {
            "id": message_id, "emoji": emoji, "timestamp": at}))

    @defer.inlineCallbacks
    def edit(self, message_id: str, text: str) -> Any:
        """Deferred[None]: a new text for one of my text messages."""
        if not text.strip():
            raise ClientError("the message is empty")
        if len(text) > frames.MAX_TEXT:
            raise ClientError("the message is too long")
        message, peer = yield self._message(message_id)
        if not message.from_me:
            raise ClientError("only your own messages can be edited")
        at = now_ms()
        shown = yield self._ctx.store.run(extras.apply_edit, message.sid, message_id,
                                          Sender.ME, text, at)
        if shown is None:
            raise ClientError("only text messages can be edited")
        self._ctx.emit(ev.MessageEdited(message_id, message.sid, peer, shown))
        yield self._outbox.queue(peer, Frame(frames.EDIT, message.sid, {
            "id": message_id, "text": text, "timestamp": at}))

    def extras(self, peer_user_id: str,
               message_ids: Sequence[str]) -> defer.Deferred[dict[str, MessageExtras]]:
        """Reactions and the edited mark of those messages of a conversation that have
        any (what a conversation view shows beside a page of messages)."""
        return self._ctx.store.run(extras.extras, self._ctx.contact(peer_user_id).sid,
                                   list(message_ids))

    def versions(self, message_id: str) -> defer.Deferred[list[tuple[int, str]]]:
        """Every version of an edited message, the original first: (time in ms, text);
        [] if it was never edited."""
        return self._ctx.store.run(extras.versions, message_id)

    @defer.inlineCallbacks
    def _message(self, message_id: str) -> Any:
        message: StoredMessage | None = yield self._ctx.store.message(message_id)
        if message is None or message.sender not in (Sender.ME, Sender.OTHER):
            raise ClientError("no such message")
        if message.type == MessageType.DELETED:
            raise ClientError("this message was deleted")
        peer = self._ctx.peer_of(message.sid)
        if peer is None:
            raise ClientError("this conversation is gone")
        self._ctx.contact(peer)  # not blocked
        return message, peer

    # --- frames ------------------------------------------------------------------------------

    def _reaction_frame(self, frame: Frame, origin: Origin) -> Outcome:
        contact = origin.contact
        assert contact is not None  # dispatch: the contact's own conversation
        data = frame.data
        reactor = Sender.ME if origin.from_me else Sender.OTHER
        changed: list[bool] = []
        return Outcome(
            effect=lambda c: changed.append(extras.apply_reaction(
                c, contact.sid, data["id"], reactor, data["emoji"], data["timestamp"])),
            notify=lambda: self._ctx.emit(ev.ReactionChanged(
                data["id"], contact.sid, contact.peer_user_id, reactor, data["emoji"]))
            if any(changed) else defer.succeed(None))

    def _edit_frame(self, frame: Frame, origin: Origin) -> Outcome:
        contact = origin.contact
        assert contact is not None
        data = frame.data
        author = Sender.ME if origin.from_me else Sender.OTHER  # only what they wrote
        shown: list[str | None] = []
        return Outcome(
            effect=lambda c: shown.append(extras.apply_edit(
                c, contact.sid, data["id"], author, data["text"], data["timestamp"])),
            notify=lambda: self._ctx.emit(ev.MessageEdited(
                data["id"], contact.sid, contact.peer_user_id, shown[0]))
            if shown and shown[0] is not None else defer.succeed(None))
