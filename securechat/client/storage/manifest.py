"""Account sync in the account database (client.manifest): what changed since a MANIFEST
was last sent, the pages of a whole history, and merging a received MANIFEST by the
spec's rules. The operations run on the database thread (see securechat.client.storage);
a merge runs inside the transaction of the envelope that carried it.

Merge rules (feature-spec, Cross-Device Chat Syncing): blocks, requests and per-contact
settings (nickname, notes, verified mark: `alias_timestamp`) by newer timestamp (equal
timestamps: the greater value, so that every device picks the same);
messages insert-or-ignore by id, read state and ticks only move forward; deletions
leave tombstones. Every device applies the same rules, so any order of the same
MANIFESTs ends in the same state.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

import securechat.client.retention as retention
import securechat.client.storage.media as media_db
import securechat.client.storage.media_sync as media_sync
import securechat.client.storage.messages as messages
import securechat.client.storage.profiles as profiles
from securechat.client.model import MessageType, StoredMessage

Entry = dict[str, Any]
_IN_CHUNK = 500  # ids per IN (...) query (SQLite allows 999 parameters)
_MESSAGE_FIELDS = ("id", "sid", "sender", "text", "type", "timestamp", "status", "is_read",
                   "reply_to")


# --- when a MANIFEST was last sent ------------------------------------------------------


def synced_at(c: sqlite3.Connection, target: str) -> int | None:
    row = c.execute("SELECT at FROM manifest_sync WHERE target=?", (target,)).fetchone()
    return None if row is None else int(row[0])


def set_synced_at(c: sqlite3.Connection, target: str, at: int) -> None:
    c.execute("INSERT OR REPLACE INTO manifest_sync VALUES (?,?)", (target, at))


def set_peer_synced_at(c: sqlite3.Connection, sid: str, at: int) -> None:
    c.execute("UPDATE sessions SET last_manifest_sync=? WHERE sid=?", (at, sid))


# --- what to send ------------------------------------------------------------------------


def state_since(c: sqlite3.Connection, since: int) -> dict[str, list[Entry]]:
    """For my other devices: my profile, blocks, requests, contacts and per-contact
    settings changed after `since` (ms; 0: all of them), and the deletions since."""
    return {
        "profile": profiles.changed_since(c, since),
        "contacts": [dict(zip(("user_id", "email", "name", "identity_key"), r, strict=True))
                     for r in c.execute(
                         "SELECT peer_user_id, peer_email, peer_name, peer_identity_key "
                         "FROM sessions WHERE created > ? ORDER BY created", (since,))],
        "blocks": [dict(zip(("user_id", "email", "action", "timestamp"), r, strict=True))
                   for r in c.execute("SELECT user_id, email, action, timestamp FROM "
                                      "blocked_users WHERE timestamp > ?", (since,))],
        "requests": [dict(zip(("user_id", "email", "name", "direction", "action",
                               "timestamp"), r, strict=True))
                     for r in c.execute("SELECT user_id, email, name, direction, action, "
                                        "timestamp FROM pending_requests WHERE timestamp > ?",
                                        (since,))],
        "aliases": [{"user_id": r[0], "alias": r[1], "notes": r[2], "verified": bool(r[3]),
                     "timestamp": r[4]}
                    for r in c.execute("SELECT peer_user_id, alias_name, notes, verified, "
                                       "alias_timestamp FROM sessions WHERE alias_timestamp > ?",
                                       (since,))],
        "deleted": [dict(zip(("id", "sid", "sender", "at"), r[:4], strict=True),
                         **({"unsent": True} if r[4] else {}))
                    for r in c.execute("SELECT id, sid, sender, at, unsent FROM "
                                       "deleted_messages WHERE at > ?", (since,))],
    }


def messages_changed(c: sqlite3.Connection, since: int, after: tuple[int, str] | None,
                     limit: int) -> list[tuple[tuple[int, str], Entry]]:
    """Messages stored, read or ticked here after `since` (not those merged from a
    MANIFEST), oldest change first, after the (changed, id) key `after`; each with its key."""
    changed, mid = after or (since, "")
    rows = c.execute(
        f"SELECT changed, {', '.join(_MESSAGE_FIELDS)} FROM messages "  # noqa: S608
        "WHERE (changed, id) > (?, ?) ORDER BY changed, id LIMIT ?",  # the index's order
        (changed, mid, limit)).fetchall()
    return _with_files(c, [((r[0], r[1]), _message_entry(r[1:])) for r in rows])


def history_page(c: sqlite3.Connection, since: int, before: tuple[int, str] | None,
                 limit: int) -> list[tuple[tuple[int, str], Entry]]:
    """All conversations' messages sent after `since`, newest first, before the
    (timestamp, id) key `before`; each with its key."""
    ts, mid = before or (2**63 - 1, "")
    rows = c.execute(
        f"SELECT {', '.join(_MESSAGE_FIELDS)} FROM messages "  # noqa: S608
        "WHERE timestamp >= ? AND (timestamp, id) < (?, ?) "  # a range of messages_by_time
        "ORDER BY timestamp DESC, id DESC LIMIT ?", (since, ts, mid, limit)).fetchall()
    return _with_files(c, [((r[5], r[0]), _message_entry(r)) for r in rows])


def message_count(c: sqlite3.Connection, since: int,
                  before: tuple[int, str] | None = None) -> int:
    ts, mid = before or (2**63 - 1, "")
    return int(c.execute("SELECT COUNT(*) FROM messages WHERE timestamp >= ? AND "
                         "(timestamp, id) < (?, ?)", (since, ts, mid)).fetchone()[0])


def oldest_message_key(c: sqlite3.Connection) -> tuple[int, str] | None:
    """(timestamp, id) of the oldest message here: where a history (sent newest first)
    that stopped goes on."""
    row = c.execute("SELECT timestamp, id FROM messages ORDER BY timestamp, id LIMIT 1"
                    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


# --- history answers under way (resumed after a restart) --------------------------------


def history_jobs(c: sqlite3.Connection) -> list[tuple[str, int, tuple[int, str] | None]]:
    """(device id, since, the last message queued for it or None) per answer under way."""
    return [(device, since, None if ts is None else (ts, mid)) for device, since, ts, mid in
            c.execute("SELECT device_id, since, before_ts, before_id FROM history_jobs")]


def set_history_job(c: sqlite3.Connection, device: str, since: int,
                    before: tuple[int, str] | None) -> None:
    ts, mid = before or (None, None)
    c.execute("INSERT OR REPLACE INTO history_jobs VALUES (?,?,?,?)", (device, since, ts, mid))


def drop_history_job(c: sqlite3.Connection, device: str) -> None:
    c.execute("DELETE FROM history_jobs WHERE device_id=?", (device,))


def missed_by_peer(c: sqlite3.Connection, sid: str, limit: int) -> list[Entry]:
    """My messages in a conversation, sent after the last MANIFEST to the peer
    (`sessions.last_manifest_sync`), that they have not acknowledged (no delivery tick):
    what a peer MANIFEST carries."""
    rows = c.execute(
        f"SELECT {', '.join(_MESSAGE_FIELDS)} FROM messages "  # noqa: S608
        "WHERE sid=? AND sender='me' AND status=1 AND timestamp > "
        "(SELECT last_manifest_sync FROM sessions WHERE sid=?) "
        "ORDER BY timestamp, id LIMIT ?", (sid, sid, limit)).fetchall()
    return media_sync.attach(c, [_message_entry(r) for r in rows])


def _with_files(c: sqlite3.Connection, keyed: list[tuple[Any, Entry]]) -> list[tuple[Any, Entry]]:
    """Shared files' entries carry their FILE_INFO (storage.media_sync)."""
    media_sync.attach(c, [entry for _, entry in keyed])
    return keyed


def _message_entry(row: Any) -> Entry:
    entry = dict(zip(_MESSAGE_FIELDS, row, strict=True))
    entry["is_read"] = bool(entry["is_read"])
    return entry


# --- merging -------------------------------------------------------------------------------


@attrs.define
class Merged:
    """What a MANIFEST changed here."""

    contacts: list[str] = attrs.Factory(list)  # user ids of new contacts
    settings: list[str] = attrs.Factory(list)  # contacts whose nickname/notes/mark changed
    blocks: bool = False
    requests: bool = False
    messages: dict[str, int] = attrs.Factory(dict)  # sid -> messages new or changed here
    deleted: list[tuple[str, str]] = attrs.Factory(list)  # (message id, sid)
    received: list[Entry] = attrs.Factory(list)  # a contact's messages new here
    unsent: list[StoredMessage] = attrs.Factory(list)  # markers of messages unsent here
    files: list[media_db.MediaRow] = attrs.Factory(list)  # shared files new here

    @property
    def anything(self) -> bool:
        return bool(self.contacts or self.settings or self.blocks or self.requests
                    or self.messages or self.deleted or self.unsent)


def merge_own(c: sqlite3.Connection, data: dict[str, Any],
              contacts: list[tuple[str, str, str, str, str]], now: int) -> Merged:
    """A MANIFEST from another device of mine. `contacts`: (sid, user id, email, name,
    account key) rows made from its contacts section by the caller."""
    merged = Merged()
    for sid, user_id, email, name, key in contacts:
        c.execute("INSERT OR IGNORE INTO identity_keys VALUES (?,?)", (user_id, key))
        (pinned,) = c.execute("SELECT identity_key FROM identity_keys WHERE user_id=?",
                              (user_id,)).fetchone()
        if c.execute("INSERT OR IGNORE INTO sessions (sid, peer_user_id, peer_email, "
                     "peer_name, peer_identity_key, created) VALUES (?,?,?,?,?,?)",
                     (sid, user_id, email, name, pinned, now)).rowcount:
            merged.contacts.append(user_id)
    for b in data.get("blocks", ()):
        if c.execute(
                "INSERT INTO blocked_users VALUES (?,?,?,?) ON CONFLICT(user_id) DO UPDATE "
                "SET email=excluded.email, action=excluded.action, "
                "timestamp=excluded.timestamp WHERE (excluded.timestamp, excluded.action, "
                "excluded.email) > (timestamp, action, email)",
                (b["user_id"], b["email"], b["action"], b["timestamp"])).rowcount:
            merged.blocks = True
            if b["action"] == "block":
                retention.forget(c, b["user_id"])
    for r in data.get("requests", ()):
        if c.execute(
                "INSERT INTO pending_requests (user_id, email, name, direction, action, "
                "timestamp) VALUES (?,?,?,?,?,?) ON CONFLICT(user_id) DO UPDATE SET "
                "email=excluded.email, name=excluded.name, direction=excluded.direction, "
                "action=excluded.action, timestamp=excluded.timestamp "
                "WHERE (excluded.timestamp, excluded.direction, excluded.action, "
                "excluded.email, excluded.name) > (timestamp, direction, action, email, name)",
                (r["user_id"], r["email"], r["name"], r["direction"], r["action"],
                 r["timestamp"])).rowcount:
            merged.requests = True
            if r["direction"] == "in" and r["action"] == "denied":
                retention.forget(c, r["user_id"])
    for a in data.get("aliases", ()):
        # A verified mark stands only for the key it was given for: not over a changed one.
        if c.execute(
                "UPDATE sessions SET alias_name=?, notes=?, alias_timestamp=?, "
                "verified=CASE WHEN ? AND changed_identity_key IS NULL THEN 1 ELSE 0 END, "
                "devices_changed=CASE WHEN ? THEN 0 ELSE devices_changed END "
                "WHERE peer_user_id=? AND (alias_timestamp, COALESCE(alias_name, ''), "
                "COALESCE(notes, ''), verified) < (?, ?, ?, ?)",
                (a["alias"], a["notes"], a["timestamp"], a["verified"], a["verified"],
                 a["user_id"], a["timestamp"], a["alias"] or "", a["notes"] or "",
                 int(a["verified"]))).rowcount:
            merged.settings.append(a["user_id"])
    sids = {sid for (sid,) in c.execute("SELECT sid FROM sessions")}
    entries = [m for m in data.get("messages", ()) if m["sid"] in sids]
    for m in _merge_messages(c, entries):
        merged.messages[m["sid"]] = merged.messages.get(m["sid"], 0) + 1
    merged.files = media_sync.merge(c, entries, now)
    for d in data.get("deleted", ()):
        if d.get("unsent"):  # unsent (issue 11): a marker stays, as the DELETE leaves it
            marker = messages.unsend_message(c, d["id"], d["sid"], d["sender"], d["at"])
            if marker is not None:
                merged.unsent.append(marker)
            continue
        c.execute("INSERT OR IGNORE INTO deleted_messages (id, sid, sender, at) "
                  "VALUES (?,?,?,?)", (d["id"], d["sid"], d["sender"], d["at"]))
        if c.execute("DELETE FROM messages WHERE id=? AND sid=? AND sender=?",
                     (d["id"], d["sid"], d["sender"])).rowcount:
            merged.deleted.append((d["id"], d["sid"]))
    return merged


def merge_from_peer(c: sqlite3.Connection, sid: str, messages: list[Entry],
                    now: int = 0) -> Merged:
    """A contact's MANIFEST: only messages they wrote, in our conversation, stored as
    received (insert-or-ignore); anything else in it is ignored."""
    merged = Merged()
    entries = [dict(m, sid=sid, sender="other", status=2, is_read=False)
               for m in messages if m["sender"] == "me"]  # what they wrote, no more
    for entry in _merge_messages(c, entries):
        merged.messages[sid] = merged.messages.get(sid, 0) + 1
        merged.received.append(entry)
    merged.files = media_sync.merge(c, entries, now)
    return merged


def _merge_messages(c: sqlite3.Connection, entries: list[Entry]) -> list[Entry]:
    """Insert-or-ignore by id (a deleted one never again; merged rows are not sent on:
    changed = -1); a known one only gains read state and ticks. Returns the entries that
    changed something. New rows go in one statement (a history page is mostly new)."""
    known: set[str] = set()
    deleted: set[tuple[str, str, str]] = set()
    unsent: set[tuple[str, str, str]] = set()
    ids = list(dict.fromkeys(m["id"] for m in entries))
    for at in range(0, len(ids), _IN_CHUNK):
        chunk = ids[at:at + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        known.update(r[0] for r in c.execute(
            f"SELECT id FROM messages WHERE id IN ({marks})", chunk))  # noqa: S608
        for r in c.execute(f"SELECT id, sid, sender, unsent FROM deleted_messages "  # noqa: S608
                           f"WHERE id IN ({marks})", chunk):
            (unsent if r[3] else deleted).add(r[:3])
    changed, new = [], {}
    for m in entries:
        if (m["id"], m["sid"], m["sender"]) in deleted:
            continue
        if (m["id"], m["sid"], m["sender"]) in unsent:  # only its marker comes in
            m = dict(m, text="", type=MessageType.DELETED, is_read=True)
        if m["id"] not in known:
            if m["id"] not in new:
                new[m["id"]] = m
                changed.append(m)
        elif _update_message(c, m):
            changed.append(m)
    c.executemany(f"INSERT OR IGNORE INTO messages ({', '.join(_MESSAGE_FIELDS)}, "  # noqa: S608
                  "changed) VALUES (?,?,?,?,?,?,?,?,?,-1)",
                  [tuple(m[f] for f in _MESSAGE_FIELDS) for m in new.values()])
    return changed


def _update_message(c: sqlite3.Connection, m: Entry) -> bool:
    """A message known here: its read state or tick moves forward only."""
    if m["sender"] == "other":
        return bool(m["is_read"] and c.execute(
            "UPDATE messages SET is_read=1 WHERE id=? AND sid=? AND sender='other' "
            "AND is_read=0", (m["id"], m["sid"])).rowcount)
    return bool(c.execute(
        "UPDATE messages SET status=? WHERE id=? AND sid=? AND sender='me' AND status<?",
        (m["status"], m["id"], m["sid"], m["status"])).rowcount)
