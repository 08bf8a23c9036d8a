"""The client core end to end: friends, messages, ticks, typing, unsend, several devices."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.client import events as ev
from securechat.client.errors import ClientError
from securechat.client.model import MessageStatus, MessageType
from securechat.protocol import frames
from securechat.protocol.frames import Frame
from tests.clientsupport import LaptopPhoneAndBobCase
from tests.dbtraces import traces


class TwoDevicesAndAFriendTests(LaptopPhoneAndBobCase):
    """Alice has a laptop and a phone; Bob has one device."""

    @defer.inlineCallbacks
    def test_friendship_is_known_on_every_device_with_the_same_sid(self) -> Any:
        alice_sid = self.laptop.contacts[self.bob.me.user_id].sid
        self.assertEqual(self.phone.contacts[self.bob.me.user_id].sid, alice_sid)
        self.assertEqual(self.bob.contacts[self.laptop.me.user_id].sid, alice_sid)
        requests = yield self.bob.requests()
        self.assertEqual([(r.direction, r.action) for r in requests], [("in", "accepted")])
        self.assertEqual(self.laptop.safety_number(self.bob.me.user_id),
                         self.bob.safety_number(self.laptop.me.user_id))
        self.assertEqual(len(self.bob.safety_number(self.laptop.me.user_id)), 60)

    @defer.inlineCallbacks
    def test_messages_reach_every_device_both_ways(self) -> Any:
        bob_log, phone_log = self.log(self.bob), self.log(self.phone)
        sent = yield self.laptop.send_text(self.bob.me.user_id, "hi Bob")
        got = yield bob_log.wait_for(ev.MessageReceived)
        self.assertEqual((got.message.id, got.message.text), (sent.id, "hi Bob"))
        self.assertEqual(got.peer_user_id, self.laptop.me.user_id)
        # Alice's phone gets her own message as hers.
        copy = yield phone_log.wait_for(ev.MessageSent, lambda e: e.message.id == sent.id)
        self.assertEqual(copy.message.sender, "me")
        reply = yield self.bob.send_text(self.laptop.me.user_id, "hi Alice", reply_to=sent.id)
        for device in (self.laptop, self.phone):
            got = yield self.log(device).wait_for(ev.MessageReceived)
            self.assertEqual((got.message.text, got.message.reply_to), ("hi Alice", sent.id))
        history = yield self.phone.messages(self.bob.me.user_id)
        self.assertEqual([(m.sender, m.text) for m in history],
                         [("me", "hi Bob"), ("other", "hi Alice")])
        self.assertEqual(history[1].id, reply.id)

    @defer.inlineCallbacks
    def test_ticks_go_sent_then_delivered_then_read(self) -> Any:
        log = self.log(self.laptop)
        sent = yield self.laptop.send_text(self.bob.me.user_id, "tick tock")
        for status in (MessageStatus.SENT, MessageStatus.DELIVERED):
            yield log.wait_for(ev.MessageUpdated,
                               lambda e, s=status: (e.message_id, e.status) == (sent.id, s))
        self.assertEqual((yield self.bob.unread_count(self.laptop.me.user_id)), 1)
        read_ids = yield self.bob.mark_read(self.laptop.me.user_id)
        self.assertEqual(read_ids, [sent.id])
        self.assertEqual((yield self.bob.unread_count(self.laptop.me.user_id)), 0)
        yield log.wait_for(ev.MessageUpdated, lambda e: (e.message_id, e.status)
                           == (sent.id, MessageStatus.READ))
        stored = yield self.laptop.store.message(sent.id)
        self.assertEqual(stored.status, MessageStatus.READ)

    @defer.inlineCallbacks
    def test_typing_indicator(self) -> Any:
        yield self.bob.send_typing(self.laptop.me.user_id, True)
        event = yield self.log(self.laptop).wait_for(ev.TypingChanged)
        self.assertEqual((event.peer_user_id, event.typing), (self.bob.me.user_id, True))

    @defer.inlineCallbacks
    def test_unsend_leaves_a_marker_on_every_device(self) -> Any:
        # Issue 11: the message stays as a "message deleted" marker, its text gone from
        # every database (was: the row disappeared).
        sent = yield self.laptop.send_text(self.bob.me.user_id, "oops")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        yield self.log(self.phone).wait_for(ev.MessageSent, lambda e: e.message.id == sent.id)
        yield self.laptop.unsend_message(sent.id)
        for device in (self.bob, self.phone):
            yield self.log(device).wait_for(ev.MessageDeleted, lambda e: e.message_id == sent.id)
        for device, peer in ((self.bob, self.laptop), (self.phone, self.bob),
                             (self.laptop, self.bob)):
            history = yield device.messages(peer.me.user_id)
            self.assertEqual([(m.id, m.type, m.text) for m in history],
                             [(sent.id, MessageType.DELETED, "")])
            self.assertEqual((yield device.store.run(traces, "oops")), [])

    @defer.inlineCallbacks
    def test_deleting_a_received_message_is_local_only(self) -> Any:
        sent = yield self.laptop.send_text(self.bob.me.user_id, "keep this")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        yield self.bob.delete_message(sent.id)
        self.assertEqual((yield self.bob.messages(self.laptop.me.user_id)), [])
        yield self.laptop.flush_outbox()
        history = yield self.laptop.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history], ["keep this"])

    @defer.inlineCallbacks
    def test_deleting_my_own_message_for_me_keeps_it_elsewhere(self) -> Any:
        sent = yield self.laptop.send_text(self.bob.me.user_id, "only off my laptop")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        yield self.log(self.phone).wait_for(ev.MessageSent, lambda e: e.message.id == sent.id)
        yield self.laptop.delete_message(sent.id)
        self.assertEqual((yield self.laptop.messages(self.bob.me.user_id)), [])
        yield self.laptop.flush_outbox()  # nothing was queued to tell anyone
        for device, peer in ((self.bob, self.laptop), (self.phone, self.bob)):
            history = yield device.messages(peer.me.user_id)
            self.assertEqual([m.text for m in history], ["only off my laptop"])
        with self.assertRaises(ClientError):  # theirs cannot be unsent by me
            yield self.bob.unsend_message(sent.id)

    @defer.inlineCallbacks
    def test_reading_on_one_device_marks_read_on_the_others(self) -> Any:
        phone_log = self.log(self.phone)
        sent = yield self.bob.send_text(self.laptop.me.user_id, "read me once")
        yield phone_log.wait_for(ev.MessageReceived)
        yield self.log(self.laptop).wait_for(ev.MessageReceived)
        summary = (yield self.phone.summaries())[self.bob.me.user_id]
        self.assertEqual((summary.last_message.text, summary.unread), ("read me once", 1))
        yield self.laptop.mark_read(self.bob.me.user_id)
        read = yield phone_log.wait_for(ev.MessagesRead)
        self.assertEqual((read.peer_user_id, read.message_ids), (self.bob.me.user_id, (sent.id,)))
        self.assertEqual((yield self.phone.unread_count(self.bob.me.user_id)), 0)
        summary = (yield self.phone.summaries())[self.bob.me.user_id]
        self.assertEqual(summary.unread, 0)

    @defer.inlineCallbacks
    def test_nickname_and_verified_mark_are_mine_alone(self) -> Any:
        bob_id = self.bob.me.user_id
        yield self.laptop.set_alias(bob_id, "  Bobby  ")
        yield self.laptop.set_verified(bob_id)
        self.assertEqual(self.laptop.contacts[bob_id].display_name, "Bobby")
        self.assertTrue(self.laptop.contacts[bob_id].verified)
        updated = self.log(self.laptop).of(ev.ContactUpdated)
        self.assertEqual([e.peer_user_id for e in updated], [bob_id, bob_id])
        laptop = yield self.reopen(self.laptop, "alice-laptop")
        self.assertEqual(laptop.contacts[bob_id].display_name, "Bobby")  # stored
        self.assertTrue(laptop.contacts[bob_id].verified)
        self.assertEqual(self.bob.contacts[laptop.me.user_id].display_name, "alice-laptop")
        with self.assertRaises(ClientError):
            yield laptop.set_alias(bob_id, "x" * 65)
        yield laptop.set_alias(bob_id, "")  # back to their own name
        self.assertEqual(laptop.contacts[bob_id].display_name, "bob")

    @defer.inlineCallbacks
    def test_history_pages_by_timestamp_then_id(self) -> Any:
        sent = []
        for i in range(5):
            sent.append((yield self.laptop.send_text(self.bob.me.user_id, f"m{i}")))
        newest = yield self.laptop.messages(self.bob.me.user_id, limit=2)
        self.assertEqual([m.text for m in newest], ["m3", "m4"])
        older = yield self.laptop.messages(self.bob.me.user_id, limit=10,
                                           before=(newest[0].timestamp, newest[0].id))
        self.assertEqual([m.text for m in older], ["m0", "m1", "m2"])
        newer = yield self.laptop.messages(self.bob.me.user_id, limit=2,
                                           after=(older[0].timestamp, older[0].id))
        self.assertEqual([m.text for m in newer], ["m1", "m2"])

    @defer.inlineCallbacks
    def test_a_burst_arrives_in_order_once_each_and_no_tick_goes_back(self) -> Any:
        # More than the outbox hands to the relay at once: the sends overlap.
        bob_log, laptop_log, phone_log = (self.log(c) for c in (self.bob, self.laptop,
                                                                 self.phone))
        peer = self.bob.me.user_id
        sent = yield defer.gatherResults([self.laptop.send_text(peer, f"burst {i}")
                                          for i in range(150)])
        ids = [m.id for m in sent]
        delivered = set(ids)
        yield self.wait_until(self.laptop, lambda: delivered <= {
            e.message_id for e in laptop_log.of(ev.MessageUpdated)
            if e.status == MessageStatus.DELIVERED})
        yield self.wait_until(self.phone, lambda: delivered <= {
            e.message.id for e in phone_log.of(ev.MessageSent)})
        self.assertEqual([e.message.id for e in bob_log.of(ev.MessageReceived)], ids)
        self.assertEqual([e.message.id for e in phone_log.of(ev.MessageSent)], ids)
        for message_id in ids:
            ticks = [e.status for e in laptop_log.of(ev.MessageUpdated)
                     if e.message_id == message_id]
            self.assertEqual(ticks, [MessageStatus.SENT, MessageStatus.DELIVERED])
        history = yield self.bob.messages(self.laptop.me.user_id, limit=200)
        self.assertEqual([m.id for m in history], ids)

    @defer.inlineCallbacks
    def test_a_message_sent_again_in_another_envelope_is_shown_once(self) -> Any:
        # What a sender that crashed between the relay's answer and its own commit does.
        bob_log = self.log(self.bob)
        peer = self.bob.me.user_id
        sent = yield self.laptop.send_text(peer, "only once")
        yield bob_log.wait_for(ev.MessageReceived, lambda e: e.message.id == sent.id)
        again = Frame(frames.MSG, self.laptop.contacts[peer].sid, {
            "id": sent.id, "text": sent.text, "timestamp": sent.timestamp, "replyTo": None})
        yield self.laptop.outbox.queue(peer, again)
        after = yield self.laptop.send_text(peer, "and then this")
        yield bob_log.wait_for(ev.MessageReceived, lambda e: e.message.id == after.id)
        self.assertEqual([e.message.text for e in bob_log.of(ev.MessageReceived)],
                         ["only once", "and then this"])
        history = yield self.bob.messages(self.laptop.me.user_id)
        self.assertEqual([m.text for m in history], ["only once", "and then this"])
