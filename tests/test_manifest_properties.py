"""The MANIFEST merge rules (client.storage.manifest, client.storage.profiles) as
properties (hypothesis): two or three devices of one account, each changing blocks,
requests, a contact's nickname/notes/verified mark, messages (new, read, deleted) and
the profile while apart, and exchanging MANIFESTs now and then in any order, end in
the same state once each has sent everything to the others: whatever the order, the
ties (equal timestamps or versions) and the repeats. Real account databases (the
schema's migrations on SQLite), no network."""

from __future__ import annotations

import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

import securechat.client.avatars as avatars
import securechat.client.storage.contacts as contacts
import securechat.client.storage.manifest as manifest
import securechat.client.storage.messages as messages
import securechat.client.storage.profiles as profiles
import securechat.client.storage.requests as requests
from securechat.client.model import Request, StoredMessage
from securechat.client.storage.schema import migrate_schema

BOB, SID = "b" * 64, "s" * 64
OTHERS = ("c" * 64, "d" * 64)
TIMES = st.integers(1, 4)  # few values: ties are common


def device() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:", isolation_level=None)
    migrate_schema(c)
    c.execute("INSERT INTO me (id, email, user_id, device_id) VALUES (1, 'a@x', 'a', 'd')")
    contacts.add_contact(c, SID, BOB, "bob@x", "Bob", "key", 0)
    return c


def message(index: int, sender: str) -> StoredMessage:
    """Ids are unique across devices and senders (client.model.new_message_id)."""
    return StoredMessage(f"{sender}{index}", SID, sender, f"text {index}", "text", index, 1,
                         False, None)


OPERATIONS = st.one_of(
    st.tuples(st.just("block"), st.sampled_from(OTHERS), st.booleans(), TIMES),
    st.tuples(st.just("request"), st.sampled_from(OTHERS), st.sampled_from(("in", "out")),
              st.sampled_from(("pending", "accepted", "denied")), TIMES),
    st.tuples(st.just("alias"), st.sampled_from((None, "Bobby", "Robert")), TIMES),
    st.tuples(st.just("notes"), st.sampled_from((None, "met at work", "owes me")), TIMES),
    st.tuples(st.just("verified"), st.booleans(), TIMES),
    st.tuples(st.just("message"), st.integers(0, 5), st.sampled_from(("me", "other"))),
    st.tuples(st.just("read")),
    st.tuples(st.just("delete"), st.integers(0, 5), st.sampled_from(("me", "other"))),
    st.tuples(st.just("profile"), st.sampled_from(("Alice", "Al", None)),
              st.sampled_from((b"avatar-1", b"avatar-2", None))),
)


def apply(c: sqlite3.Connection, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "block":
        requests.set_blocked(c, op[1], f"{op[1][0]}@x", op[2], op[3])
    elif kind == "request":
        requests.set_request(c, Request(op[1], f"{op[1][0]}@x", "", op[2], op[3], op[4]))
    elif kind == "alias":
        contacts.set_alias(c, BOB, op[1], op[2])
    elif kind == "notes":
        contacts.set_notes(c, BOB, op[1], op[2])
    elif kind == "verified":
        contacts.set_verified(c, BOB, op[1], op[2])
    elif kind == "message":
        messages.insert_message(c, message(op[1], op[2]))
    elif kind == "read":
        messages.mark_read(c, SID)
    elif kind == "delete":
        messages.delete_message(c, f"{op[2]}{op[1]}", SID, op[2], 5)
    elif kind == "profile":
        profiles.set_mine(c, op[1], op[2], op[1] is None, 5)


def everything(c: sqlite3.Connection) -> dict[str, Any]:
    """What a device sends: its whole state and every message (as a history does)."""
    data: dict[str, Any] = manifest.state_since(c, 0)
    data["messages"] = [entry for _, entry in manifest.history_page(c, 0, None, 10_000)]
    return data


def receive(c: sqlite3.Connection, data: dict[str, Any]) -> None:
    with c:  # one transaction, as an envelope's
        c.execute("BEGIN")
        manifest.merge_own(c, data, [], 10)
        for entry in data.get("profile", ()):
            profiles.merge_mine(c, profiles.Profile(
                entry["name"], avatars.from_uri(entry["avatar"]) if entry["avatar"] else None,
                entry["name_version"], entry["avatar_version"]))


def state(c: sqlite3.Connection) -> tuple[Any, ...]:
    return (
        c.execute("SELECT * FROM blocked_users ORDER BY user_id").fetchall(),
        c.execute("SELECT user_id, email, name, direction, action, timestamp FROM "
                  "pending_requests ORDER BY user_id").fetchall(),
        c.execute("SELECT alias_name, notes, verified, alias_timestamp FROM sessions"
                  ).fetchall(),
        c.execute("SELECT id, sid, sender, text, timestamp, status, is_read FROM messages "
                  "ORDER BY id, sender").fetchall(),
        c.execute("SELECT id, sid, sender FROM deleted_messages ORDER BY id, sender"
                  ).fetchall(),
        c.execute("SELECT public_name, name_version, avatar, avatar_version FROM me"
                  ).fetchall(),
    )


class MergeProperties(unittest.SynchronousTestCase):
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(devices=st.integers(2, 3), data=st.data())
    def test_devices_converge_whatever_the_order(self, devices: int, data: Any) -> None:
        dbs = [device() for _ in range(devices)]
        steps = data.draw(st.lists(st.one_of(
            st.tuples(st.integers(0, devices - 1), OPERATIONS),
            st.tuples(st.integers(0, devices - 1), st.tuples(
                st.just("sync"), st.integers(0, devices - 1)))), max_size=30))
        for at, op in steps:
            if op[0] == "sync":  # a MANIFEST from `at` reaches one other device, now
                if op[1] != at:
                    receive(dbs[op[1]], everything(dbs[at]))
            else:
                apply(dbs[at], op)
        # Back together: each device's MANIFEST reaches the others, in a drawn order.
        order = data.draw(st.permutations([(a, b) for a in range(devices)
                                           for b in range(devices) if a != b]))
        sent = {a: everything(dbs[a]) for a in range(devices)}
        for a, b in order:
            receive(dbs[b], sent[a])
        first = state(dbs[0])
        for other in dbs[1:]:
            self.assertEqual(state(other), first)
