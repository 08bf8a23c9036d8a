"""Friend requests and contacts: who may write to me, and blocking.

A friendship with one peer is a persisted state (`model.RequestState`, kept in the
`pending_requests` row's direction/action and in the contacts table) moved only by
the transition table at the bottom of this module: what I do here, what the peer's
frames say, and what my other devices mirror to this one. Pairs not in the table
change nothing (and are logged), so a replayed or out-of-order frame cannot, say,
make a denied stranger a contact.

A FRIEND_REQUEST is also the first Olm pre-key message to each of the peer's devices.
Frames from someone not (yet) a contact here are held (`dispatch`), and replayed
once the friendship is known.
"""

from __future__ import annotations

import enum
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.events as ev
from securechat.client.context import ClientContext, now_ms
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError, NoSuchAccount
from securechat.client.keys import session_id
from securechat.client.model import Contact, Request, RequestState
from securechat.client.outbox import Outbox
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame
from securechat.protocol.keys import normalise_email, user_id_for_email


class FriendEvent(enum.Enum):
    I_ASK = "i_ask"
    I_ACCEPT = "i_accept"
    I_DENY = "i_deny"
    THEY_ASK = "they_ask"
    THEY_ACCEPT = "they_accept"
    THEY_DENY = "they_deny"
    MY_DEVICE_ASKED = "my_device_asked"  # mirrored from another device of mine
    MY_DEVICE_ACCEPTED = "my_device_accepted"
    MY_DEVICE_DENIED = "my_device_denied"


class Friends:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, directory: DeviceDirectory,
                 outbox: Outbox) -> None:
        self._ctx = ctx
        self._directory = directory
        self._outbox = outbox
        self.contact_added: list[Any] = []  # callables(peer): presence, held frames...
        for kind in (frames.FRIEND_REQUEST, frames.FRIEND_ACCEPT, frames.FRIEND_DENY):
            handlers.register(kind, self._frame, strangers="handle")

    # --- what the user does ------------------------------------------------------------

    @defer.inlineCallbacks
    def add(self, email: str) -> Any:
        """Deferred[Request]: send a FRIEND_REQUEST to `email`."""
        ctx = self._ctx
        email = normalise_email(email)
        peer = user_id_for_email(email)
        if peer == ctx.me.user_id:
            raise ClientError("you cannot add yourself")
        if peer in ctx.contacts:
            raise ClientError("already a contact")
        if ctx.online:  # offline, the request waits in the outbox
            try:
                yield self._directory.fetch_identity_key(peer)
            except ApplicationError as e:
                if e.error == uris.ERR_NO_SUCH_ACCOUNT:
                    raise NoSuchAccount("there is no account with this email") from None
                raise
        yield self._move(peer, FriendEvent.I_ASK, email, "")
        yield self._outbox.queue(peer, self._frame_to(frames.FRIEND_REQUEST, email))
        return (yield self.request_with(peer))

    @defer.inlineCallbacks
    def accept(self, peer_user_id: str) -> Any:
        """Deferred[Contact]: accept their pending request."""
        request = yield self._pending_from(peer_user_id)
        # Becoming contacts answers the request: if that fails, it is still there to accept.
        yield self.become_contacts(request.user_id, request.email, request.name)
        yield self._outbox.queue(peer_user_id,
                                 self._frame_to(frames.FRIEND_ACCEPT, request.email))
        return self._ctx.contacts[peer_user_id]

    @defer.inlineCallbacks
    def deny(self, peer_user_id: str) -> Any:
        request = yield self._pending_from(peer_user_id)
        yield self._move(peer_user_id, FriendEvent.I_DENY, request.email, request.name)
        yield self._outbox.queue(peer_user_id,
                                 self._frame_to(frames.FRIEND_DENY, request.email))

    def requests(self) -> defer.Deferred[list[Request]]:
        """Every request, answered or not, oldest first."""
        return self._ctx.store.requests()

    @defer.inlineCallbacks
    def pending(self, incoming_only: bool = False) -> Any:
        """Deferred[list[Request]]: requests without an answer yet (only those asked of
        me, with `incoming_only`)."""
        states = ((RequestState.ASKED_ME,) if incoming_only
                  else (RequestState.ASKED_ME, RequestState.ASKED))
        return [r for r in (yield self.requests()) if r.state in states]

    @defer.inlineCallbacks
    def block(self, peer_user_id: str, blocked: bool = True) -> Any:
        """Blocked users' envelopes are dropped unread; nothing is sent to them."""
        ctx = self._ctx
        contact = ctx.contacts.get(peer_user_id)
        email = contact.peer_email if contact else ""
        yield ctx.store.set_blocked(peer_user_id, email, blocked, now_ms())
        ctx.blocked = yield ctx.store.blocked()
        ctx.events.emit(ev.BlockListUpdated(frozenset(ctx.blocked)))

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

    # --- friendship ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def become_contacts(self, peer: str, email: str, name: str) -> Any:
        ctx = self._ctx
        key = self._directory.identity_keys.get(peer)
        if key is None:
            key = yield self._directory.fetch_identity_key(peer)
        sid = session_id(email, ctx.me.email)
        yield ctx.store.add_contact(sid, peer, email, name, key, now_ms())
        # A friendship answers whatever request there was, before anyone is told of it
        # (a requests list refreshed on ContactAdded must not still show it pending).
        request = yield self.request_with(peer)
        if request is not None and request.action != "accepted":
            yield self._store(request, "accepted")
        yield ctx.reload_contacts()
        ctx.events.emit(ev.ContactAdded(peer, sid, ctx.contacts[peer]))
        for then in self.contact_added:
            yield then(peer)

    @defer.inlineCallbacks
    def request_with(self, peer: str) -> Any:
        """Deferred[Request | None]: the request row with `peer` (one per peer)."""
        for request in (yield self._ctx.store.requests()):
            if request.user_id == peer:
                return request
        return None

    @defer.inlineCallbacks
    def state_of(self, peer: str) -> Any:
        """Deferred[RequestState]: friends only if they are a contact here."""
        if peer in self._ctx.contacts:
            return RequestState.FRIENDS
        request = yield self.request_with(peer)
        if request is None or request.state is RequestState.FRIENDS:
            return RequestState.NONE  # an answered request whose contact is gone
        return request.state

    @defer.inlineCallbacks
    def _pending_from(self, peer_user_id: str) -> Any:
        request = yield self.request_with(peer_user_id)
        if request is None or request.state is not RequestState.ASKED_ME:
            raise ClientError("there is no pending friend request from this user")
        return request

    @defer.inlineCallbacks
    def _move(self, peer: str, event: FriendEvent, email: str, name: str) -> Any:
        """Apply `event` to the friendship with `peer`: Deferred[the new state], or None
        if the table has no such transition (nothing changes). Reaching FRIENDS records
        nothing here: the caller makes them contacts (`become_contacts`), which answers
        the request."""
        state = yield self.state_of(peer)
        new = TRANSITIONS.get((state, event))
        if new is None:
            self.log.info("friend request: {event} ignored in state {state}",
                          event=event.value, state=state.value)
            return None
        if new is not RequestState.FRIENDS:
            request = yield self.request_with(peer)
            direction, action = _ROW_OF_STATE[new]
            yield self._ctx.store.set_request(Request(
                peer, email or request.email, name or (request.name if request else ""),
                direction, action, now_ms()))
        return new

    def _store(self, request: Request, action: str) -> defer.Deferred[None]:
        return self._ctx.store.set_request(Request(
            request.user_id, request.email, request.name, request.direction, action, now_ms()))

    def _frame_to(self, kind: str, peer_email: str) -> Frame:
        me = self._ctx.me
        data = {"email": me.email, "to_email": peer_email}
        if kind != frames.FRIEND_DENY:
            data["name"] = me.public_name
        return Frame(kind, session_id(peer_email, me.email), data)

    # --- frames --------------------------------------------------------------------------

    def _frame(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me:
            return Outcome(apply=lambda: self._mirrored(frame, origin.peer))
        return Outcome(apply=lambda: self._from_peer(frame, origin.sender))

    @defer.inlineCallbacks
    def _mirrored(self, frame: Frame, peer: str | None) -> Any:
        """My other device's request or answer: the same here."""
        email = normalise_email(str(frame.data.get("to_email", "")))
        if peer is None or user_id_for_email(email) != peer:
            return
        if frame.type == frames.FRIEND_REQUEST:
            yield self._move(peer, FriendEvent.MY_DEVICE_ASKED, email, "")
        elif frame.type == frames.FRIEND_ACCEPT:
            # My other device's answer stands, whatever this one did meanwhile.
            if (yield self._move(peer, FriendEvent.MY_DEVICE_ACCEPTED, email, "")) is None:
                return
            if peer not in self._ctx.contacts:
                yield self.become_contacts(peer, email, "")
            self._answered(peer, email, True)
        else:
            yield self._move(peer, FriendEvent.MY_DEVICE_DENIED, email, "")

    @defer.inlineCallbacks
    def _from_peer(self, frame: Frame, sender: str) -> Any:
        ctx = self._ctx
        email = normalise_email(frame.data["email"])
        if user_id_for_email(email) != sender or frame.sid != session_id(email, ctx.me.email):
            self.log.warn("ignoring a friend frame whose email does not match its sender")
            return
        name = frame.data.get("name", "")
        if frame.type == frames.FRIEND_REQUEST:
            new = yield self._move(sender, FriendEvent.THEY_ASK, email, name)
            if new is RequestState.FRIENDS:
                # Already friends here (their device lost its state: the account key is
                # the pinned one), or our requests crossed: answer at once.
                if sender not in ctx.contacts:
                    yield self.become_contacts(sender, email, name)
                    self._answered(sender, email, True)
                yield self._outbox.queue(sender, self._frame_to(frames.FRIEND_ACCEPT, email))
            elif new is RequestState.ASKED_ME:
                ctx.events.emit(ev.FriendRequestReceived(sender, email, name))
        elif frame.type == frames.FRIEND_ACCEPT:
            if (yield self._move(sender, FriendEvent.THEY_ACCEPT, email, name)) is None:
                return  # nobody asked
            yield self.become_contacts(sender, email, name)
            self._answered(sender, email, True)
        elif (yield self._move(sender, FriendEvent.THEY_DENY, email, name)) is not None:
            ctx.events.emit(ev.FriendRequestAnswered(sender, email, False, None))

    def _answered(self, peer: str, email: str, accepted: bool) -> None:
        contact: Contact | None = self._ctx.contacts.get(peer)
        self._ctx.events.emit(ev.FriendRequestAnswered(peer, email, accepted,
                                                       contact.sid if contact else None))


S, E = RequestState, FriendEvent

# (state, event) -> new state. Anything else: ignored.
TRANSITIONS: dict[tuple[RequestState, FriendEvent], RequestState] = {
    (S.NONE, E.I_ASK): S.ASKED,
    (S.NONE, E.THEY_ASK): S.ASKED_ME,
    (S.NONE, E.MY_DEVICE_ASKED): S.ASKED,
    (S.NONE, E.MY_DEVICE_ACCEPTED): S.FRIENDS,  # their request reached only that device
    (S.ASKED, E.MY_DEVICE_ACCEPTED): S.FRIENDS,  # my devices answered differently: the
    (S.I_DENIED, E.MY_DEVICE_ACCEPTED): S.FRIENDS,  # accept stands everywhere
    (S.THEY_DENIED, E.MY_DEVICE_ACCEPTED): S.FRIENDS,
    (S.ASKED, E.I_ASK): S.ASKED,  # asked again
    (S.ASKED, E.MY_DEVICE_ASKED): S.ASKED,
    (S.ASKED, E.THEY_ASK): S.FRIENDS,  # we asked each other: both said yes
    (S.ASKED, E.THEY_ACCEPT): S.FRIENDS,
    (S.ASKED, E.THEY_DENY): S.THEY_DENIED,
    (S.ASKED_ME, E.THEY_ASK): S.ASKED_ME,  # asked again
    (S.ASKED_ME, E.I_ASK): S.ASKED,
    (S.ASKED_ME, E.MY_DEVICE_ASKED): S.ASKED,
    (S.ASKED_ME, E.I_ACCEPT): S.FRIENDS,
    (S.ASKED_ME, E.MY_DEVICE_ACCEPTED): S.FRIENDS,
    (S.ASKED_ME, E.I_DENY): S.I_DENIED,
    (S.ASKED_ME, E.MY_DEVICE_DENIED): S.I_DENIED,
    (S.FRIENDS, E.THEY_ASK): S.FRIENDS,  # their device lost its state: answered at once
    (S.FRIENDS, E.THEY_ACCEPT): S.FRIENDS,  # an answer that crossed with theirs
    (S.FRIENDS, E.MY_DEVICE_ACCEPTED): S.FRIENDS,
    (S.I_DENIED, E.THEY_ASK): S.ASKED_ME,  # they may ask again
    (S.I_DENIED, E.I_ASK): S.ASKED,
    (S.I_DENIED, E.MY_DEVICE_ASKED): S.ASKED,
    (S.THEY_DENIED, E.I_ASK): S.ASKED,
    (S.THEY_DENIED, E.MY_DEVICE_ASKED): S.ASKED,
    (S.THEY_DENIED, E.THEY_ASK): S.ASKED_ME,
    (S.THEY_DENIED, E.THEY_ACCEPT): S.FRIENDS,  # they changed their mind about my request
}

_ROW_OF_STATE = {
    S.ASKED: ("out", "pending"),
    S.ASKED_ME: ("in", "pending"),
    S.I_DENIED: ("in", "denied"),
    S.THEY_DENIED: ("out", "denied"),
}
del S, E
