"""Contacts in the account database, the devices of other users, the account keys
pinned on first use, and the new devices of my own account waiting to be seen: the
operations, each run on the database thread (see securechat.client.storage)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import attrs

from securechat.client.model import Contact, DeviceNotice

_CONTACT_COLUMNS = ("sid, peer_user_id, peer_email, peer_name, alias_name, peer_identity_key, "
                    "changed_identity_key, verified, devices_changed")

# --- devices of other users -----------------------------------------------------


def known_devices(c: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    return c.execute(
        "SELECT user_id, device_id, identity_key, signing_key FROM devices").fetchall()


def replace_devices(c: sqlite3.Connection, user_id: str,
                    devices: Sequence[tuple[str, str, str]]) -> None:
    """Set a user's verified devices; sessions with devices now gone, or made with a
    key that is no longer the device's, are dropped."""
    c.execute("DELETE FROM devices WHERE user_id=?", (user_id,))
    c.executemany("INSERT INTO devices VALUES (?,?,?,?)",
                  [(user_id, d, ik, sk) for d, ik, sk in devices])
    keys = {d: ik for d, ik, _ in devices}
    for (device_id, identity_key) in c.execute(
            "SELECT device_id, identity_key FROM olm_peer_sessions WHERE user_id=?",
            (user_id,)).fetchall():
        if device_id not in keys:
            # Gone from the list: its sessions go, the ids of the sessions made
            # with it stay (a relay that lists it again cannot replay them).
            c.execute("UPDATE olm_peer_sessions SET pickle='' WHERE user_id=? AND "
                      "device_id=?", (user_id, device_id))
        elif keys[device_id] != identity_key:
            c.execute("DELETE FROM olm_peer_sessions WHERE user_id=? AND device_id=?",
                      (user_id, device_id))


def identity_keys(c: sqlite3.Connection) -> dict[str, str]:
    """Account keys pinned on first use (TOFU), by user id."""
    return dict(c.execute("SELECT user_id, identity_key FROM identity_keys"))


def pin_identity_key(c: sqlite3.Connection, user_id: str, key: str) -> None:
    c.execute("INSERT OR REPLACE INTO identity_keys VALUES (?,?)", (user_id, key))


# --- contacts -----------------------------------------------------------------------


def contacts(c: sqlite3.Connection) -> list[Contact]:
    return [
        Contact(*r[:-2], verified=bool(r[-2]), devices_changed=bool(r[-1])) for r in c.execute(
            f"SELECT {_CONTACT_COLUMNS} FROM sessions ORDER BY sid DESC")]  # noqa: S608


def add_contact(c: sqlite3.Connection, sid: str, user_id: str, email: str, name: str,
                identity_key: str, now: int) -> None:
    c.execute(
        "INSERT OR IGNORE INTO sessions (sid, peer_user_id, peer_email, peer_name, "
        "peer_identity_key, created) VALUES (?,?,?,?,?,?)",
        (sid, user_id, email, name, identity_key, now))


def set_changed_identity_key(c: sqlite3.Connection, user_id: str, key: str | None) -> None:
    c.execute("UPDATE sessions SET changed_identity_key=? WHERE peer_user_id=?",
              (key, user_id))


def accept_identity_key(c: sqlite3.Connection, user_id: str) -> None:
    """The new key replaces the pinned one; it has not been verified."""
    c.execute(
        "UPDATE sessions SET peer_identity_key=changed_identity_key, "
        "changed_identity_key=NULL, verified=0 WHERE peer_user_id=? "
        "AND changed_identity_key IS NOT NULL", (user_id,))


def set_alias(c: sqlite3.Connection, user_id: str, alias: str | None, now: int) -> None:
    c.execute("UPDATE sessions SET alias_name=?, alias_timestamp=? WHERE peer_user_id=?",
              (alias, now, user_id))


def set_notes(c: sqlite3.Connection, user_id: str, notes: str | None, now: int) -> None:
    c.execute("UPDATE sessions SET notes=?, alias_timestamp=? WHERE peer_user_id=?",
              (notes, now, user_id))


def notes(c: sqlite3.Connection, user_id: str) -> str | None:
    row = c.execute("SELECT notes FROM sessions WHERE peer_user_id=?", (user_id,)).fetchone()
    return row[0] if row else None


def set_verified(c: sqlite3.Connection, user_id: str, verified: bool, now: int) -> None:
    """Marked (or unmarked) by the user: any "devices changed" flag is settled. Like a
    nickname, the mark goes to my other devices (newer `alias_timestamp` wins)."""
    c.execute("UPDATE sessions SET verified=?, devices_changed=0, alias_timestamp=? "
              "WHERE peer_user_id=?", (int(verified), now, user_id))


def devices_changed(c: sqlite3.Connection, user_id: str) -> bool:
    """A contact's device set changed: if they were verified, they no longer are, and
    are flagged for re-checking. Returns True if that changed anything."""
    return bool(c.execute(
        "UPDATE sessions SET verified=0, devices_changed=1 WHERE peer_user_id=? "
        "AND verified=1", (user_id,)).rowcount)


# --- new devices of my own account ---------------------------------------------------


def add_device_notice(c: sqlite3.Connection, notice: DeviceNotice) -> None:
    c.execute("INSERT OR REPLACE INTO own_device_notices VALUES (?,?,?)",
              attrs.astuple(notice))


def device_notices(c: sqlite3.Connection) -> list[DeviceNotice]:
    return [DeviceNotice(*r) for r in c.execute(
        "SELECT device_id, identity_key, noticed_at FROM own_device_notices "
        "ORDER BY noticed_at, device_id")]


def drop_device_notice(c: sqlite3.Connection, device_id: str) -> bool:
    return bool(c.execute(
        "DELETE FROM own_device_notices WHERE device_id=?", (device_id,)).rowcount)
