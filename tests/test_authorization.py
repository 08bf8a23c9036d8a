"""Every relay procedure is authorized by role and owner."""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat import testing
from securechat.client.wamp import Anonymous
from securechat.protocol import uris
from tests.support import RelayTestCase, envelope


class AuthorizationTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.alice_laptop = yield self.device(self.alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")

    @defer.inlineCallbacks
    def assertCallRefused(self, session: Any, procedure: str, *args: Any,
                          uri: str = uris.WAMP_NOT_AUTHORIZED) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield session.call(procedure, *args)
        self.assertEqual(caught.exception.error, uri)

    @defer.inlineCallbacks
    def test_anonymous_may_only_register(self) -> Any:
        anonymous = yield self.join(Anonymous())
        for procedure in (uris.DEVICE_ENROLL, uris.ACCOUNT_RECOVERY, uris.MESSAGE_SEND,
                          uris.MAILBOX_FETCH, uris.PREKEYS_CLAIM, uris.TURN_CREDENTIALS):
            yield self.assertCallRefused(anonymous, procedure)
        with self.assertRaises(ApplicationError) as caught:
            yield anonymous.subscribe(lambda *a: None, uris.inbox_topic("bob-laptop"))
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)

    @defer.inlineCallbacks
    def test_a_password_login_may_enroll_but_not_message(self) -> Any:
        account = yield self.join(testing.password_login(self.alice))
        yield self.assertCallRefused(account, uris.MESSAGE_SEND, self.bob.user_id,
                                     [envelope(self.bob_laptop)])
        yield self.assertCallRefused(account, uris.MAILBOX_FETCH)
        yield self.assertCallRefused(account, uris.ACCOUNT_REGISTER, "x", "y", {}, "z")
        devices = yield account.call(uris.DEVICE_LIST, self.bob.user_id)
        self.assertEqual([d["device_id"] for d in devices], ["alice-laptop"])  # its own only

    @defer.inlineCallbacks
    def test_a_device_may_not_subscribe_to_another_devices_inbox_or_presence(self) -> Any:
        alice, _ = yield self.online(self.alice_laptop)
        for topic in (uris.inbox_topic("bob-laptop"), uris.presence_topic("bob-laptop")):
            with self.assertRaises(ApplicationError) as caught:
                yield alice.subscribe(lambda *a: None, topic)
            self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)

    @defer.inlineCallbacks
    def test_nobody_may_publish_into_an_inbox(self) -> Any:
        alice, _ = yield self.online(self.alice_laptop)
        _, bob_inbox = yield self.online(self.bob_laptop)
        with self.assertRaises(ApplicationError) as caught:
            yield alice.publish(uris.inbox_topic("bob-laptop"), {"body": "forged"},
                                options=_acknowledged())
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)
        self.assertEqual(bob_inbox.events, [])

    @defer.inlineCallbacks
    def test_a_device_may_not_be_enrolled_under_someone_elses_id(self) -> Any:
        # Claiming bob's device id for alice's account.
        _, args = testing.device_enrollment(self.alice, "bob-laptop")
        account = yield self.join(testing.password_login(self.alice))
        yield self.assertCallRefused(account, uris.DEVICE_ENROLL, *args,
                                     uri=uris.ERR_DEVICE_EXISTS)

    @defer.inlineCallbacks
    def test_device_keys_must_be_signed_by_the_accounts_identity_key(self) -> Any:
        # Bob's key signs a device for alice's account: refused.
        _, args = testing.device_enrollment(self.bob, "sneaky")
        account = yield self.join(testing.password_login(self.alice))
        yield self.assertCallRefused(account, uris.DEVICE_ENROLL, *args,
                                     uri=uris.ERR_BAD_SIGNATURE)

    @defer.inlineCallbacks
    def test_a_device_may_not_remove_another_users_device(self) -> Any:
        alice, _ = yield self.online(self.alice_laptop)
        yield self.assertCallRefused(alice, uris.DEVICE_REMOVE, "bob-laptop",
                                     uri=uris.WAMP_NOT_AUTHORIZED)
        account = yield self.join(testing.password_login(self.alice))
        yield self.assertCallRefused(account, uris.DEVICE_REMOVE, "bob-laptop",
                                     uri=uris.ERR_NO_SUCH_DEVICE)
        bob, _ = yield self.online(self.bob_laptop)  # still enrolled
        self.assertEqual(bob.details.authid, "bob-laptop")

    @defer.inlineCallbacks
    def test_removing_my_device_disconnects_it_and_forgets_its_key(self) -> Any:
        phone = yield self.device(self.alice, "alice-phone")
        phone_session, _ = yield self.online(phone)
        account = yield self.join(testing.password_login(self.alice))
        yield account.call(uris.DEVICE_REMOVE, "alice-phone")
        details = yield phone_session.left
        self.assertEqual(details.reason, uris.CLOSE_DEVICE_REMOVED)
        refusal = yield self.refused(phone.key)
        self.assertEqual(refusal.reason, uris.ERR_NO_SUCH_DEVICE)

    @defer.inlineCallbacks
    def test_a_device_may_remove_itself_but_not_its_siblings(self) -> Any:
        """L6: a stolen (or PIN-cracked) device cannot evict its owner's other devices."""
        phone = yield self.device(self.alice, "alice-phone")
        phone_session, _ = yield self.online(phone)
        laptop, _ = yield self.online(self.alice_laptop)
        yield self.assertCallRefused(phone_session, uris.DEVICE_REMOVE, "alice-laptop",
                                     uri=uris.WAMP_NOT_AUTHORIZED)
        self.assertTrue(laptop.is_attached())
        phone_session.call(uris.DEVICE_REMOVE, "alice-phone").addErrback(lambda _: None)
        details = yield phone_session.left
        self.assertEqual(details.reason, uris.CLOSE_DEVICE_REMOVED)
        devices = yield laptop.call(uris.DEVICE_LIST)
        self.assertEqual([d["device_id"] for d in devices], ["alice-laptop"])

    @defer.inlineCallbacks
    def test_too_many_devices_is_a_clear_error(self) -> Any:
        account = yield self.join(testing.password_login(self.alice))
        for i in range(self.config.max_devices - 1):
            yield testing.enroll_device(None, self.url, self.alice, f"d{i}", session=account)
        _, args = testing.device_enrollment(self.alice, "one-too-many")
        yield self.assertCallRefused(account, uris.DEVICE_ENROLL, *args,
                                     uri=uris.ERR_TOO_MANY_DEVICES)

    @defer.inlineCallbacks
    def test_registering_an_existing_account_is_refused(self) -> Any:
        _, args = testing.registration_args("alice@example.org", "another password")
        anonymous = yield self.join(Anonymous())
        yield self.assertCallRefused(anonymous, uris.ACCOUNT_REGISTER, *args,
                                     uri=uris.ERR_ACCOUNT_EXISTS)
        # and the original password still works
        yield self.join(testing.password_login(self.alice))


class UserNamespaceTests(RelayTestCase):
    """RPC and pub/sub under sc.u.<user>. work among one user's devices only."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.laptop, _ = yield self.online((yield self.device(self.alice, "laptop")))
        self.bot, _ = yield self.online((yield self.device(self.alice, "bot")))
        self.bob_session, _ = yield self.online((yield self.device(self.bob, "bob")))
        self.ns = uris.user_namespace(self.alice.user_id)

    @defer.inlineCallbacks
    def test_my_bot_serves_my_other_devices(self) -> Any:
        yield self.bot.register(lambda text: text.upper(), self.ns + "shout")
        self.assertEqual((yield self.laptop.call(self.ns + "shout", "hi")), "HI")

    @defer.inlineCallbacks
    def test_another_user_may_not_call_or_register_in_my_namespace(self) -> Any:
        yield self.bot.register(lambda: "secret", self.ns + "whoami")
        for attempt in (lambda: self.bob_session.call(self.ns + "whoami"),
                        lambda: self.bob_session.register(lambda: None, self.ns + "evil"),
                        lambda: self.bob_session.subscribe(lambda *a: None, self.ns + "news")):
            with self.assertRaises(ApplicationError) as caught:
                yield attempt()
            self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)

    @defer.inlineCallbacks
    def test_a_relay_procedure_cannot_be_registered_over(self) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield self.bot.register(lambda *a: None, uris.MESSAGE_SEND)
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)

    @defer.inlineCallbacks
    def test_callee_errors_and_departures_reach_the_caller(self) -> Any:
        def fail() -> None:
            raise ApplicationError(self.ns + "error.nope", "no can do")

        never: defer.Deferred[Any] = defer.Deferred()
        yield self.bot.register(fail, self.ns + "fail")
        yield self.bot.register(lambda: never, self.ns + "hang")
        with self.assertRaises(ApplicationError) as caught:
            yield self.laptop.call(self.ns + "fail")
        self.assertEqual(caught.exception.error, self.ns + "error.nope")
        pending = self.laptop.call(self.ns + "hang")
        # Wait for the invocation to reach the bot, then drop the bot.
        yield self.laptop.call(self.ns + "fail").addErrback(lambda _: None)
        self.bot.leave()
        with self.assertRaises(ApplicationError) as caught:
            yield pending
        self.assertEqual(caught.exception.error, uris.WAMP_CANCELED)

    @defer.inlineCallbacks
    def test_one_bot_serves_several_callers_at_once(self) -> Any:
        waiting: list[defer.Deferred[Any]] = []

        def slow(n: int) -> defer.Deferred[Any]:
            d: defer.Deferred[Any] = defer.Deferred()
            d.addCallback(lambda _: n * 10)
            waiting.append(d)
            return d

        yield self.bot.register(slow, self.ns + "slow")
        phone, _ = yield self.online((yield self.device(self.alice, "phone")))
        calls = [self.laptop.call(self.ns + "slow", 1), phone.call(self.ns + "slow", 2)]
        while len(waiting) < 2:  # both invocations are in the bot at once
            yield self.laptop.call(uris.PRESENCE_SESSIONS)
        for d in waiting:
            d.callback(None)
        self.assertEqual((yield defer.gatherResults(calls)), [10, 20])

    @defer.inlineCallbacks
    def test_a_result_too_large_to_send_is_an_error_not_a_hang(self) -> Any:
        # 900 KB fits the bot's msgpack YIELD but not the caller's JSON RESULT (base64).
        yield self.bot.register(lambda: b"x" * (900 * 1024), self.ns + "huge")
        caller, _ = yield self.online((yield self.device(self.alice, "json-caller")), "json")
        with self.assertRaises(ApplicationError) as caught:
            yield caller.call(self.ns + "huge")
        self.assertEqual(caught.exception.error, uris.ERR_PAYLOAD_TOO_LARGE)
        self.assertTrue(self.bot.is_attached())  # nobody was cut off

    @defer.inlineCallbacks
    def test_publish_reaches_my_other_devices_but_not_me(self) -> Any:
        got = []
        yield self.laptop.subscribe(got.append, self.ns + "news")
        arrived: defer.Deferred[Any] = defer.Deferred()
        yield self.bot.subscribe(arrived.callback, self.ns + "news")
        yield self.laptop.publish(self.ns + "news", "hello", options=_acknowledged())
        self.assertEqual((yield arrived), "hello")
        yield self.laptop.call(uris.PRESENCE_SESSIONS)  # a round trip: any echo would be here
        self.assertEqual(got, [])


def _acknowledged(exclude_me: bool | None = None) -> Any:
    from autobahn.wamp.types import PublishOptions

    return PublishOptions(acknowledge=True, exclude_me=exclude_me)
