"""Fan-out, the mailbox, acks, expiry and the limits on sending."""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase, envelope


class FanOutTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.alice_laptop = yield self.device(self.alice, "alice-laptop")
        self.alice_phone = yield self.device(self.alice, "alice-phone")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.bob_phone = yield self.device(self.bob, "bob-phone")

    @defer.inlineCallbacks
    def test_one_send_reaches_every_device_of_the_recipient_and_my_other_devices(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        _, alice_phone = yield self.online(self.alice_phone)
        _, bob_laptop = yield self.online(self.bob_laptop, "json")
        _, bob_phone = yield self.online(self.bob_phone, "cbor")
        result = yield sender.call(uris.MESSAGE_SEND, self.bob.user_id, [
            envelope(self.bob_laptop, b"for bob's laptop"),
            envelope(self.bob_phone, b"for bob's phone"),
            envelope(self.alice_phone, b"for my phone"),
        ])
        got = yield defer.gatherResults([bob_laptop.next(), bob_phone.next(), alice_phone.next()])
        self.assertEqual([e["body"] for e in got],
                         [b"for bob's laptop", b"for bob's phone", b"for my phone"])
        for event in got:
            self.assertEqual(event["from_user"], self.alice.user_id)
            self.assertEqual(event["from_device"], "alice-laptop")
            self.assertEqual(event["ts"], result["ts"])
        self.assertEqual(sorted(result["ids"]), ["alice-phone", "bob-laptop", "bob-phone"])
        self.assertEqual({e["id"] for e in got}, set(result["ids"].values()))

    @defer.inlineCallbacks
    def test_a_send_missing_one_of_the_recipients_devices_is_refused_and_named(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        with self.assertRaises(ApplicationError) as caught:
            yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                              [envelope(self.bob_laptop), envelope(self.alice_laptop)])
        self.assertEqual(caught.exception.error, uris.ERR_DEVICE_MISMATCH)
        self.assertEqual(caught.exception.kwargs,
                         {"missing": ["bob-phone"], "unknown": ["alice-laptop"]})

    @defer.inlineCallbacks
    def test_offline_devices_get_their_envelopes_from_the_mailbox(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        sent = yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                                 [envelope(self.bob_laptop, b"1"), envelope(self.bob_phone, b"1")])
        yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                          [envelope(self.bob_laptop, b"2"), envelope(self.bob_phone, b"2")])
        bob, _ = yield self.online(self.bob_laptop)
        mailbox = yield bob.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"1", b"2"])
        self.assertEqual(mailbox["envelopes"][0]["id"], sent["ids"]["bob-laptop"])
        self.assertFalse(mailbox["more"])

    @defer.inlineCallbacks
    def test_mailbox_survives_a_relay_restart(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                          [envelope(self.bob_laptop, b"kept"), envelope(self.bob_phone, b"kept")])
        yield self.restart_relay()
        bob, _ = yield self.online(self.bob_phone)  # device keys survived too
        mailbox = yield bob.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"kept"])

    @defer.inlineCallbacks
    def test_ack_deletes_only_what_was_acked_and_only_my_own(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        first = yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                                  [envelope(self.bob_laptop, b"a"), envelope(self.bob_phone, b"a")])
        yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                          [envelope(self.bob_laptop, b"b"), envelope(self.bob_phone, b"b")])
        laptop, _ = yield self.online(self.bob_laptop)
        # The phone's envelope id, acked by the laptop: not the laptop's to delete.
        deleted = yield laptop.call(uris.MAILBOX_ACK,
                                    [first["ids"]["bob-laptop"], first["ids"]["bob-phone"]])
        self.assertEqual(deleted, 1)
        mailbox = yield laptop.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"b"])
        phone, _ = yield self.online(self.bob_phone)
        mailbox = yield phone.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"a", b"b"])

    @defer.inlineCallbacks
    def test_fetch_pages_through_a_large_mailbox(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        for i in range(7):
            yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                              [envelope(self.bob_laptop, str(i)), envelope(self.bob_phone, "x")])
        laptop, _ = yield self.online(self.bob_laptop)
        seen = []
        while True:
            page = yield laptop.call(uris.MAILBOX_FETCH, 3)
            seen += [e["body"] for e in page["envelopes"]]
            yield laptop.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
            if not page["more"]:
                break
        self.assertEqual(seen, [str(i) for i in range(7)])

    @defer.inlineCallbacks
    def test_a_page_of_the_mailbox_always_fits_in_one_message(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        big = b"x" * (200 * 1024)
        for _ in range(6):  # 1.2 MB in all: more than one WebSocket message may carry
            yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                              [envelope(self.bob_laptop, big), envelope(self.bob_phone, b".")])
        laptop, _ = yield self.online(self.bob_laptop, "json")
        pages = []
        while True:
            page = yield laptop.call(uris.MAILBOX_FETCH)
            pages.append(len(page["envelopes"]))
            yield laptop.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
            if not page["more"]:
                break
        self.assertEqual(sum(pages), 6)
        self.assertGreater(len(pages), 1)

    @defer.inlineCallbacks
    def test_a_live_envelope_stays_in_the_mailbox_until_acked(self) -> Any:
        """A device that drops right after a live push gets it again on reconnect."""
        sender, _ = yield self.online(self.alice_laptop)
        _, inbox = yield self.online(self.bob_laptop)
        yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                          [envelope(self.bob_laptop, b"live"), envelope(self.bob_phone)])
        live = yield inbox.next()
        bob_again, _ = yield self.online(self.bob_laptop)  # replaces the first session
        mailbox = yield bob_again.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["id"] for e in mailbox["envelopes"]], [live["id"]])


class LimitTests(RelayTestCase):
    use_clock = True
    config = RelayConfig(mailbox_ttl=60, mailbox_max_count=3, max_envelope_bytes=1000,
                         account_rate=1, account_burst=20)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.alice_laptop = yield self.device(self.alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.sender, _ = yield self.online(self.alice_laptop)

    def send(self, body: bytes = b"x") -> defer.Deferred[Any]:
        return self.sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                                [envelope(self.bob_laptop, body)])

    @defer.inlineCallbacks
    def test_expired_envelopes_are_not_delivered_and_are_purged(self) -> Any:
        yield self.send(b"old")
        self.clock.advance(61)
        yield self.send(b"new")
        bob, _ = yield self.online(self.bob_laptop)
        mailbox = yield bob.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"new"])
        purged = yield self.relay.router.delivery.purge()
        self.assertEqual(purged, 1)

    @defer.inlineCallbacks
    def test_a_full_mailbox_refuses_with_a_clear_error_and_keeps_what_it_has(self) -> Any:
        for body in (b"1", b"2", b"3"):
            yield self.send(body)
        with self.assertRaises(ApplicationError) as caught:
            yield self.send(b"4")
        self.assertEqual(caught.exception.error, uris.ERR_MAILBOX_FULL)
        self.assertEqual(caught.exception.kwargs, {"device_id": "bob-laptop"})
        bob, _ = yield self.online(self.bob_laptop)
        mailbox = yield bob.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"1", b"2", b"3"])
        yield bob.call(uris.MAILBOX_ACK, [mailbox["envelopes"][0]["id"]])
        yield self.send(b"4")  # room again after an ack

    @defer.inlineCallbacks
    def test_an_oversized_envelope_is_refused(self) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield self.send(b"x" * 1001)
        self.assertEqual(caught.exception.error, uris.ERR_PAYLOAD_TOO_LARGE)
        self.assertEqual(caught.exception.kwargs, {"max_bytes": 1000})

    @defer.inlineCallbacks
    def test_an_account_sending_too_fast_is_told_when_to_retry(self) -> Any:
        bob, _ = yield self.online(self.bob_laptop)
        errors = []
        for _ in range(22):
            try:
                yield self.send()
            except ApplicationError as e:
                errors.append(e)
            mailbox = yield bob.call(uris.MAILBOX_FETCH)  # keep the mailbox under its quota
            yield bob.call(uris.MAILBOX_ACK, [e["id"] for e in mailbox["envelopes"]])
        self.assertEqual([e.error for e in errors], [uris.ERR_RATE_LIMITED] * 2)
        self.assertGreater(errors[0].kwargs["retry_after"], 0)
        self.clock.advance(1)
        yield self.send()

    @defer.inlineCallbacks
    def test_malformed_envelopes_name_the_bad_argument(self) -> Any:
        cases = [
            ([], "envelopes must not be empty"),
            ([{"device_id": "bob-laptop", "v": 1, "alg": "olm.v1", "type": 1}],
             "envelopes[].body must be bytes or a string"),
            ([{"device_id": "bob-laptop", "v": "1", "alg": "olm.v1", "type": 1, "body": "x"}],
             "envelopes[].v must be an integer from 1 to 255"),
            (["not an object"], "envelopes[] must be an object"),
        ]
        for envelopes, message in cases:
            with self.assertRaises(ApplicationError) as caught:
                yield self.sender.call(uris.MESSAGE_SEND, self.bob.user_id, envelopes)
            self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)
            self.assertEqual(caught.exception.args[0], message)
        with self.assertRaises(ApplicationError) as caught:
            yield self.sender.call(uris.MESSAGE_SEND, self.bob.user_id)
        self.assertEqual(caught.exception.error, uris.WAMP_INVALID_ARGUMENT)


class MailboxShareTests(RelayTestCase):
    """Review M1: a stranger (or one sender) fills only a share of a mailbox."""

    config = RelayConfig(mailbox_max_count=20, mailbox_stranger_count=3,
                         mailbox_sender_share=0.5, storage_max_bytes=10_000)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.mallory = yield self.account("mallory@example.org")
        self.alice_laptop = yield self.device(self.alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.mallory_laptop = yield self.device(self.mallory, "mallory-laptop")
        self.from_alice, _ = yield self.online(self.alice_laptop)
        self.from_mallory, _ = yield self.online(self.mallory_laptop)
        # Bob has written to Alice before (through this relay): she is no stranger to him.
        from_bob, _ = yield self.online(self.bob_laptop)
        yield from_bob.call(uris.MESSAGE_SEND, self.alice.user_id,
                            [envelope(self.alice_laptop, b"hi alice")])

    def to_bob(self, session: Any, body: bytes = b"x") -> defer.Deferred[Any]:
        return session.call(uris.MESSAGE_SEND, self.bob.user_id,
                            [envelope(self.bob_laptop, body)])

    @defer.inlineCallbacks
    def test_a_stranger_flooding_a_mailbox_leaves_room_for_contacts(self) -> Any:
        for _ in range(3):
            yield self.to_bob(self.from_mallory)
        with self.assertRaises(ApplicationError) as caught:
            yield self.to_bob(self.from_mallory)
        self.assertEqual(caught.exception.error, uris.ERR_MAILBOX_FULL)
        self.assertEqual(caught.exception.kwargs,
                         {"device_id": "bob-laptop", "sender_share": True})
        for _ in range(10):  # a contact gets half of the mailbox
            yield self.to_bob(self.from_alice, b"from alice")
        with self.assertRaises(ApplicationError) as caught:
            yield self.to_bob(self.from_alice)
        self.assertEqual(caught.exception.kwargs["sender_share"], True)

    @defer.inlineCallbacks
    def test_the_relays_disk_budget_is_a_clear_error(self) -> Any:
        yield self.to_bob(self.from_alice, b"x" * 5_000)
        with self.assertRaises(ApplicationError) as caught:
            yield self.to_bob(self.from_alice, b"x" * 5_000)
        self.assertEqual(caught.exception.error, uris.ERR_STORAGE_FULL)
        bob = yield self.join(self.bob_laptop.key)
        page = yield bob.call(uris.MAILBOX_FETCH)
        yield bob.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
        yield self.to_bob(self.from_alice, b"x" * 5_000)  # room again

    @defer.inlineCallbacks
    def test_what_the_recipient_fetched_and_acked_frees_the_senders_share(self) -> Any:
        for _ in range(3):
            yield self.to_bob(self.from_mallory)
        bob = yield self.join(self.bob_laptop.key)
        page = yield bob.call(uris.MAILBOX_FETCH)
        yield bob.call(uris.MAILBOX_ACK, [e["id"] for e in page["envelopes"]])
        for _ in range(3):  # a stranger's share again, not more
            yield self.to_bob(self.from_mallory)
        with self.assertRaises(ApplicationError):
            yield self.to_bob(self.from_mallory)
