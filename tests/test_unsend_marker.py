"""Unsend leaves a "message deleted" marker on both sides (issue 11, docs/protocol.md
§9.7): the row stays in the conversation, its text wiped from the database (the message,
the search index, reactions, edit history), on the recipient's devices and on my own,
whether the DELETE came before or after its message, or through a MANIFEST. Real relay,
real clients, real account databases."""

from __future__ import annotations

import sqlite3
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

import securechat.client.storage.contacts as contacts
import securechat.client.storage.manifest as manifest
import securechat.client.storage.messages as messages
from securechat.client import events as ev
from securechat.client.errors import ClientError
from securechat.client.model import MessageType, StoredMessage
from securechat.client.storage.schema import migrate_schema
from securechat.protocol import frames
from securechat.protocol.frames import Frame, InvalidFrame
from tests.clientsupport import LaptopPhoneAndBobCase
from tests.dbtraces import traces


class UnsendMarkerTests(LaptopPhoneAndBobCase):
    """Alice has a laptop and a phone; Bob has one device."""

    @defer.inlineCallbacks
    def test_unsend_leaves_a_marker_everywhere_and_the_text_leaves_every_database(self) -> Any:
        bob_id, alice_id = self.bob.me.user_id, self.laptop.me.user_id
        sent = yield self.laptop.send_text(bob_id, "meet at the lighthouse")
        reply = yield self.bob.send_text(alice_id, "ok", reply_to=sent.id)
        yield self.log(self.phone).wait_for(ev.MessageReceived, lambda e: e.message.id == reply.id)
        yield self.log(self.laptop).wait_for(ev.MessageReceived,
                                             lambda e: e.message.id == reply.id)
        yield self.bob.actions.react(sent.id, "👀")
        yield self.log(self.laptop).wait_for(ev.ReactionChanged)
        yield self.laptop.actions.edit(sent.id, "meet at the harbour")
        yield self.log(self.bob).wait_for(ev.MessageEdited)
        self.assertEqual(len((yield self.bob.search.messages("harbour"))), 1)

        yield self.laptop.unsend_message(sent.id)
        for device in (self.bob, self.phone, self.laptop):
            event = yield self.log(device).wait_for(
                ev.MessageDeleted, lambda e: e.message_id == sent.id and e.marker is not None)
            self.assertEqual((event.marker.type, event.marker.text), (MessageType.DELETED, ""))
        for device, peer in ((self.bob, alice_id), (self.phone, bob_id), (self.laptop, bob_id)):
            history = yield device.messages(peer)
            # The marker keeps its place; the reply still points at it.
            self.assertEqual([(m.id, m.type, m.text) for m in history],
                             [(sent.id, MessageType.DELETED, ""), (reply.id, "text", "ok")])
            self.assertEqual(history[1].reply_to, sent.id)
            for word in ("lighthouse", "harbour"):
                self.assertEqual((yield device.store.run(traces, word)), [])
            self.assertEqual((yield device.search.messages("meet")), [])
            self.assertEqual((yield device.actions.extras(peer, [sent.id])), {})
            self.assertEqual((yield device.actions.versions(sent.id)), [])
        # A marker is not reacted to, edited or unsent again; nor does it count as unread.
        with self.assertRaises(ClientError):
            yield self.bob.actions.react(sent.id, "👍")
        with self.assertRaises(ClientError):
            yield self.laptop.actions.edit(sent.id, "back again")
        with self.assertRaises(ClientError):
            yield self.laptop.unsend_message(sent.id)
        self.assertEqual((yield self.bob.unread_count(alice_id)), 0)
    test_unsend_leaves_a_marker_everywhere_and_the_text_leaves_every_database.timeout = 60

    @defer.inlineCallbacks
    def test_a_reaction_or_edit_sent_to_a_marker_changes_nothing(self) -> Any:
        bob_id = self.bob.me.user_id
        sent = yield self.laptop.send_text(bob_id, "short-lived")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        yield self.laptop.unsend_message(sent.id)
        yield self.log(self.bob).wait_for(ev.MessageDeleted)
        sid = self.laptop.contacts[bob_id].sid
        # An old client (or a hostile one) still sends an edit and a reaction for it.
        yield self.laptop.outbox.queue(bob_id, Frame(frames.EDIT, sid, {
            "id": sent.id, "text": "resurrected", "timestamp": sent.timestamp + 10**6}))
        yield self.laptop.outbox.queue(bob_id, Frame(frames.REACTION, sid, {
            "id": sent.id, "emoji": "🎉", "timestamp": sent.timestamp + 10**6}))
        after = yield self.laptop.send_text(bob_id, "after")
        yield self.log(self.bob).wait_for(ev.MessageReceived, lambda e: e.message.id == after.id)
        marker = yield self.bob.store.message(sent.id)
        self.assertEqual((marker.type, marker.text), (MessageType.DELETED, ""))
        self.assertEqual((yield self.bob.store.run(traces, "resurrected")), [])
        self.assertEqual((yield self.bob.actions.extras(self.laptop.me.user_id, [sent.id])), {})

    @defer.inlineCallbacks
    def test_the_other_side_cannot_unsend_my_message(self) -> Any:
        """Bob (or a relay replaying his frames) names Alice's message in a DELETE: a
        DELETE unsends only what its sender wrote."""
        bob_id, alice_id = self.bob.me.user_id, self.laptop.me.user_id
        sent = yield self.laptop.send_text(bob_id, "mine to keep")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        sid = self.bob.contacts[alice_id].sid
        yield self.bob.outbox.queue(alice_id, Frame(frames.DELETE, sid, {"id": sent.id}))
        after = yield self.bob.send_text(alice_id, "after")
        yield self.log(self.laptop).wait_for(ev.MessageReceived,
                                             lambda e: e.message.id == after.id)
        for device, peer in ((self.laptop, bob_id), (self.bob, alice_id)):
            texts = [m.text for m in (yield device.messages(peer))]
            self.assertEqual(texts, ["mine to keep", "after"])


class ManifestCarriesUnsendTests(unittest.SynchronousTestCase):
    """A device that missed the DELETE learns the unsend from a MANIFEST's deletions,
    and keeps the marker; a deletion for me still removes the row."""

    BOB, SID = "b" * 64, "s" * 64

    def device(self) -> sqlite3.Connection:
        c = sqlite3.connect(":memory:", isolation_level=None)
        migrate_schema(c)
        c.execute("INSERT INTO me (id, email, user_id, device_id) VALUES (1, 'a@x', 'a', 'd')")
        contacts.add_contact(c, self.SID, self.BOB, "bob@x", "Bob", "key", 0)
        for i, sender in enumerate(("me", "other")):
            messages.insert_message(c, StoredMessage(f"m{i}", self.SID, sender,
                                                     f"secret{i} words", "text", i + 1, 1,
                                                     False, None))
        return c

    def test_an_unsend_and_a_delete_for_me_travel_in_a_manifest(self) -> None:
        laptop, phone = self.device(), self.device()
        self.assertIsNotNone(messages.unsend_message(laptop, "m0", self.SID, "me", 5))
        self.assertTrue(messages.delete_message(laptop, "m1", self.SID, "other", 6))
        data = manifest.state_since(laptop, 0)
        self.assertEqual(sorted((d["id"], d.get("unsent", False)) for d in data["deleted"]),
                         [("m0", True), ("m1", False)])
        frames.parse(Frame(frames.MANIFEST, "", {"deleted": data["deleted"]}).encode())
        with phone:
            phone.execute("BEGIN")
            merged = manifest.merge_own(phone, {"deleted": data["deleted"]}, [], 10)
        self.assertEqual([m.id for m in merged.unsent], ["m0"])
        self.assertEqual(merged.deleted, [("m1", self.SID)])
        self.assertEqual(phone.execute("SELECT id, type, text FROM messages").fetchall(),
                         [("m0", "deleted", "")])
        self.assertEqual(traces(phone, "secret0"), [])
        # A history page that still carries the text brings back only the marker.
        late = self.device()
        late.execute("DELETE FROM messages")
        with late:
            late.execute("BEGIN")
            manifest.merge_own(late, {"deleted": data["deleted"]}, [], 10)
            manifest.merge_own(late, {"messages": [
                {"id": "m0", "sid": self.SID, "sender": "me", "text": "secret0 words",
                 "type": "text", "timestamp": 1, "status": 1, "is_read": False,
                 "reply_to": None}]}, [], 10)
        self.assertEqual(late.execute("SELECT id, type, text FROM messages").fetchall(),
                         [("m0", "deleted", "")])

    def test_a_manifest_deletion_says_unsent_with_a_boolean(self) -> None:
        entry = {"id": "m", "sid": "s", "sender": "me", "at": 1, "unsent": "yes"}
        with self.assertRaises(InvalidFrame):
            frames.parse(Frame(frames.MANIFEST, "", {"deleted": [entry]}).encode())
