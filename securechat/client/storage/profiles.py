"""Profiles in the account database (client.profiles): my display name and avatar with
their versions (the `me` row), and each contact's as last received (their `sessions`
row). The operations run on the database thread (see securechat.client.storage).

Versions only grow: a name or avatar is replaced only by one with a higher version, so
PROFILE_DATA and MANIFEST profile sections arriving in any order, or twice, end in the
same state (feature-spec: "profile: highest version wins").
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

import securechat.client.avatars as avatars


@attrs.frozen
class Profile:
    """A display name and avatar (PNG/JPEG bytes written by client.avatars; None: none)
    with their versions."""

    name: str
    avatar: bytes | None = attrs.field(default=None,
                                       repr=lambda a: f"<{len(a)} bytes>" if a else "None")
    name_version: int = 0
    avatar_version: int = 0


@attrs.frozen
class Changed:
    name: bool = False
    avatar: bool = False

    @property
    def anything(self) -> bool:
        return self.name or self.avatar


def mine(c: sqlite3.Connection) -> Profile:
    row = c.execute("SELECT public_name, avatar, name_version, avatar_version FROM me"
                    ).fetchone()
    return Profile(row[0], row[1], row[2], row[3])


def set_mine(c: sqlite3.Connection, name: str | None, avatar: bytes | None, set_avatar: bool,
             now: int) -> Profile:
    """A change made here: each part given moves to the next version."""
    if name is not None:
        c.execute("UPDATE me SET public_name=?, name_version=name_version+1, "
                  "profile_changed=?", (name, now))
    if set_avatar:
        c.execute("UPDATE me SET avatar=?, avatar_version=avatar_version+1, "
                  "profile_changed=?", (avatar, now))
    return mine(c)


def changed_since(c: sqlite3.Connection, since: int) -> list[dict[str, Any]]:
    """The MANIFEST profile section: my profile if it changed here after `since` (ms;
    0: if it was ever set)."""
    row = c.execute("SELECT profile_changed, name_version + avatar_version FROM me"
                    ).fetchone()
    return [entry(mine(c))] if row is not None and row[0] > since and row[1] > 0 else []


def merge_mine(c: sqlite3.Connection, other: Profile) -> Changed:
    """My profile from another device of mine: each part if its version is higher (the
    same version set apart on two devices: the greater value, on every device). Not
    marked changed here (that device told the others itself)."""
    name = c.execute("UPDATE me SET public_name=?, name_version=? "
                     "WHERE (name_version, public_name) < (?, ?)",
                     (other.name, other.name_version, other.name_version, other.name)).rowcount
    avatar = c.execute("UPDATE me SET avatar=?, avatar_version=? "
                       "WHERE (avatar_version, COALESCE(avatar, x'')) < (?, ?)",
                       (other.avatar, other.avatar_version, other.avatar_version,
                        other.avatar or b"")).rowcount
    return Changed(bool(name), bool(avatar))


def contacts(c: sqlite3.Connection) -> dict[str, Profile]:
    """Every contact's profile as received, by user id."""
    return {r[0]: Profile(r[1], r[2], r[3], r[4]) for r in c.execute(
        "SELECT peer_user_id, peer_name, peer_avatar, peer_name_ver, peer_avatar_ver "
        "FROM sessions")}


def merge_contact(c: sqlite3.Connection, user_id: str, theirs: Profile,
                  avatar_ok: bool) -> Changed:
    """A contact's PROFILE_DATA: each part if its version is higher than the one here
    (the avatar only if it passed client.avatars.check: `avatar_ok`)."""
    name = c.execute("UPDATE sessions SET peer_name=?, peer_name_ver=? WHERE peer_user_id=? "
                     "AND (peer_name_ver, peer_name) < (?, ?)",
                     (theirs.name, theirs.name_version, user_id, theirs.name_version,
                      theirs.name)).rowcount
    avatar = avatar_ok and c.execute(
        "UPDATE sessions SET peer_avatar=?, peer_avatar_ver=? WHERE peer_user_id=? "
        "AND (peer_avatar_ver, COALESCE(peer_avatar, x'')) < (?, ?)",
        (theirs.avatar, theirs.avatar_version, user_id, theirs.avatar_version,
         theirs.avatar or b"")).rowcount
    return Changed(bool(name), bool(avatar))


def entry(profile: Profile) -> dict[str, Any]:
    """PROFILE_DATA's fields, also a MANIFEST profile entry."""
    return {"name": profile.name, "avatar": avatars.to_uri(profile.avatar),
            "name_version": profile.name_version, "avatar_version": profile.avatar_version}
