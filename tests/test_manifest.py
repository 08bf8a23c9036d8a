"""One account, the same on every device (client.manifest): MANIFEST sync between my own
devices, history for a new device, missed messages pushed to a contact, and a contact's
forged MANIFEST ignored. Real clients on a real relay."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.client import ClientError, events
from securechat.client.model import MessageStatus, MessageType, Sender, StoredMessage
from securechat.protocol import frames
from securechat.protocol.frames import Frame
from securechat.protocol.keys import user_id_for_email
from tests.clientsupport import ClientTestCase

ev = events
CAROL = user_id_for_email("carol@example.org")


class OwnDevicesTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob(phone="phone")
        self.bob_id = self.bob.me.user_id

    @defer.inlineCallbacks
    def test_settings_made_while_a_device_was_away_reach_it(self) -> Any:
        """Nickname, notes, verified mark and a block made on the laptop while the phone
        was off are there when the phone comes back."""
        yield self.phone.stop()
        yield self.alice.set_alias(self.bob_id, "Bobby")
        yield self.alice.set_notes(self.bob_id, "met at the conference")
        yield self.alice.set_verified(self.bob_id)
        yield self.alice.block(CAROL)
        yield self.alice.account_sync.settled()
        yield self.alice.flush_outbox()
        phone = yield self.reopen(self.phone, "phone")
        yield self.online(phone)
        yield self.wait_until(phone, lambda: phone.contacts[self.bob_id].verified)
        contact = phone.contacts[self.bob_id]
        self.assertEqual(contact.alias_name, "Bobby")
        self.assertEqual((yield phone.notes(self.bob_id)), "met at the conference")
        self.assertIn(CAROL, phone.blocked)

    @defer.inlineCallbacks
    def test_conflicting_nicknames_resolve_to_the_newer_on_both(self) -> Any:
        """Both devices rename Bob while apart: the later rename wins on both."""
        yield self.phone.stop()
        yield self.alice.set_alias(self.bob_id, "from the laptop")
        yield self.alice.account_sync.settled()
        yield self.alice.flush_outbox()
        phone = yield self.reopen(self.phone, "phone")  # not started: still apart
        yield phone.set_alias(self.bob_id, "from the phone")
        yield self.online(phone)
        yield self.wait_until(self.alice, lambda: self.alice.contacts[self.bob_id].alias_name
                              == "from the phone")
        yield phone.account_sync.settled()
        yield phone.flush_outbox()
        self.assertEqual(phone.contacts[self.bob_id].alias_name, "from the phone")

    @defer.inlineCallbacks
    def test_an_unblock_on_one_device_unblocks_on_the_other(self) -> Any:
        yield self.alice.block(CAROL)
        yield self.wait_until(self.phone, lambda: CAROL in self.phone.blocked)
        yield self.phone.block(CAROL, False)
        yield self.wait_until(self.alice, lambda: CAROL not in self.alice.blocked)

    @defer.inlineCallbacks
    def test_nothing_changed_nothing_pushed(self) -> Any:
        yield self.alice.account_sync.push()  # whatever is left from the setup
        before = yield self.alice.outbox_entries()
        yield self.alice.account_sync.push()
        self.assertEqual((yield self.alice.outbox_entries()) - before, set())


class ForgedManifestTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_a_contacts_manifest_changes_nothing_but_their_own_messages(self) -> Any:
        """Bob sends Alice MANIFESTs as if from her own device: her blocks, nicknames and
        contacts stay; no message is put in her mouth; a message Bob wrote is taken."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        sid = alice.contacts[bob.me.user_id].sid
        forged = {
            "blocks": [{"user_id": CAROL, "email": "", "action": "block", "timestamp": 2**40}],
            "aliases": [{"user_id": bob.me.user_id, "alias": "trusted", "notes": None,
                         "verified": True, "timestamp": 2**40}],
            "contacts": [{"user_id": CAROL, "email": "carol@example.org", "name": "",
                          "identity_key": "A" * 44}],
            "messages": [
                {"id": "forged-1", "sid": sid, "sender": "other", "text": "I owe Bob $100",
                 "type": "text", "timestamp": 1, "status": 2, "is_read": False,
                 "reply_to": None},
                {"id": "bobs-1", "sid": "elsewhere", "sender": "me", "text": "from Bob",
                 "type": "text", "timestamp": 2, "status": 1, "is_read": False,
                 "reply_to": None}],
        }
        for frame_sid in ("", sid):  # self-addressed-looking, and in our conversation
            yield bob.outbox.queue(alice.me.user_id, Frame(frames.MANIFEST, frame_sid, forged),
                                   copy_to_own=False)
        yield bob.send_text(alice.me.user_id, "after")
        yield self.log(alice).wait_for(ev.MessageReceived, lambda e: e.message.text == "after")
        self.assertNotIn(CAROL, alice.blocked)
        self.assertNotIn(CAROL, alice.contacts)
        contact = alice.contacts[bob.me.user_id]
        self.assertEqual((contact.alias_name, contact.verified), (None, False))
        texts = {(m.sender, m.text) for m in (yield alice.messages(bob.me.user_id))}
        self.assertEqual(texts, {(Sender.OTHER, "from Bob"), (Sender.OTHER, "after")})


class HistoryTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_a_new_device_gets_the_contacts_and_the_whole_history(self) -> Any:
        """1,200 messages (several pages) and the contact reach a phone signed in later;
        adding Bob there says he is a contact already."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        sid = alice.contacts[bob.me.user_id].sid
        yield alice.send_text(bob.me.user_id, "sent for real")
        yield self.log(bob).wait_for(ev.MessageReceived)
        for i in range(1200):
            yield alice.store.add_message(StoredMessage(
                f"m{i:05d}", sid, Sender.OTHER if i % 2 else Sender.ME, f"message {i} " * 8,
                MessageType.TEXT, 1_000_000 + i, MessageStatus.READ, True, None))
        yield alice.set_alias(bob.me.user_id, "Bobby")
        phone = yield self.login("phone", alice.me.email)
        log = self.log(phone)
        yield self.online(phone)
        progress = yield log.wait_for(ev.HistoryProgress, lambda e: e.received >= e.total)
        self.assertEqual(progress.total, 1201)
        self.assertEqual(phone.contacts[bob.me.user_id].alias_name, "Bobby")
        on_laptop = yield alice.messages(bob.me.user_id, limit=5000)
        on_phone = yield phone.messages(bob.me.user_id, limit=5000)
        self.assertEqual(on_phone, on_laptop)
        with self.assertRaises(ClientError) as raised:
            yield phone.add_friend(bob.me.email)
        self.assertIn("already a contact", str(raised.exception))
        # The friendship works from the phone at once.
        yield phone.send_text(bob.me.user_id, "from the phone")
        yield self.log(bob).wait_for(ev.MessageReceived,
                                     lambda e: e.message.text == "from the phone")


class PeerManifestTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_messages_lost_by_the_relay_come_by_peer_manifest(self) -> Any:
        """Bob writes while Alice is away and the relay loses her mailbox: when she comes
        back, Bob's device pushes what she never acknowledged."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        yield alice.stop()
        sent = yield bob.send_text(alice.me.user_id, "while you were away")
        yield bob.flush_outbox()
        alice = yield self.reopen(alice, "alice")  # not started yet
        yield self.relay_loses_mail(bob)  # all of it (expired, say)
        yield self.online(alice)
        yield self.log(alice).wait_for(ev.ConversationChanged)
        (got,) = yield alice.messages(bob.me.user_id)
        self.assertEqual((got.id, got.text, got.sender), (sent.id, sent.text, Sender.OTHER))
