"""One account, the same on every device: MANIFEST sync (feature-spec, Cross-Device Chat
Syncing), and the history a new device gets from my other devices.

To my other devices (frames addressed to my own account, without `to`: only they can
send them, see `dispatch`): what changed here since the last MANIFEST, i.e. contacts,
blocks, requests, per-contact nickname/notes/verified mark, messages stored, read or
ticked here, and deletions; merged there by the spec's rules (storage.manifest).
Triggers (the spec's table, less "after each message": its copy already went):
caught up after joining, and shortly after a deletion, reading, a block, a request, a
contact's settings change; several coalesce into one push; nothing goes when nothing
changed.

To a contact whose device comes online: my messages they have not acknowledged
(messages only); from a contact, only messages they wrote are taken.

A new device (its database has no history yet) asks my other devices once, after its
first catch-up, with a HISTORY_REQUEST (`history_days`: only the last N days of
messages); each answers with everything, newest messages first, in MANIFEST pages
bounded in bytes and entries, the last one marked done. Interrupted, it resumes: the
answering device keeps its place (`history_jobs`) and goes on at its next catch-up;
the new device, until the last page came, asks again at each catch-up from its oldest
message. The relay takes a frame only for every device of a user, so the pages are
encrypted for all my devices; each names the device that asked (`history.for`) and
the others drop them unread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
from twisted.internet import defer
from twisted.logger import Logger

import securechat.client.events as ev
from securechat.client.context import ClientContext, now_ms
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.keys import session_id
from securechat.client.model import ConversationSummary, StoredMessage
from securechat.client.outbox import Outbox
from securechat.client.storage import manifest as db
from securechat.protocol import frames
from securechat.protocol.frames import Frame
from securechat.protocol.keys import normalise_email, user_id_for_email

PUSH_DELAY = 0.25  # seconds local changes gather before one MANIFEST goes
PAGE_BYTES = 96 * 1024  # JSON bytes of one MANIFEST page (envelopes carry at most 256 KiB)
CHUNK = 500  # messages read per trip to the database
OWN, HISTORY = "own", "history"  # manifest_sync targets
# ... and, on a new device: since when it asked for messages (ms), and when the last
# history page came (the history is then complete; until then it is asked again, from
# the oldest message here, at each catch-up: an interrupted history resumes)
HISTORY_SINCE, HISTORY_DONE = "history_since", "history_done"


class AccountSync:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, outbox: Outbox,
                 directory: DeviceDirectory, contact_added: list[Any]) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._directory = directory
        self._contact_added = contact_added  # Friends.contact_added: what follows a friendship
        self.history_days: int | None = None  # what a new device asks for (None: all)
        self._push_call: Any = None
        self._pushing: defer.Deferred[None] | None = None
        self._history_received = 0
        # Whether this device opened without contacts (set by the client once loaded): a
        # new device, which asks my other devices for the history once.
        self.fresh = False
        # History answers and catch-up work under way
        self._sending: set[defer.Deferred[Any]] = set()
        self._jobs: dict[str, object] = {}  # device id -> the history answer it gets now
        # Merges a MANIFEST's profile section (set by client.profiles): it decodes the
        # avatar in a thread, so it is not part of the envelope's transaction.
        self.merge_profile: Any = lambda _entries: defer.succeed(None)
        # Called with each contact learnt from another device of mine (client.profiles
        # asks for their profile).
        self.contact_learnt: Any = lambda _peer: defer.succeed(None)
        # Shared files (set by client.file_sync): called with the media rows a MANIFEST
        # brought (and whether a contact's did). Never fails.
        self.files_merged: Any = lambda _rows, _from_peer: defer.succeed(None)
        handlers.register(frames.MANIFEST, self._manifest, strangers="drop",
                          self_addressed=True)
        handlers.register(frames.HISTORY_REQUEST, self._history_request, strangers="drop",
                          self_addressed=True)
        events = ctx.events
        events.subscribe(self._track(self._caught_up), ev.CaughtUp)
        # Not after each message sent or received (the spec's table): the message itself
        # already went to my other devices (a copy, or fanned out by its sender); the
        # next push carries it anyway, among the rows changed here.
        for kind in (ev.MessageDeleted, ev.MessagesRead, ev.ContactAdded, ev.ContactUpdated,
                     ev.BlockListUpdated, ev.FriendRequestReceived, ev.FriendRequestAnswered):
            events.subscribe(lambda _e: self.push_soon(), kind)
        events.subscribe(self._presence, ev.ContactPresenceChanged)

    # --- to my other devices -----------------------------------------------------------

    def push_soon(self) -> None:
        """Something changed here: my other devices get it in a moment (coalesced)."""
        if self._ctx.closed or (self._push_call is not None and self._push_call.active()):
            return
        self._push_call = self._ctx.reactor.callLater(PUSH_DELAY, self.push)

    def push(self) -> defer.Deferred[None]:
        """Queue a MANIFEST of what changed since the last one for my other devices (none
        if nothing did); one push at a time."""
        if self._pushing is not None:
            return self._pushing.addCallback(lambda _: self.push())
        d = self._pushing = self._push().addErrback(
            lambda f: self._failed("pushing a MANIFEST to my devices failed", f))

        def done(_: Any) -> None:
            self._pushing = None
        d.addBoth(done)
        return d

    @defer.inlineCallbacks
    def _push(self) -> Any:
        ctx = self._ctx
        if ctx.closed or not ctx.online or not self._other_devices():
            return  # the next catch-up pushes
        started = now_ms()
        since = (yield ctx.store.run(db.synced_at, OWN)) or 0
        state = yield ctx.store.run(db.state_since, since)
        pages = _Pages()
        for page in pages.add_sections(state):
            yield self._to_own(page)
        yield self._queue_messages(pages, lambda after: ctx.store.run(
            db.messages_changed, since, after, CHUNK))
        # Less a millisecond: a change made in the very millisecond this push read the
        # state may have been missed by it, so the next push carries it (merging is
        # idempotent).
        yield ctx.store.run(db.set_synced_at, OWN, started - 1)

    @defer.inlineCallbacks
    def _queue_messages(self, pages: _Pages, read: Any, kept: Any = None,
                        done: bool = False) -> Any:
        """Read messages a CHUNK at a time (`read(key after which)`) into `pages`, queued
        for my other devices as they fill (`kept(key)`: the last message queued); then the
        last page (`done`: marked so, and sent even if empty)."""
        key = None
        while True:
            rows = yield read(key)
            if rows is None:
                return False  # interrupted: the last page is not sent
            for next_key, entry in rows:
                full = pages.add("messages", entry)
                for page in full:
                    yield self._to_own(page)
                if full and kept is not None and key is not None:
                    yield kept(key)
                key = next_key
            if len(rows) < CHUNK:
                break
        last = pages.finish(done)
        if last is not None:
            yield self._to_own(last)
        return True

    def _other_devices(self) -> bool:
        me = self._ctx.me
        return any(d != me.device_id for d in self._directory.devices.get(me.user_id, {}))

    def _to_own(self, data: dict[str, Any]) -> defer.Deferred[None]:
        me = self._ctx.me.user_id
        return self._outbox.queue(me, Frame(frames.MANIFEST, "", data), copy_to_own=False)

    @defer.inlineCallbacks
    def _caught_up(self, _event: ev.CaughtUp) -> Any:
        ctx = self._ctx
        try:
            yield self._ask_history()
            for device, since, before in (yield ctx.store.run(db.history_jobs)):
                if device not in self._jobs:  # interrupted by a stop here: resumed
                    self._start_history(device, since, before)
            yield self.push()
        except Exception:
            self._failed("account sync after catching up failed")

    @defer.inlineCallbacks
    def _ask_history(self) -> Any:
        """Once, on a new device: ask my other devices for the history; afterwards, until
        it is complete, again from the oldest message here."""
        store = self._ctx.store
        if (yield store.run(db.synced_at, HISTORY)) is None:
            if self.fresh:  # my devices, as the relay lists them now (not yet known here)
                yield self._directory.refresh(self._ctx.me.user_id)
            if self.fresh and self._other_devices():
                since = 0 if self.history_days is None else \
                    now_ms() - self.history_days * 86_400_000
                yield store.run(db.set_synced_at, HISTORY_SINCE, since)
                yield self._request_history(since, None)
            else:
                yield store.run(db.set_synced_at, HISTORY_DONE, now_ms())
            yield store.run(db.set_synced_at, HISTORY, now_ms())
        elif not (yield self.history_complete()):
            since = yield store.run(db.synced_at, HISTORY_SINCE)
            if since is not None and self._other_devices():
                yield self._request_history(since, (yield store.run(db.oldest_message_key)))

    def _request_history(self, since: int, before: tuple[int, str] | None,
                         ) -> defer.Deferred[None]:
        data: dict[str, Any] = {"since": since}
        if before is not None:
            data["before"] = list(before)
        return self._outbox.queue(self._ctx.me.user_id, Frame(frames.HISTORY_REQUEST, "", data),
                                  copy_to_own=False)

    @defer.inlineCallbacks
    def history_complete(self) -> Any:
        """Deferred[bool]: whether this device has its history (or never needed one)."""
        store = self._ctx.store
        if (yield store.run(db.synced_at, HISTORY_DONE)) is not None:
            return True
        asked = yield store.run(db.synced_at, HISTORY_SINCE)
        return asked is None and (yield store.run(db.synced_at, HISTORY)) is not None

    # --- history for a new device ------------------------------------------------------

    def _history_request(self, frame: Frame, origin: Origin) -> Outcome:
        if not origin.self_addressed or not origin.device_id:
            return Outcome()
        since, before = max(0, frame.data["since"]), frame.data.get("before")
        device = origin.device_id
        return Outcome(notify=lambda: self._start_history(
            device, since, None if before is None else (before[0], before[1])))

    def _start_history(self, device: str, since: int, before: tuple[int, str] | None,
                       ) -> defer.Deferred[None]:
        """Send the history to my device `device` (not while the envelope is handled: it
        may be long); a newer request from it replaces one under way."""
        job = self._jobs[device] = object()
        self._track(self._send_history)(device, since, before, job)
        return defer.succeed(None)

    def _track(self, work: Any) -> Any:
        """`work`, its Deferreds kept until they fire (`settled` waits for them)."""
        def tracked(*args: Any) -> defer.Deferred[Any]:
            d = work(*args)
            self._sending.add(d)
            d.addBoth(lambda result: (self._sending.discard(d), result)[1])
            return d
        return tracked

    def _failed(self, what: str, failure: Any = None) -> None:
        """Log a failure, unless the client stopped under the work (its database closed):
        then nothing is lost, as the next start's catch-up pushes or answers again."""
        if not self._ctx.closed:
            self.log.failure(what, failure)

    def stop(self) -> None:
        """The client is closed: a push still waiting for its moment is not made (the
        next start's catch-up pushes what changed)."""
        if self._push_call is not None and self._push_call.active():
            self._push_call.cancel()

    @defer.inlineCallbacks
    def settled(self) -> Any:
        """Fires once the pushes and history answers under way are in the outbox (so
        stopping loses none of them), those they started included."""
        if self._push_call is not None and self._push_call.active():
            self._push_call.cancel()
            self.push()
        while True:
            pushing = [] if self._pushing is None else [self._pushing]
            waits = list(self._sending) + pushing
            if not waits:
                return
            yield defer.DeferredList([_chained(d) for d in waits])

    @defer.inlineCallbacks
    def _send_history(self, device: str, since: int, before: tuple[int, str] | None,
                      job: object) -> Any:
        """Everything, for a new device of mine: the state, then the messages sent after
        `since` (and before `before`, when resuming), newest first, page by page (each
        with the total, for its progress; the last one says done). The place reached is
        kept, so an interrupted answer resumes."""
        store = self._ctx.store
        try:
            yield store.run(db.set_history_job, device, since, before)
            total = yield store.run(db.message_count, since, before)
            pages = _Pages({"history": {"total": total, "for": device}})
            if before is None:
                for page in pages.add_sections((yield store.run(db.state_since, 0))):
                    yield self._to_own(page)

            def kept(key: tuple[int, str]) -> defer.Deferred[None]:
                return store.run(db.set_history_job, device, since, key)

            def read(after: tuple[int, str] | None) -> defer.Deferred[Any]:
                if self._jobs.get(device) is not job or self._ctx.closed:
                    return defer.succeed(None)  # replaced by a newer request, or stopping
                return store.run(db.history_page, since, after or before, CHUNK)
            finished = yield self._queue_messages(pages, read, kept, done=True)
            if finished and self._jobs.get(device) is job:
                del self._jobs[device]
                yield store.run(db.drop_history_job, device)
        except Exception:
            self._failed("sending the history to a new device failed")

    # --- to a contact ------------------------------------------------------------------

    def _presence(self, event: ev.ContactPresenceChanged) -> None:
        if event.online and self._ctx.online:
            self.push_to_peer(event.peer_user_id).addErrback(
                lambda f: self._failed("pushing missed messages to a contact failed", f))

    @defer.inlineCallbacks
    def push_to_peer(self, peer: str) -> Any:
        """My messages a contact has not acknowledged since the last such push: sent again
        in one MANIFEST (no push if there are none)."""
        ctx = self._ctx
        contact = ctx.contacts.get(peer)
        if contact is None or peer in ctx.blocked:
            return
        started = now_ms()
        missed = yield ctx.store.run(db.missed_by_peer, contact.sid,
                                     frames.MAX_MANIFEST_ENTRIES)
        if missed:
            pages = _Pages()
            for entry in missed:
                for page in pages.add("messages", entry):
                    yield self._outbox.queue(peer, Frame(frames.MANIFEST, contact.sid, page),
                                             copy_to_own=False)
            last = pages.finish()
            if last is not None:
                yield self._outbox.queue(peer, Frame(frames.MANIFEST, contact.sid, last),
                                         copy_to_own=False)
        yield ctx.store.run(db.set_peer_synced_at, contact.sid, started)

    # --- received ---------------------------------------------------------------------

    def _manifest(self, frame: Frame, origin: Origin) -> Outcome:
        data, merged = frame.data, []
        if origin.self_addressed:
            contacts = list(self._contact_rows(data.get("contacts", ())))
            history, profile = data.get("history"), data.get("profile")
            received = len(data.get("messages", ()))
            if history is not None and history.get("for", self._ctx.me.device_id) != \
                    self._ctx.me.device_id:
                return Outcome()  # the history another new device of mine asked for
            return Outcome(
                apply=lambda: self.merge_profile(profile) if profile else defer.succeed(None),
                effect=lambda c: merged.append(db.merge_own(c, data, contacts, now_ms())),
                notify=lambda: self._merged(merged[0], history, received))
        if origin.from_me or origin.contact is None:
            return Outcome()  # a copy of one I sent a contact: nothing for me
        # A contact's: only the messages they wrote, in our conversation.
        sid = origin.contact.sid
        return Outcome(
            effect=lambda c: merged.append(db.merge_from_peer(c, sid, data.get("messages", ()),
                                                              now_ms())),
            notify=lambda: self._merged(merged[0], None, from_peer=True))

    def _contact_rows(self, entries: Any) -> Iterator[tuple[str, str, str, str, str]]:
        me = self._ctx.me
        for entry in entries:
            email = normalise_email(entry["email"])
            user_id = user_id_for_email(email)
            if user_id != entry["user_id"] or user_id == me.user_id:
                self.log.warn("ignoring a synced contact whose email does not match its id")
                continue
            yield session_id(email, me.email), user_id, email, entry["name"], \
                entry["identity_key"]

    @defer.inlineCallbacks
    def _merged(self, merged: db.Merged, history: dict[str, Any] | None,
                received: int = 0, from_peer: bool = False) -> Any:
        ctx = self._ctx
        if merged.contacts or merged.settings:
            yield ctx.reload_contacts()
        for peer in merged.contacts:
            contact = ctx.contacts[peer]
            self._directory.identity_keys.setdefault(peer, contact.peer_identity_key)
            ctx.events.emit(ev.ContactAdded(peer, contact.sid, contact))
            for then in self._contact_added:
                yield then(peer)
            yield self.contact_learnt(peer)
        for peer in merged.settings:
            if peer in ctx.contacts:
                ctx.events.emit(ev.ContactUpdated(peer, ctx.contacts[peer]))
        if merged.blocks:
            ctx.blocked = yield ctx.store.blocked()
            ctx.events.emit(ev.BlockListUpdated(frozenset(ctx.blocked)))
        if merged.requests:
            ctx.events.emit(ev.PendingRequestsUpdated())
        for entry in merged.received:  # a contact's messages that missed me: as if they came
            message = StoredMessage(**{f: entry[f] for f in attrs.fields_dict(StoredMessage)})
            ctx.events.emit(ev.MessageReceived(message, ctx.peer_of(message.sid) or ""))
        for message_id, sid in merged.deleted:
            ctx.events.emit(ev.MessageDeleted(message_id, sid, ctx.peer_of(sid) or ""))
        for marker in merged.unsent:
            ctx.events.emit(ev.MessageDeleted(marker.id, marker.sid,
                                              ctx.peer_of(marker.sid) or "", marker))
        for sid in (set(merged.messages) | {sid for _, sid in merged.deleted}
                    | {m.sid for m in merged.unsent}):
            peer = ctx.peer_of(sid)
            if peer is not None:
                last, unread = yield ctx.store.summary(sid)
                ctx.events.emit(ev.ConversationChanged(peer, ConversationSummary(last, unread)))
        if merged.files:
            yield self.files_merged(merged.files, from_peer)
        if history is not None:
            done = bool(history.get("done"))
            if done:
                yield ctx.store.run(db.set_synced_at, HISTORY_DONE, now_ms())
            # Every message a page carries counts, stored now or before (by a push).
            self._history_received += received
            ctx.events.emit(ev.HistoryProgress(self._history_received, history["total"], done))


def _chained(d: defer.Deferred[Any]) -> defer.Deferred[None]:
    """A Deferred firing when `d` does, leaving `d`'s result alone."""
    chained: defer.Deferred[None] = defer.Deferred()

    def fired(result: Any) -> Any:
        chained.callback(None)
        return result
    d.addBoth(fired)
    return chained


class _Pages:
    """MANIFEST data split into pages of at most PAGE_BYTES (and MAX_MANIFEST_ENTRIES a
    section); `add` returns the pages it filled. Sections go in the order added, so a
    page's contacts are merged before the messages of later pages."""

    def __init__(self, extra: dict[str, Any] | None = None) -> None:
        self._extra = extra or {}
        self._data: dict[str, Any] = {}
        self._size = 0

    def add(self, section: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
        size = len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1
        full: list[dict[str, Any]] = []
        if self._data and (self._size + size > PAGE_BYTES or len(
                self._data.get(section, ())) >= frames.MAX_MANIFEST_ENTRIES):
            full.append(self._take())
        self._data.setdefault(section, []).append(entry)
        self._size += size
        return full

    def add_sections(self, sections: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [page for section, entries in sections.items() for entry in entries
                for page in self.add(section, entry)]

    def finish(self, done: bool = False) -> dict[str, Any] | None:
        """The last page (None if nothing is left); `done`: marked as the last of a
        history, and sent even if empty."""
        if done:
            extra = self._extra.get("history", {})
            self._extra = {**self._extra, "history": {**extra, "done": True}}
            return self._take()
        return self._take() if self._data else None

    def _take(self) -> dict[str, Any]:
        data, self._data, self._size = {**self._extra, **self._data}, {}, 0
        return data

