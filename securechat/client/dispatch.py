"""The frame-handler table: which feature handles which decrypted frame, and the rules
every frame obeys before any feature sees it.

A feature registers, per frame type it understands, a handler returning an `Outcome`
(state to change before the envelope is marked handled, a message to store with it,
and who to tell once it is stored). The inbox decrypts and checks an envelope, then
asks `FrameHandlers.interpret` what the frame means; it never imports a feature.

The rules applied here, for every type:

* from a stranger (no contact on this device): held until the friendship is known
  here (`Route.strangers="hold"`), dropped (`"drop"`, ephemeral frames), or handled
  (`"handle"`, the friend-request frames themselves);
* a frame's `sid` must be the contact's conversation;
* self-addressed (from another device of mine, about my own account rather than a
  copy of something sent to a peer): only to handlers that ask for it
  (`self_addressed=True`: account sync, a call ended on another device).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Literal

import attrs
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client.context import ClientContext
from securechat.client.model import Contact, StoredMessage
from securechat.protocol.frames import Frame


def nothing() -> defer.Deferred[None]:
    return defer.succeed(None)


@attrs.frozen
class Outcome:
    """What handling one frame does."""

    message: StoredMessage | None = None  # stored in the same transaction as the envelope
    # Database changes made in that same transaction (a receipt's ticks, a deletion): they
    # cannot be lost or applied twice, whatever else commits meanwhile.
    effect: Callable[[sqlite3.Connection], Any] | None = None
    # What cannot go in one transaction (network calls, several writes): before the
    # envelope is marked handled, so a crash re-applies it from the older Olm state.
    apply: Callable[[], defer.Deferred[Any]] = nothing
    notify: Callable[[], defer.Deferred[Any]] = nothing  # after it is stored


@attrs.frozen
class Origin:
    """Who a frame is from and which conversation it belongs to."""

    sender: str  # user id
    device_id: str  # "" for a frame replayed from the held ones
    from_me: bool  # sent by another device of my own account
    peer: str | None  # the other side of the conversation (`frame.to` for my copies)
    contact: Contact | None  # that peer as a contact here, if they are one
    relay_ts: int | None = None  # when the relay took the envelope (ms)

    @property
    def self_addressed(self) -> bool:
        return self.from_me and self.peer is None


Handler = Callable[[Frame, Origin], Outcome]


@attrs.frozen
class Route:
    handle: Handler
    strangers: Literal["hold", "drop", "handle"] = "hold"
    self_addressed: bool = False


class FrameHandlers:
    log = Logger()

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._routes: dict[str, Route] = {}

    def register(self, frame_type: str, handle: Handler,
                 strangers: Literal["hold", "drop", "handle"] = "hold",
                 self_addressed: bool = False) -> None:
        if frame_type in self._routes:
            raise ValueError(f"{frame_type} frames already have a handler")
        self._routes[frame_type] = Route(handle, strangers, self_addressed)

    def interpret(self, frame: Frame, sender: str, device_id: str = "",
                  relay_ts: int | None = None) -> Outcome:
        """What `frame` from `sender` means here (see the module docstring)."""
        me = self._ctx.me.user_id
        from_me = sender == me
        peer = (None if frame.to in (None, me) else frame.to) if from_me else sender
        origin = Origin(sender, device_id, from_me, peer, self._ctx.contacts.get(peer or ""),
                        relay_ts)
        route = self._routes.get(frame.type)
        if route is None:
            self.log.info("no handler for {type} frames", type=frame.type)
            return Outcome()
        if origin.self_addressed:
            return route.handle(frame, origin) if route.self_addressed else Outcome()
        if route.strangers == "handle":
            return route.handle(frame, origin)
        if origin.contact is None and not from_me:
            if route.strangers == "drop":
                return Outcome()
            # Not a contact on this device (yet): keep it for when the friendship is
            # known here, rather than lose it.
            self.log.info("holding a {type} frame from a user not known here", type=frame.type)
            return Outcome(apply=lambda: self._ctx.store.hold(sender, frame.encode()))
        if origin.contact is None or frame.sid != origin.contact.sid:
            self.log.info("ignoring a {type} frame for an unknown session", type=frame.type)
            return Outcome()
        return route.handle(frame, origin)
