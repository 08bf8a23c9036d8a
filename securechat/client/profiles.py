"""Profiles (feature-spec, Profile Management): my display name and avatar, and my
contacts' as they last told me.

Setting mine moves each changed part to its next version (`me.name_version`,
`me.avatar_version`), then tells every contact (PROFILE_VERSION) and my other devices
(the `profile` section of the next MANIFEST: client.manifest). A contact whose
PROFILE_VERSION is newer than what I have is asked (GET_PROFILE) and answers with
PROFILE_DATA, cached here ("profile updated": events.ProfileUpdated). A new contact
is told my versions (if I set a profile); a contact learnt from my other device (a new
device's history) is asked for theirs.

What a peer sends is not trusted: PROFILE_DATA is taken only from a contact, only
about that contact (the conversation it came in says whose it is; nothing in it names
a user), and only for higher versions; its avatar is bounded and decoded safely in a
thread (client.avatars), else refused (events.AvatarRefused) and the old one kept.
Questions and answers are bounded per contact in time, so a contact cannot make this
device send frames in a loop.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Any

import attrs
from twisted.internet import defer, threads
from twisted.logger import Logger

import securechat.client.avatars as avatars
import securechat.client.events as ev
from securechat.client.context import ClientContext, now_ms
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import ClientError, InvalidAvatar
from securechat.client.outbox import Outbox
from securechat.client.storage import profiles as db
from securechat.client.storage.profiles import Changed, Profile
from securechat.protocol import frames
from securechat.protocol.frames import Frame

MAX_NAME = frames.MAX_PROFILE_NAME
ASK_INTERVAL = 30.0  # seconds: a contact is asked at most once in this time...
ANSWER_INTERVAL = 10.0  # ...and each of its devices answered the same at most once

__all__ = ["MAX_NAME", "Profile", "Profiles"]


class Profiles:
    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, outbox: Outbox,
                 contact_added: list[Any], account_sync: Any) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._account_sync = account_sync
        self._mine = Profile(ctx.me.public_name, None, ctx.me.name_version,
                             ctx.me.avatar_version)
        self._theirs: dict[str, Profile] = {}
        self._asked: dict[str, float] = {}  # peer -> when asked (reactor seconds)
        # (peer, their device) -> when it was answered, and the versions it was told
        self._answered: dict[tuple[str, str], tuple[float, int, int]] = {}
        handlers.register(frames.PROFILE_VERSION, self._version, strangers="drop")
        handlers.register(frames.GET_PROFILE, self._get, strangers="drop")
        handlers.register(frames.PROFILE_DATA, self._data, strangers="drop")
        account_sync.merge_profile = self._merge_own
        account_sync.contact_learnt = self._ask  # from my other device: ask for theirs
        contact_added.append(self._tell)

    @defer.inlineCallbacks
    def load(self) -> Any:
        """Read the profiles from the database (when the account opens)."""
        store = self._ctx.store
        self._mine = yield store.run(db.mine)
        self._theirs = yield store.run(db.contacts)

    # --- reading -------------------------------------------------------------------------

    @property
    def mine(self) -> Profile:
        return self._mine

    def of(self, user_id: str) -> Profile | None:
        """A contact's profile as received (mine for my own user id); None if unknown."""
        if user_id == self._ctx.me.user_id:
            return self._mine
        return self._theirs.get(user_id)

    def avatar(self, user_id: str) -> bytes | None:
        """A contact's avatar (or mine), PNG or JPEG bytes of at most 256x256; None if none."""
        profile = self.of(user_id)
        return None if profile is None else profile.avatar

    # --- setting mine ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def set(self, name: str | None = None, avatar: bytes | None = None,
            avatar_path: str | None = None, remove_avatar: bool = False) -> Any:
        """Deferred[Profile]: change my display name and/or avatar (a picture's bytes or
        its file: cropped to a square and scaled to 256x256 at most; InvalidAvatar if it
        is not a picture, too large, or unreadable). Contacts and my other devices are
        told. Parts not given stay; nothing changes if nothing differs."""
        ctx = self._ctx
        if name is not None:
            name = _clean_name(name)
            if len(name) > MAX_NAME:
                raise ClientError(f"a display name can have at most {MAX_NAME} characters")
            if name == self._mine.name:
                name = None
        if avatar_path is not None:
            avatar = yield threads.deferToThread(_read_picture, avatar_path)
        if avatar is not None:
            avatar = yield avatars.normalise_in_thread(avatar)
        set_avatar = (avatar is not None and avatar != self._mine.avatar) or (
            remove_avatar and self._mine.avatar is not None)
        if name is None and not set_avatar:
            return self._mine
        self._mine = yield ctx.store.run(db.set_mine, name, avatar, set_avatar, now_ms())
        self._mine_changed(Changed(name is not None, set_avatar))
        yield self._announce()
        self._account_sync.push_soon()
        return self._mine

    @defer.inlineCallbacks
    def _announce(self) -> Any:
        """PROFILE_VERSION to every contact (not the blocked)."""
        for peer in list(self._ctx.contacts):
            yield self._tell(peer)

    def _mine_changed(self, changed: Changed) -> None:
        ctx, mine = self._ctx, self._mine
        ctx.me = attrs.evolve(ctx.me, public_name=mine.name, name_version=mine.name_version,
                              avatar_version=mine.avatar_version)
        ctx.events.emit(ev.ProfileUpdated(ctx.me.user_id, mine.name, changed.name,
                                          changed.avatar))

    # --- from my other devices (the MANIFEST's profile section) ------------------------------

    @defer.inlineCallbacks
    def _merge_own(self, entries: list[dict[str, Any]]) -> Any:
        """Highest version wins, part by part; a bad avatar is refused like a contact's."""
        ctx = self._ctx
        for entry in entries:
            theirs, refused = yield self._checked(entry, self._mine.avatar_version)
            if refused is not None:
                self._refused(ctx.me.user_id, refused)
            changed = yield ctx.store.run(db.merge_mine, theirs if refused is None else
                                          attrs.evolve(theirs, avatar_version=0))
            if changed.anything:
                self._mine = yield ctx.store.run(db.mine)
                self._mine_changed(changed)

    # --- contacts ---------------------------------------------------------------------------

    def _tell(self, peer: str) -> defer.Deferred[None]:
        """PROFILE_VERSION to a contact (not blocked), if I set a profile. Also what a
        new contact gets (they ask if they want it; they tell me theirs the same way)."""
        ctx, mine = self._ctx, self._mine
        contact = ctx.contacts.get(peer)
        if contact is None or peer in ctx.blocked or (mine.name_version,
                                                      mine.avatar_version) == (0, 0):
            return defer.succeed(None)
        return self._outbox.queue(peer, Frame(frames.PROFILE_VERSION, contact.sid, {
            "name_version": mine.name_version, "avatar_version": mine.avatar_version}),
            copy_to_own=False)

    def _ask(self, peer: str) -> defer.Deferred[None]:
        ctx = self._ctx
        contact = ctx.contacts.get(peer)
        now = ctx.reactor.seconds()
        if contact is None or peer in ctx.blocked or now - self._asked.get(
                peer, -ASK_INTERVAL) < ASK_INTERVAL:
            return defer.succeed(None)
        self._asked[peer] = now
        return self._outbox.queue(peer, Frame(frames.GET_PROFILE, contact.sid, {}),
                                  copy_to_own=False)

    def _version(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me:
            return Outcome()  # only a contact's own devices tell their versions
        peer, data = origin.sender, frame.data
        known = self._theirs.get(peer) or Profile("")
        if data["name_version"] > known.name_version or \
                data["avatar_version"] > known.avatar_version:
            self._asked.pop(peer, None)  # newer than anything asked for: ask again
            return Outcome(notify=lambda: self._ask(peer))
        return Outcome()

    def _get(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me or origin.contact is None:
            return Outcome()
        return Outcome(notify=lambda: self._answer(origin.sender, origin.device_id))

    def _answer(self, peer: str, device: str) -> defer.Deferred[None]:
        """PROFILE_DATA (to every device of the peer), unless this device of theirs was
        told the same versions a moment ago."""
        ctx, mine = self._ctx, self._mine
        contact = ctx.contacts.get(peer)
        now = ctx.reactor.seconds()
        versions = (mine.name_version, mine.avatar_version)
        last = self._answered.get((peer, device))
        if contact is None or peer in ctx.blocked or versions == (0, 0) or (
                last is not None and last[1:] == versions and now - last[0] < ANSWER_INTERVAL):
            return defer.succeed(None)  # nothing to tell, or just told
        self._answered[(peer, device)] = (now, *versions)
        return self._outbox.queue(peer, Frame(frames.PROFILE_DATA, contact.sid, db.entry(mine)),
                                  copy_to_own=False)

    def _data(self, frame: Frame, origin: Origin) -> Outcome:
        if origin.from_me or origin.contact is None:
            return Outcome()  # about a contact only from that contact
        peer = origin.sender
        known = self._theirs.get(peer) or Profile("")
        result: list[tuple[Changed, str | None]] = []

        @defer.inlineCallbacks
        def apply() -> Any:
            theirs, refused = yield self._checked(frame.data, known.avatar_version)
            changed = yield self._ctx.store.run(db.merge_contact, peer, theirs, refused is None)
            result.append((changed, refused))

        return Outcome(apply=apply, notify=lambda: self._contact_changed(peer, *result[0]))

    @defer.inlineCallbacks
    def _contact_changed(self, peer: str, changed: Changed, refused: str | None) -> Any:
        ctx = self._ctx
        self._asked.pop(peer, None)
        if refused is not None:
            self._refused(peer, refused)
        if not changed.anything:
            return
        self._theirs = yield ctx.store.run(db.contacts)
        profile = self._theirs[peer]
        if changed.name:
            yield ctx.reload_contacts()
            if peer in ctx.contacts:
                ctx.events.emit(ev.ContactUpdated(peer, ctx.contacts[peer]))
        ctx.events.emit(ev.ProfileUpdated(peer, profile.name, changed.name, changed.avatar))

    @defer.inlineCallbacks
    def _checked(self, data: dict[str, Any], avatar_version: int) -> Any:
        """(Profile, why its avatar was refused or None) from PROFILE_DATA or a MANIFEST
        profile entry; the avatar decoded (in a thread) only if it is newer than ours."""
        avatar, refused = None, None
        if data["avatar_version"] > avatar_version:
            try:
                raw = avatars.from_uri(data["avatar"])
                avatar = None if raw is None else (yield avatars.check_in_thread(raw))
            except InvalidAvatar as e:
                refused = str(e)
        return Profile(_clean_name(data["name"])[:MAX_NAME], avatar, data["name_version"],
                       data["avatar_version"]), refused

    def _refused(self, user_id: str, reason: str) -> None:
        self.log.warn("refused an avatar: {reason}", reason=reason)
        self._ctx.events.emit(ev.AvatarRefused(user_id, reason))


def _clean_name(name: str) -> str:
    """Without control and format characters (a name is one line of plain text)."""
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()


def _read_picture(path: str) -> bytes:
    """A picture file, refused before it is read if it is too large."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > avatars.MAX_SOURCE_BYTES:
                raise InvalidAvatar(f"the picture is larger than "
                                    f"{avatars.MAX_SOURCE_BYTES // 2**20} MiB")
            return f.read(avatars.MAX_SOURCE_BYTES + 1)
    except OSError as e:
        raise ClientError(f"cannot read the picture: {e.strerror or e}") from None
