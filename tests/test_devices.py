"""The device set is visible (issue 8, item 3) and history is truthful (item 7: L5, L8).

Real relay, real clients. A device added to an account is told to the account's other
devices and to its contacts; a removal needs the master password; a removed device gets
nothing more; a forged timestamp does not move a message into the past; a key change of
someone with a pending friend request is shown.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.client import events as ev
from securechat.client.clock import MAX_SKEW_MS
from securechat.client.devices import device_changes
from securechat.client.errors import ClientError, WrongPassword
from securechat.client.model import MessageType, Sender, new_message_id
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame
from tests.clientsupport import ClientTestCase
from tests.hostile import HostileRelay, envelopes_to, forged_envelope

ALICE, BOB = "alice@example.org", "bob@example.org"
PASSWORD = "pw-" + "x" * 10  # clientsupport's default


def _now_ms() -> int:
    return int(time.time() * 1000)


class OwnDevicesTests(ClientTestCase):

    @defer.inlineCallbacks
    def test_my_devices_are_told_of_a_new_device_and_of_its_removal(self) -> Any:
        laptop = yield self.register("alice-laptop", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(laptop, bob)
        yield self.befriend(laptop, bob)
        log = self.log(laptop)
        # --- Alice signs in on a phone: the laptop is told at once (the relay's hint),
        # before the phone even connects.
        phone = yield self.login("alice-phone", ALICE)
        added = yield log.wait_for(ev.DeviceAdded)
        self.assertEqual((added.user_id, added.device_id, added.own),
                         (laptop.me.user_id, phone.me.device_id, True))
        notices = yield laptop.device_notices()
        self.assertEqual([n.device_id for n in notices], [phone.me.device_id])
        # The laptop's own first list (at its first connect) told nothing.
        self.assertEqual([e.device_id for e in log.of(ev.DeviceAdded)], [phone.me.device_id])
        yield self.online(phone)
        self.assertEqual(self.log(phone).of(ev.DeviceAdded), [])  # its first list: no news
        # --- the linked-devices list: both, this one marked, with times -------------------
        linked = yield laptop.linked_devices()
        by_id = {d.device_id: d for d in linked}
        self.assertEqual(set(by_id), {laptop.me.device_id, phone.me.device_id})
        self.assertTrue(by_id[laptop.me.device_id].this_device)
        self.assertFalse(by_id[phone.me.device_id].this_device)
        self.assertEqual(by_id[phone.me.device_id].name, phone.me.device_id)  # no names yet
        started = _now_ms() - 120_000
        for device in linked:
            self.assertGreater(device.added_at, started)
            self.assertGreater(device.last_seen, started)  # both connected
        # --- a message to Bob goes to the phone too (a copy) ------------------------------
        hostile = HostileRelay(self.relay)
        sends = hostile.capture(uris.MESSAGE_SEND)
        yield laptop.send_text(bob.me.user_id, "before")
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.text == "before")
        to_bob = [call for call in sends if call[1][0] == bob.me.user_id]
        self.assertEqual(len(envelopes_to(to_bob, phone.me.device_id)), 1)
        # --- removing it: the master password, checked here first ---------------------
        with self.assertRaises(WrongPassword):
            yield laptop.remove_device(phone.me.device_id, "not the password")
        self.assertEqual(len((yield laptop.linked_devices())), 2)  # nothing changed
        with self.assertRaises(ClientError):
            yield laptop.remove_device(laptop.me.device_id, PASSWORD)
        kicked = self.log(phone).wait_for(ev.ConnectionStateChanged,
                                          lambda e: e.state == "failed",
                                          since=self.log(phone).mark())
        mark = log.mark()
        yield laptop.remove_device(phone.me.device_id, PASSWORD)
        removed = yield log.wait_for(ev.DeviceRemoved, since=mark)
        self.assertEqual((removed.device_id, removed.own), (phone.me.device_id, True))
        yield kicked
        self.assertEqual((yield laptop.device_notices()), [])  # gone with the device
        linked = yield laptop.linked_devices()
        self.assertEqual([d.device_id for d in linked], [laptop.me.device_id])
        with self.assertRaises(ClientError):  # already gone
            yield laptop.remove_device(phone.me.device_id, PASSWORD)
        # --- nothing more is encrypted to it -------------------------------------------
        del sends[:]
        yield laptop.send_text(bob.me.user_id, "after")
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.text == "after")
        self.assertEqual(envelopes_to(sends, phone.me.device_id), [])
        self.assertEqual(len(envelopes_to(sends, bob.me.device_id)), 1)

    @defer.inlineCallbacks
    def test_a_device_added_while_i_was_away_is_told_when_i_connect(self) -> Any:
        laptop = yield self.register("alice-laptop", ALICE)
        yield self.online(laptop)
        laptop = yield self.reopen(laptop, "alice-laptop")  # offline now
        phone = yield self.login("alice-phone", ALICE)
        yield self.online(laptop)
        added = self.log(laptop).of(ev.DeviceAdded)
        self.assertEqual([(e.device_id, e.own) for e in added], [(phone.me.device_id, True)])
        notices = yield laptop.device_notices()
        self.assertEqual([n.device_id for n in notices], [phone.me.device_id])
        # "It was me": the notice goes, and stays gone after a restart.
        self.assertTrue((yield laptop.dismiss_device_notice(phone.me.device_id)))
        laptop = yield self.reopen(laptop, "alice-laptop")
        self.assertEqual((yield laptop.device_notices()), [])

    @defer.inlineCallbacks
    def test_only_my_own_device_list_says_when_devices_were_added_and_seen(self) -> Any:
        alice = yield self.register("alice", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(alice, bob)
        session = bob.connection.session
        theirs = yield session.call(uris.DEVICE_LIST, alice.me.user_id)
        self.assertEqual(set(theirs[0]),
                         {"device_id", "user_id", "signing_key", "identity_key", "signature",
                          "pending"})
        mine = yield session.call(uris.DEVICE_LIST, bob.me.user_id)
        self.assertEqual(set(mine[0]) - set(theirs[0]), {"created", "last_seen"})
        self.assertGreater(mine[0]["last_seen"], _now_ms() - 120_000)


class ContactDevicesTests(ClientTestCase):

    @defer.inlineCallbacks
    def test_a_contact_signing_in_on_a_new_device_is_shown_and_unverifies_them(self) -> Any:
        laptop = yield self.register("alice-laptop", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(laptop, bob)
        yield self.befriend(laptop, bob)
        alice_id = laptop.me.user_id
        yield bob.set_verified(alice_id, True)
        log = self.log(bob)
        self.assertEqual(log.of(ev.DeviceAdded), [])  # learning Alice's devices: no news
        # Alice signs in on a phone; it comes online and Bob, a mutual contact, sees it.
        phone = yield self.login("alice-phone", ALICE)
        yield self.online(phone)
        added = yield log.wait_for(ev.DeviceAdded)
        self.assertEqual((added.user_id, added.device_id, added.own),
                         (alice_id, phone.me.device_id, False))
        line = added.notice
        self.assertEqual((line.sender, line.type, line.text),
                         (Sender.SYSTEM, MessageType.DEVICE_ADDED, phone.me.device_id))
        yield self.wait_until(bob, lambda: not bob.contacts[alice_id].verified)
        self.assertTrue(bob.contacts[alice_id].devices_changed)
        self.assertEqual((yield bob.unread_count(alice_id)), 0)  # a line, not a message
        # It survives a restart, in its place in the conversation.
        bob = yield self.reopen(bob, "bob")
        history = yield bob.messages(alice_id)
        self.assertEqual([(m.sender, m.type) for m in history],
                         [(Sender.SYSTEM, MessageType.DEVICE_ADDED)])
        self.assertFalse(bob.contacts[alice_id].verified)
        self.assertTrue(bob.contacts[alice_id].devices_changed)
        # Comparing safety numbers again settles it.
        yield bob.set_verified(alice_id, True)
        self.assertTrue(bob.contacts[alice_id].verified)
        self.assertFalse(bob.contacts[alice_id].devices_changed)
        # And Bob's messages now go to the phone as well.
        sends = HostileRelay(self.relay).capture(uris.MESSAGE_SEND)
        yield self.online(bob)
        yield bob.send_text(alice_id, "hi both")
        yield self.log(laptop).wait_for(ev.MessageReceived)
        self.assertEqual(len(envelopes_to(sends, phone.me.device_id)), 1)

    @defer.inlineCallbacks
    def test_a_contact_removing_a_device_is_shown(self) -> Any:
        laptop = yield self.register("alice-laptop", ALICE)
        phone = yield self.login("alice-phone", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(laptop, phone, bob)
        yield self.befriend(laptop, bob, phone)
        yield laptop.remove_device(phone.me.device_id, PASSWORD)
        # Bob finds out when he next writes: the relay refuses the old device set.
        yield bob.send_text(laptop.me.user_id, "still there?")
        removed = yield self.log(bob).wait_for(ev.DeviceRemoved)
        self.assertEqual((removed.device_id, removed.own), (phone.me.device_id, False))
        self.assertEqual(removed.notice.type, "device_removed")
        got = yield self.log(laptop).wait_for(ev.MessageReceived)
        self.assertEqual(got.message.text, "still there?")


class TruthfulHistoryTests(ClientTestCase):

    @defer.inlineCallbacks
    def test_a_forged_timestamp_does_not_move_a_message_in_history(self) -> Any:
        alice = yield self.register("alice", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(alice, bob)
        yield self.befriend(alice, bob)
        sid = alice.contacts[bob.me.user_id].sid
        yield alice.send_text(bob.me.user_id, "first")
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.text == "first")
        day = 24 * 3600 * 1000

        def doctored(text: str, timestamp: int) -> Any:
            # Alice's own send path, with a timestamp of her choosing.
            return alice.outbox.queue(bob.me.user_id, Frame(frames.MSG, sid, {
                "id": new_message_id(timestamp), "text": text, "timestamp": timestamp,
                "replyTo": None}))

        before = _now_ms()
        yield doctored("from the past", before - day)
        yield doctored("from the future", before + day)
        slow = before - 2 * 60 * 1000  # a clock two minutes slow: within the tolerance
        yield doctored("slow clock", slow)
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.text == "slow clock")
        after = _now_ms()
        history = yield bob.messages(alice.me.user_id)
        when = {m.text: m.timestamp for m in history}
        for text in ("from the past", "from the future"):
            self.assertTrue(before <= when[text] <= after, (text, when[text], before, after))
        self.assertEqual(when["slow clock"], slow)
        self.assertEqual([m.text for m in history][:2], ["slow clock", "first"])
        self.assertEqual(set([m.text for m in history][2:]), {"from the past", "from the future"})
        self.assertLess(MAX_SKEW_MS, day)

    @defer.inlineCallbacks
    def test_a_key_change_of_someone_who_asked_to_be_friends_is_shown(self) -> Any:
        alice = yield self.register("alice", ALICE)
        bob = yield self.register("bob", BOB)
        yield self.online(alice, bob)
        yield alice.add_friend(BOB)
        yield self.log(bob).wait_for(ev.FriendRequestReceived)
        # The relay now claims another account key for Alice, and a device of its own.
        forged_key = base64.b64encode(os.urandom(32)).decode()
        hostile = HostileRelay(self.relay)
        hostile.rewrite(uris.ACCOUNT_PUBLIC, lambda caller, answer, user_id: {
            **answer, "identity_key": forged_key} if user_id == alice.me.user_id else answer)
        self.assertEqual(hostile.inject(bob.me.device_id, forged_envelope(
            alice.me.user_id, "relaysdevice0001", 0, b"not olm")), 1)
        changed = yield self.log(bob).wait_for(ev.IdentityKeyChanged)
        self.assertEqual((changed.peer_user_id, changed.email, changed.request),
                         (alice.me.user_id, ALICE, True))
        yield self.log(bob).wait_for(ev.EnvelopeRejected)  # and the ghost is not believed
        requests = yield bob.requests()
        self.assertEqual([(r.email, r.action, r.key_changed) for r in requests],
                         [(ALICE, "pending", True)])
        # Told once per request, not for every envelope.
        mark = self.log(bob).mark()
        hostile.inject(bob.me.device_id, forged_envelope(
            alice.me.user_id, "relaysdevice0001", 0, b"not olm"))
        yield self.log(bob).wait_for(ev.EnvelopeRejected, since=mark)
        self.assertEqual(len(self.log(bob).of(ev.IdentityKeyChanged)), 1)


class DeviceChangesTests(unittest.TestCase):
    def test_what_changed_between_two_verified_lists(self) -> None:
        self.assertEqual(device_changes(None, {"a": "k1"}), ([], []))
        self.assertEqual(device_changes({"a": "k1"}, {"a": "k1", "b": "k2"}), ([("b", "k2")], []))
        self.assertEqual(device_changes({"a": "k1", "b": "k2"}, {"a": "k1"}), ([], ["b"]))
        # the same id with another key: another device answers to it
        self.assertEqual(device_changes({"a": "k1"}, {"a": "k9"}), ([("a", "k9")], ["a"]))
