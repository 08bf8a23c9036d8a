"""Reactions and edits end to end (client.message_actions): they reach the contact and
my other device, survive out-of-order delivery, and nobody can touch what is not theirs."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.client import events as ev
from securechat.client.errors import ClientError
from securechat.client.model import Sender
from securechat.protocol import frames
from securechat.protocol.frames import Frame, InvalidFrame
from tests.clientsupport import ClientTestCase, LaptopPhoneAndBobCase


class ReactionsAndEditsTests(LaptopPhoneAndBobCase):
    """Alice has a laptop and a phone; Bob has one device. In the hostile test Mallory is
    another contact of Alice's and Trudy a stranger."""

    @defer.inlineCallbacks
    def sent_and_copied(self, text: str) -> Any:
        """A message from Alice's laptop, once Bob and her phone have it."""
        sent = yield self.laptop.send_text(self.bob.me.user_id, text)
        yield self.log(self.bob).wait_for(ev.MessageReceived, lambda e: e.message.id == sent.id)
        yield self.log(self.phone).wait_for(ev.MessageSent, lambda e: e.message.id == sent.id)
        return sent

    @defer.inlineCallbacks
    def after_bobs_next_message(self, client: Any) -> Any:
        """Bob writes; once `client` has it, everything Bob (or anyone, before him) sent
        to it was handled."""
        marker = yield self.bob.send_text(self.laptop.me.user_id, "marker")
        yield self.log(client).wait_for(ev.MessageReceived, lambda e: e.message.id == marker.id)

    @defer.inlineCallbacks
    def test_a_reaction_reaches_the_contact_and_my_other_device(self) -> Any:
        sent = yield self.sent_and_copied("lunch at noon?")
        bob_id, alice_id = self.bob.me.user_id, self.laptop.me.user_id
        yield self.bob.actions.react(sent.id, "👍")
        for device in (self.laptop, self.phone):
            got = yield self.log(device).wait_for(ev.ReactionChanged)
            self.assertEqual((got.message_id, got.reactor, got.emoji, got.peer_user_id),
                             (sent.id, Sender.OTHER, "👍", bob_id))
        # Alice reacts on her laptop: Bob and her phone see it as hers.
        yield self.laptop.actions.react(sent.id, "❤️")
        got = yield self.log(self.bob).wait_for(ev.ReactionChanged,
                                                lambda e: e.reactor == Sender.OTHER)
        self.assertEqual(got.emoji, "❤️")
        yield self.log(self.phone).wait_for(ev.ReactionChanged, lambda e: e.reactor == "me")
        for device, peer in ((self.phone, bob_id), (self.bob, alice_id)):
            shown = (yield device.actions.extras(peer, [sent.id]))[sent.id]
            self.assertEqual(sorted(e for _, e in shown.reactions), ["❤️", "👍"])
        self.assertEqual((yield self.bob.actions.extras(alice_id, [sent.id]))[sent.id].mine,
                         "👍")
        # Taking it back takes it away everywhere.
        mark = self.log(self.phone).mark()
        yield self.bob.actions.react(sent.id, "")
        yield self.log(self.phone).wait_for(ev.ReactionChanged, lambda e: e.emoji == "",
                                            since=mark)
        shown = (yield self.phone.actions.extras(bob_id, [sent.id]))[sent.id]
        self.assertEqual(shown.reactions, (("me", "❤️"),))

    @defer.inlineCallbacks
    def test_an_edit_reaches_the_contact_and_my_other_device_with_its_history(self) -> Any:
        sent = yield self.sent_and_copied("see you at 12")
        bob_id, alice_id = self.bob.me.user_id, self.laptop.me.user_id
        yield self.laptop.actions.edit(sent.id, "see you at 1")
        for device in (self.bob, self.phone):
            got = yield self.log(device).wait_for(ev.MessageEdited)
            self.assertEqual((got.message_id, got.text), (sent.id, "see you at 1"))
        for device, peer in ((self.bob, alice_id), (self.phone, bob_id), (self.laptop, bob_id)):
            history = yield device.messages(peer)
            self.assertEqual([m.text for m in history], ["see you at 1"])
            self.assertTrue((yield device.actions.extras(peer, [sent.id]))[sent.id].edited)
            versions = yield device.actions.versions(sent.id)
            self.assertEqual([text for _, text in versions], ["see you at 12", "see you at 1"])

    @defer.inlineCallbacks
    def test_only_the_author_edits_and_only_with_real_text(self) -> Any:
        sent = yield self.sent_and_copied("mine")
        with self.assertRaises(ClientError):  # Bob's client refuses outright
            yield self.bob.actions.edit(sent.id, "Bob's words in Alice's mouth")
        for bad in ("   ", "x" * (frames.MAX_TEXT + 1)):
            with self.assertRaises(ClientError):
                yield self.laptop.actions.edit(sent.id, bad)
        with self.assertRaises(ClientError):
            yield self.laptop.actions.react(sent.id, "not one emoji")
        with self.assertRaises(ClientError):
            yield self.laptop.actions.react("0" * 32, "👍")

    @defer.inlineCallbacks
    def test_a_modified_client_cannot_edit_or_react_to_what_it_did_not_write(self) -> Any:
        """Bob's client sends raw EDIT frames for Alice's message; Mallory, Bob's contact,
        and Trudy, a stranger, aim at the same message in a conversation not theirs."""
        sent = yield self.sent_and_copied("the door code is 4711")
        sid = self.laptop.contacts[self.bob.me.user_id].sid
        alice_id = self.laptop.me.user_id
        yield self.bob.outbox.queue(alice_id, Frame(frames.EDIT, sid, {
            "id": sent.id, "text": "the door code is 0000", "timestamp": sent.timestamp + 1}))
        mallory = yield self.register("mallory", "mallory@example.org")
        trudy = yield self.register("trudy", "trudy@example.org")
        yield self.online(mallory, trudy)
        yield self.befriend(self.laptop, mallory, self.phone)
        for intruder in (mallory, trudy):
            own_sid = intruder.contacts.get(alice_id)
            for frame_sid in {sid, own_sid.sid if own_sid else "none"}:
                yield intruder.outbox.queue(alice_id, Frame(frames.EDIT, frame_sid, {
                    "id": sent.id, "text": "changed", "timestamp": sent.timestamp + 5}),
                    copy_to_own=False)
                yield intruder.outbox.queue(alice_id, Frame(frames.REACTION, frame_sid, {
                    "id": sent.id, "emoji": "💩", "timestamp": sent.timestamp + 5}),
                    copy_to_own=False)
            yield intruder.flush_outbox()
        for device in (self.laptop, self.phone):
            yield self.after_bobs_next_message(device)
            history = yield device.messages(self.bob.me.user_id)
            self.assertIn("the door code is 4711", [m.text for m in history])
            self.assertEqual((yield device.actions.extras(self.bob.me.user_id, [sent.id])), {})
        self.assertEqual((yield self.laptop.actions.versions(sent.id)), [])

    @defer.inlineCallbacks
    def test_an_older_reaction_or_edit_arriving_late_changes_nothing(self) -> Any:
        sent = yield self.sent_and_copied("first")
        alice_id = self.laptop.me.user_id
        sid = self.bob.contacts[alice_id].sid
        yield self.bob.actions.react(sent.id, "🎉")
        yield self.log(self.laptop).wait_for(ev.ReactionChanged)
        yield self.laptop.actions.edit(sent.id, "second")
        yield self.log(self.bob).wait_for(ev.MessageEdited)
        # a replayed older reaction from Bob, and an older edit from Alice's phone
        yield self.bob.outbox.queue(alice_id, Frame(frames.REACTION, sid, {
            "id": sent.id, "emoji": "👎", "timestamp": 1}), copy_to_own=False)
        yield self.phone.outbox.queue(self.bob.me.user_id, Frame(frames.EDIT, sid, {
            "id": sent.id, "text": "zeroth", "timestamp": sent.timestamp - 1000}))
        yield self.after_bobs_next_message(self.laptop)
        yield self.log(self.bob).wait_for(ev.MessageEdited, lambda e: e.text == "second")
        shown = (yield self.laptop.actions.extras(self.bob.me.user_id, [sent.id]))[sent.id]
        self.assertEqual(shown.reactions, (("other", "🎉"),))
        history = yield self.bob.messages(alice_id)
        self.assertEqual(history[0].text, "second")

    @defer.inlineCallbacks
    def test_deleting_a_message_takes_its_reactions_and_versions_with_it(self) -> Any:
        sent = yield self.sent_and_copied("short-lived")
        yield self.bob.actions.react(sent.id, "👀")
        yield self.log(self.laptop).wait_for(ev.ReactionChanged)
        yield self.laptop.actions.edit(sent.id, "edited, then gone")
        yield self.laptop.unsend_message(sent.id)
        yield self.log(self.bob).wait_for(ev.MessageDeleted)
        for device, peer in ((self.laptop, self.bob), (self.bob, self.laptop)):
            self.assertEqual((yield device.actions.extras(peer.me.user_id, [sent.id])), {})
            self.assertEqual((yield device.actions.versions(sent.id)), [])


class FrameShapeTests(ClientTestCase):
    def test_reaction_and_edit_frames_are_checked(self) -> None:
        ok = Frame(frames.REACTION, "s", {"id": "m", "emoji": "👍🏽", "timestamp": 1})
        self.assertEqual(frames.parse(ok.encode()), ok)
        for data in ({"id": "m", "emoji": "x" * 40, "timestamp": 1},
                     {"id": "m", "emoji": "a b", "timestamp": 1},
                     {"id": "m", "emoji": "\n", "timestamp": 1},
                     {"id": "m", "emoji": "👍"}):
            with self.assertRaises(InvalidFrame):
                frames.parse(Frame(frames.REACTION, "s", data).encode())
        for text in ("", " \n", "x" * (frames.MAX_TEXT + 1)):
            with self.assertRaises(InvalidFrame):
                frames.parse(Frame(frames.EDIT, "s", {"id": "m", "text": text,
                                                      "timestamp": 1}).encode())


class SearchTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_full_text_search_over_every_conversation(self) -> Any:
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        yield self.befriend(carol, alice)
        sent = []
        for sender, receiver, text in ((bob, alice, "Un café au lait, s'il vous plaît"),
                                       (carol, alice, "the CAFE on the corner is closed"),
                                       (bob, alice, "the door code is 4711")):
            message = yield sender.send_text(receiver.me.user_id, text)
            yield self.log(receiver).wait_for(ev.MessageReceived,
                                              lambda e, m=message: e.message.id == m.id)
            sent.append(message)
        mine = yield alice.send_text(bob.me.user_id, "see you at the café")
        hits = yield alice.search.messages("cafe")  # accents and case ignored
        self.assertEqual([(h.peer_user_id, h.message.id) for h in hits],
                         [(bob.me.user_id, mine.id), (carol.me.user_id, sent[1].id),
                          (bob.me.user_id, sent[0].id)])  # newest first
        hits = yield alice.search.messages("corn caf")  # every word, as a prefix
        self.assertEqual([h.message.id for h in hits], [sent[1].id])
        self.assertEqual((yield alice.search.messages("croissant")), [])  # no results
        for syntax in ('"', "NEAR(a b)", "*", "code OR café", "-door", "a:b", "(("):
            yield alice.search.messages(syntax)  # the user's text is never FTS syntax
        self.assertEqual((yield alice.search.messages("code OR cafe")), [])
        # an edit is found by its new words, not its old ones; a deleted message is gone
        yield alice.actions.edit(mine.id, "see you at the station")
        self.assertEqual([h.message.id for h in (yield alice.search.messages("station"))],
                         [mine.id])
        self.assertNotIn(mine.id, [h.message.id for h in (yield alice.search.messages("café"))])
        yield alice.delete_message(sent[2].id)
        self.assertEqual((yield alice.search.messages("door")), [])
        with self.assertRaises(ClientError):
            yield alice.search.messages("x" * 201)
