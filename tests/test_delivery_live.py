"""Ephemeral frames (`sc.message.send_live`): pushed to live sessions, never stored."""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat import testing
from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase, envelope


class LiveSendTests(RelayTestCase):
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
    def test_an_online_device_gets_it_an_offline_one_never_does(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        _, laptop_inbox = yield self.online(self.bob_laptop)
        result = yield sender.call(uris.MESSAGE_SEND_LIVE, self.bob.user_id, [
            envelope(self.bob_laptop, b"ring"), envelope(self.bob_phone, b"ring")])
        self.assertEqual(result["delivered"], ["bob-laptop"])
        got = yield laptop_inbox.next()
        self.assertEqual((got["body"], got["from_user"], got["from_device"]),
                         (b"ring", self.alice.user_id, "alice-laptop"))
        # The phone comes online later: its mailbox has nothing; nor has the laptop's.
        phone, _ = yield self.online(self.bob_phone)
        mailbox = yield phone.call(uris.MAILBOX_FETCH)
        self.assertEqual(mailbox["envelopes"], [])
        laptop_again, _ = yield self.online(self.bob_laptop)
        mailbox = yield laptop_again.call(uris.MAILBOX_FETCH)
        self.assertEqual(mailbox["envelopes"], [])

    @defer.inlineCallbacks
    def test_copies_to_my_own_online_devices_are_delivered_live(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        _, phone_inbox = yield self.online(self.alice_phone)
        result = yield sender.call(uris.MESSAGE_SEND_LIVE, self.bob.user_id, [
            envelope(self.bob_laptop), envelope(self.bob_phone),
            envelope(self.alice_phone, b"answered here")])
        self.assertEqual(result["delivered"], ["alice-phone"])
        got = yield phone_inbox.next()
        self.assertEqual(got["body"], b"answered here")

    @defer.inlineCallbacks
    def test_the_device_set_is_checked_as_for_a_stored_send(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        _, laptop_inbox = yield self.online(self.bob_laptop)
        with self.assertRaises(ApplicationError) as caught:
            yield sender.call(uris.MESSAGE_SEND_LIVE, self.bob.user_id,
                              [envelope(self.bob_laptop), envelope(self.alice_laptop)])
        self.assertEqual(caught.exception.error, uris.ERR_DEVICE_MISMATCH)
        self.assertEqual(caught.exception.kwargs,
                         {"missing": ["bob-phone"], "unknown": ["alice-laptop"]})
        self.assertEqual(laptop_inbox.events, [])  # nothing went out of a refused set

    @defer.inlineCallbacks
    def test_an_account_without_a_device_session_may_not_send_live(self) -> Any:
        account = yield self.join(testing.password_login(self.alice))
        with self.assertRaises(ApplicationError) as caught:
            yield account.call(uris.MESSAGE_SEND_LIVE, self.bob.user_id,
                               [envelope(self.bob_laptop), envelope(self.bob_phone)])
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)


class LiveSendLimitTests(RelayTestCase):
    use_clock = True
    config = RelayConfig(max_envelope_bytes=1000, account_rate=1, account_burst=5)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.alice_laptop = yield self.device(self.alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.sender, _ = yield self.online(self.alice_laptop)

    def send_live(self, body: bytes = b"x") -> defer.Deferred[Any]:
        return self.sender.call(uris.MESSAGE_SEND_LIVE, self.bob.user_id,
                                [envelope(self.bob_laptop, body)])

    @defer.inlineCallbacks
    def test_live_and_stored_sends_share_the_accounts_rate(self) -> Any:
        for _ in range(3):
            yield self.sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                                   [envelope(self.bob_laptop)])
        errors = []
        for _ in range(3):
            try:
                yield self.send_live()
            except ApplicationError as e:
                errors.append(e)
        self.assertEqual([e.error for e in errors], [uris.ERR_RATE_LIMITED])
        self.assertGreater(errors[0].kwargs["retry_after"], 0)
        self.clock.advance(1)
        yield self.send_live()

    @defer.inlineCallbacks
    def test_an_oversized_live_envelope_is_refused(self) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield self.send_live(b"x" * 1001)
        self.assertEqual(caught.exception.error, uris.ERR_PAYLOAD_TOO_LARGE)
