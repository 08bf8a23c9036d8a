"""The redesigned client core: the friend-request table, events that carry their data,
the frame-handler table's routing, presence and typing as core state.

Real clients on a real relay; the typing timers run on a task.Clock handed to the
typing indicator (the only clock swapped), so no test waits on wall time.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task

from securechat.client import (
    ClientError,
    ConversationSummary,
    MessageStatus,
    MessageType,
    NoSuchAccount,
    RequestState,
    SecureChatClient,
    events,
)
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.friends import TRANSITIONS, FriendEvent
from securechat.client.keys import session_id
from securechat.client.typing_indicator import PEER_TYPING_LAPSE, TYPING_IDLE, TYPING_REFRESH
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame
from tests.clientsupport import ClientTestCase, LaptopPhoneAndBobCase
from tests.dbtraces import traces
from tests.hostile import HostileRelay

ev = events


class FriendRequestTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob(friends=False)

    def friend_frame(self, sender: SecureChatClient, kind: str, to: SecureChatClient) -> Frame:
        data = {"email": sender.me.email, "name": "", "to_email": to.me.email}
        return Frame(kind, session_id(to.me.email, sender.me.email), data)

    @defer.inlineCallbacks
    def test_an_accept_nobody_asked_for_makes_no_contact(self) -> Any:
        """Bob answers a request Alice never sent: nothing changes on her side."""
        alice_log = self.log(self.alice)
        yield self.bob.outbox.queue(self.alice.me.user_id, self.friend_frame(
            self.bob, frames.FRIEND_ACCEPT, self.alice))
        # A request queued after it arrives after it: by then the accept was handled.
        yield self.bob.add_friend(self.alice.me.email)
        yield alice_log.wait_for(ev.FriendRequestReceived)
        self.assertNotIn(self.bob.me.user_id, self.alice.contacts)
        self.assertEqual(alice_log.of(ev.ContactAdded), [])
        (request,) = yield self.alice.pending_requests(incoming_only=True)
        self.assertEqual((request.user_id, request.state),
                         (self.bob.me.user_id, RequestState.ASKED_ME))

    @defer.inlineCallbacks
    def test_requests_that_cross_make_friends_at_once(self) -> Any:
        """Each asked the other: both said yes, nobody has anything left to answer."""
        alice_log, bob_log = self.log(self.alice), self.log(self.bob)
        yield defer.gatherResults([self.alice.add_friend(self.bob.me.email),
                                   self.bob.add_friend(self.alice.me.email)])
        for log in (alice_log, bob_log):
            yield log.wait_for(ev.ContactAdded)
            answered = yield log.wait_for(ev.FriendRequestAnswered)
            self.assertTrue(answered.accepted)
        self.assertIn(self.bob.me.user_id, self.alice.contacts)
        self.assertIn(self.alice.me.user_id, self.bob.contacts)
        self.assertEqual(self.alice.contacts[self.bob.me.user_id].sid,
                         self.bob.contacts[self.alice.me.user_id].sid)
        for client in (self.alice, self.bob):
            self.assertEqual((yield client.pending_requests()), [])
        yield self.alice.send_text(self.bob.me.user_id, "hi")
        yield bob_log.wait_for(ev.MessageReceived)

    @defer.inlineCallbacks
    def test_a_denied_user_may_ask_again_and_the_answer_is_told(self) -> Any:
        alice_log, bob_log = self.log(self.alice), self.log(self.bob)
        yield self.alice.add_friend(self.bob.me.email)
        yield bob_log.wait_for(ev.FriendRequestReceived)
        self.assertEqual([r.state for r in (yield self.alice.pending_requests())],
                         [RequestState.ASKED])
        yield self.bob.deny_friend(self.alice.me.user_id)
        answer = yield alice_log.wait_for(ev.FriendRequestAnswered)
        self.assertFalse(answer.accepted)
        (request,) = yield self.alice.requests()
        self.assertEqual(request.state, RequestState.THEY_DENIED)
        with self.assertRaises(ClientError):  # nothing pending from Alice any more
            yield self.bob.accept_friend(self.alice.me.user_id)
        mark = bob_log.mark()
        yield self.alice.add_friend(self.bob.me.email)
        yield bob_log.wait_for(ev.FriendRequestReceived, since=mark)
        self.assertEqual([r.state for r in (yield self.bob.pending_requests(True))],
                         [RequestState.ASKED_ME])

    @defer.inlineCallbacks
    def test_asking_for_a_stranger_email_is_refused_with_the_reason(self) -> Any:
        with self.assertRaises(NoSuchAccount):
            yield self.alice.add_friend("nobody@example.org")
        with self.assertRaises(NoSuchAccount):
            yield self.alice.lookup_account("nobody@example.org")
        self.assertTrue((yield self.alice.lookup_account(self.bob.me.email)))
        self.assertEqual((yield self.alice.requests()), [])

    @defer.inlineCallbacks
    def test_when_my_devices_answer_differently_the_accept_stands(self) -> Any:
        phone = yield self.login("alice-phone", "alice@example.org")
        yield self.online(phone)
        marks = {id(c): self.log(c).mark() for c in (self.alice, phone)}
        yield self.bob.add_friend(self.alice.me.email)
        for device in (self.alice, phone):
            yield self.log(device).wait_for(ev.FriendRequestReceived, since=marks[id(device)])
        yield defer.gatherResults([self.alice.deny_friend(self.bob.me.user_id),
                                   phone.accept_friend(self.bob.me.user_id)])
        for device in (self.alice, phone, self.bob):
            peer = self.bob.me.user_id if device is not self.bob else self.alice.me.user_id
            yield self.wait_until(device, lambda d=device, p=peer: p in d.contacts)
        for device in (self.alice, phone):
            self.assertEqual((yield device.pending_requests()), [])

    def test_the_table_never_makes_friends_without_an_ask_on_my_side(self) -> None:
        """The only ways into FRIENDS from a state where I had not asked are my own
        answers (here or on another device of mine)."""
        mine = {FriendEvent.I_ACCEPT, FriendEvent.MY_DEVICE_ACCEPTED}
        for (state, event), new in TRANSITIONS.items():
            if new is RequestState.FRIENDS and state in (RequestState.NONE,
                                                         RequestState.ASKED_ME,
                                                         RequestState.I_DENIED):
                self.assertIn(event, mine, (state, event))


class OrderAndDeletionTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob()

    @defer.inlineCallbacks
    def test_messages_refused_for_a_stale_device_list_go_again_in_order(self) -> Any:
        """Bob added a device while Alice was away: the relay refuses her first sends (her
        list of his devices is stale); they go again in the order she wrote them."""
        yield self.alice.stop()
        phone = yield self.login("bob-phone", "bob@example.org")
        yield self.online(phone)
        yield phone.stop()  # offline: Alice hears of it from nobody
        self.clients.remove(phone)
        alice = yield self.reopen(self.alice, "alice")
        refused = HostileRelay(self.relay).refusals(uris.MESSAGE_SEND)
        sent = []
        for i in range(40):
            sent.append((yield alice.send_text(self.bob.me.user_id, f"offline {i}")))
        bob_log = self.log(self.bob)
        yield self.online(alice)
        ids = {m.id for m in sent}
        yield self.wait_until(self.bob, lambda: ids <= {
            e.message.id for e in bob_log.of(ev.MessageReceived)})
        self.assertIn(uris.ERR_DEVICE_MISMATCH, refused)
        self.assertEqual([e.message.id for e in bob_log.of(ev.MessageReceived)],
                         [m.id for m in sent])

    @defer.inlineCallbacks
    def test_a_message_whose_deletion_came_first_never_shows_its_text(self) -> Any:
        bob_log, bob_id = self.log(self.bob), self.bob.me.user_id
        sid = self.alice.contacts[bob_id].sid
        gone = Frame(frames.MSG, sid, {"id": "0" * 32, "text": "unsent", "timestamp": 1,
                                       "replyTo": None})
        yield self.alice.outbox.queue(bob_id, Frame(frames.DELETE, sid, {"id": "0" * 32}))
        yield self.alice.outbox.queue(bob_id, gone)
        after = yield self.alice.send_text(bob_id, "after")
        yield bob_log.wait_for(ev.MessageReceived, lambda e: e.message.id == after.id)
        self.assertEqual([e.message.text for e in bob_log.of(ev.MessageReceived)], ["after"])
        # Issue 11: it comes as an unsent message's marker, without its text (was: not
        # stored at all).
        history = yield self.bob.messages(self.alice.me.user_id)
        self.assertEqual(sorted((m.text, m.type) for m in history),
                         [("", MessageType.DELETED), ("after", MessageType.TEXT)])
        self.assertEqual((yield self.bob.store.run(traces, "unsent")), [])


class EventDataTests(ClientTestCase):
    """Events carry what the UI shows, so it need not ask the core again."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob(phone="alice-phone")
        self.added = yield self.log(self.alice).wait_for(ev.ContactAdded)

    @defer.inlineCallbacks
    def test_message_events_name_the_peer_and_contact_events_carry_the_contact(self) -> Any:
        alice_log, bob_id = self.log(self.alice), self.bob.me.user_id
        self.assertEqual(self.added.contact, self.alice.contacts[bob_id])
        self.assertEqual(self.added.contact.peer_email, "bob@example.org")
        sent = yield self.alice.send_text(bob_id, "hello")
        self.assertEqual(alice_log.of(ev.MessageSent)[-1].peer_user_id, bob_id)
        tick = yield alice_log.wait_for(ev.MessageUpdated, lambda e: e.message_id == sent.id)
        self.assertEqual((tick.status, tick.peer_user_id), (MessageStatus.SENT, bob_id))
        yield self.alice.set_alias(bob_id, "Bobby")
        updated = alice_log.of(ev.ContactUpdated)[-1]
        self.assertEqual((updated.peer_user_id, updated.contact.display_name),
                         (bob_id, "Bobby"))
        yield self.alice.delete_message(sent.id)
        deleted = alice_log.of(ev.MessageDeleted)[-1]
        self.assertEqual((deleted.message_id, deleted.peer_user_id), (sent.id, bob_id))
        changed = alice_log.of(ev.ConversationChanged)[-1]
        self.assertEqual(changed, ev.ConversationChanged(bob_id, ConversationSummary(None, 0)))

    @defer.inlineCallbacks
    def test_reading_on_another_device_changes_the_conversation_summary(self) -> Any:
        phone = self.phone
        phone_log, laptop_log = self.log(phone), self.log(self.alice)
        got = yield self.bob.send_text(self.alice.me.user_id, "read me")
        for log in (phone_log, laptop_log):
            yield log.wait_for(ev.MessageReceived, lambda e: e.message.id == got.id)
        yield phone.mark_read(self.bob.me.user_id)
        changed = yield laptop_log.wait_for(ev.ConversationChanged)
        self.assertEqual(changed.peer_user_id, self.bob.me.user_id)
        self.assertEqual(changed.summary.unread, 0)
        self.assertEqual(changed.summary.last_message.id, got.id)


class PresenceAndTypingTests(LaptopPhoneAndBobCase):
    @defer.inlineCallbacks
    def test_a_contact_is_online_while_any_of_their_devices_is(self) -> Any:
        alice, bob_log = self.laptop.me.user_id, self.log(self.bob)
        yield self.wait_until(self.bob, lambda: self.bob.is_online(alice))
        mark = bob_log.mark()
        yield self.phone.stop()
        self.clients.remove(self.phone)
        yield bob_log.wait_for(ev.PresenceChanged, lambda e: not e.online, since=mark)
        self.assertTrue(self.bob.is_online(alice))  # the laptop is still there
        self.assertEqual([e for e in bob_log.events[mark:]
                          if isinstance(e, ev.ContactPresenceChanged)], [])
        yield self.laptop.stop()
        self.clients.remove(self.laptop)
        gone = yield bob_log.wait_for(ev.ContactPresenceChanged, since=mark)
        self.assertEqual((gone.peer_user_id, gone.online), (alice, False))
        self.assertFalse(self.bob.is_online(alice))

    @defer.inlineCallbacks
    def test_typing_is_sent_at_most_every_few_seconds_and_stops_when_idle(self) -> Any:
        clock = self.laptop.typing.clock = task.Clock()
        sends = HostileRelay(self.relay).capture(uris.MESSAGE_SEND_LIVE)  # ephemeral
        bob_id, bob_log = self.bob.me.user_id, self.log(self.bob)
        self.laptop.composing(bob_id, "   ")  # blank: nothing to show
        self.laptop.composing(bob_id, "h")
        started = yield bob_log.wait_for(ev.TypingChanged)
        self.assertTrue(started.typing)
        for text in ("he", "hel", "hell"):  # within TYPING_REFRESH: no more frames
            clock.advance(TYPING_REFRESH / 4)
            self.laptop.composing(bob_id, text)
        yield self.laptop.flush_outbox()
        self.assertEqual(len(sends), 1)
        clock.advance(TYPING_IDLE)
        stopped = yield bob_log.wait_for(ev.TypingChanged, lambda e: not e.typing)
        self.assertEqual(stopped.peer_user_id, self.laptop.me.user_id)
        self.assertEqual(len(sends), 2)

    @defer.inlineCallbacks
    def test_a_peers_typing_lapses_and_ends_with_their_message(self) -> Any:
        clock = self.bob.typing.clock = task.Clock()
        alice, bob_log = self.laptop.me.user_id, self.log(self.bob)
        yield self.laptop.send_typing(self.bob.me.user_id, True)
        yield bob_log.wait_for(ev.TypingChanged, lambda e: e.typing)
        self.assertTrue(self.bob.is_typing(alice))
        clock.advance(PEER_TYPING_LAPSE)
        self.assertFalse(self.bob.is_typing(alice))
        self.assertFalse(bob_log.of(ev.TypingChanged)[-1].typing)
        yield self.laptop.send_typing(self.bob.me.user_id, True)
        yield bob_log.wait_for(ev.TypingChanged, lambda e: e.typing)
        mark = bob_log.mark()
        yield self.laptop.send_text(self.bob.me.user_id, "done typing")
        yield bob_log.wait_for(ev.MessageReceived, since=mark)
        self.assertFalse(self.bob.is_typing(alice))
        kinds = [type(e) for e in bob_log.events[mark:]]
        self.assertLess(kinds.index(ev.TypingChanged), kinds.index(ev.MessageReceived))


class CatchingUpTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_a_refused_step_is_tried_again_and_the_connection_says_syncing_meanwhile(
            self) -> Any:
        alice = yield self.register("alice", "alice@example.org")
        clock = alice.sync.clock = task.Clock()
        log = self.log(alice)
        refused: defer.Deferred[None] = defer.Deferred()

        def refuse_once(caller: Any, result: Any, *args: Any, **kwargs: Any) -> Any:
            if not refused.called:
                refused.callback(None)
                raise ApplicationError(uris.ERR_RATE_LIMITED, "slow down")
            return result
        HostileRelay(self.relay).rewrite(uris.MAILBOX_FETCH, refuse_once)
        alice.start()
        yield refused
        retrying = yield log.wait_for(ev.ConnectionStateChanged, lambda e: e.retry_in)
        self.assertEqual((retrying.state, retrying.reason), ("syncing", uris.ERR_RATE_LIMITED))
        self.assertEqual([e.state for e in log.of(ev.ConnectionStateChanged)],
                         ["connecting", "syncing", "syncing"])
        self.assertFalse(alice.is_caught_up)
        clock.advance(retrying.retry_in)
        yield log.wait_for(ev.CaughtUp)
        self.assertEqual(log.of(ev.ConnectionStateChanged)[-1].state, "online")


class FrameRoutingTests(ClientTestCase):
    """The frame-handler table's rules, on a real client's context."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", "alice@example.org")
        self.table = FrameHandlers(self.alice._ctx)
        self.seen: list[Origin] = []
        self.frame = Frame(frames.MSG, "", {"id": "x", "text": "t", "timestamp": 1,
                                            "replyTo": None})

    def handle(self, frame: Frame, origin: Origin) -> Outcome:
        self.seen.append(origin)
        return Outcome()

    def test_self_addressed_frames_reach_only_handlers_that_ask_for_them(self) -> None:
        me = self.alice.me.user_id
        self.table.register(frames.MSG, self.handle)
        self.table.interpret(self.frame, me, "another-device-of-mine")
        self.assertEqual(self.seen, [])
        table = FrameHandlers(self.alice._ctx)
        table.register(frames.MSG, self.handle, self_addressed=True)
        table.interpret(self.frame, me, "another-device-of-mine")
        (origin,) = self.seen
        self.assertTrue(origin.self_addressed)
        self.assertEqual((origin.sender, origin.peer), (me, None))

    @defer.inlineCallbacks
    def test_a_strangers_frame_is_held_dropped_or_handled_as_registered(self) -> Any:
        stranger = "f" * 64
        self.table.register(frames.MSG, self.handle)  # held
        self.table.register(frames.TYPING, self.handle, strangers="drop")
        self.table.register(frames.FRIEND_REQUEST, self.handle, strangers="handle")
        yield self.table.interpret(self.frame, stranger).apply()
        yield self.table.interpret(Frame(frames.TYPING, "", {"typing": True}),
                                   stranger).apply()
        self.assertEqual(self.seen, [])
        held = yield self.alice.store.take_held(stranger)
        self.assertEqual([frames.parse(h).type for h in held], [frames.MSG])
        self.table.interpret(Frame(frames.FRIEND_REQUEST, "", {"email": "e", "name": ""}),
                             stranger)
        self.assertEqual([o.sender for o in self.seen], [stranger])

    def test_one_handler_per_frame_type(self) -> None:
        self.table.register(frames.MSG, self.handle)
        with self.assertRaises(ValueError):
            self.table.register(frames.MSG, self.handle)
