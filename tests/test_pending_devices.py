"""The relay's side of device approval: pending devices and `sc.device.certify`."""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor

from securechat import testing
from securechat.protocol import uris
from tests.support import RelayTestCase, envelope


class PendingDeviceTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.laptop = yield self.device(self.alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.new = yield testing.enroll_pending_device(reactor, self.url, self.alice,
                                                       "alice-new")

    @defer.inlineCallbacks
    def assertCallRefused(self, session: Any, procedure: str, *args: Any,
                          uri: str = uris.WAMP_NOT_AUTHORIZED) -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield session.call(procedure, *args)
        self.assertEqual(caught.exception.error, uri)

    @defer.inlineCallbacks
    def test_a_pending_device_is_listed_without_a_certificate(self) -> Any:
        laptop, _ = yield self.online(self.laptop)
        devices = {d["device_id"]: d for d in (yield laptop.call(uris.DEVICE_LIST))}
        self.assertEqual(devices["alice-new"]["signature"], None)
        self.assertTrue(devices["alice-new"]["pending"])
        self.assertFalse(devices["alice-laptop"]["pending"])
        bob, _ = yield self.online(self.bob_laptop)
        seen_by_bob = yield bob.call(uris.DEVICE_LIST, self.alice.user_id)
        self.assertEqual({d["device_id"]: d["pending"] for d in seen_by_bob},
                         {"alice-laptop": False, "alice-new": True})

    @defer.inlineCallbacks
    def test_a_pending_device_logs_in_with_the_pending_role(self) -> Any:
        session, _ = yield self.online(self.new)
        self.assertEqual(session.details.authrole, uris.ROLE_PENDING_DEVICE)
        self.assertEqual((yield session.call(uris.MAILBOX_FETCH))["envelopes"], [])
        yield session.call(uris.PREKEYS_PUBLISH, {"k1": self.new.identity_key})
        self.assertEqual((yield session.call(uris.PREKEYS_COUNT)), 1)
        # Only its own account's devices are listed to it.
        listed = yield session.call(uris.DEVICE_LIST, self.bob.user_id)
        self.assertEqual(sorted(d["device_id"] for d in listed), ["alice-laptop", "alice-new"])

    @defer.inlineCallbacks
    def test_a_pending_device_cannot_act_for_the_account(self) -> Any:
        session, _ = yield self.online(self.new)
        for procedure, args in ((uris.PREKEYS_CLAIM, (self.bob.user_id,)),
                                (uris.PRESENCE_DECLARE, ([self.bob.user_id],)),
                                (uris.ACCOUNT_RECOVERY, ()),
                                (uris.TURN_CREDENTIALS, ()),
                                (uris.DEVICE_CERTIFY, ("alice-new", "x" * 86))):
            yield self.assertCallRefused(session, procedure, *args)
        ns = uris.user_namespace(self.alice.user_id)
        with self.assertRaises(ApplicationError) as caught:
            yield session.subscribe(lambda *a: None, ns + "secrets")
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)
        yield self.assertCallRefused(session, uris.DEVICE_REMOVE, "alice-laptop",
                                     uri=uris.ERR_DEVICE_PENDING)

    @defer.inlineCallbacks
    def test_a_pending_device_may_write_only_to_its_own_account(self) -> Any:
        session, _ = yield self.online(self.new)
        _, laptop_inbox = yield self.online(self.laptop)
        yield self.assertCallRefused(session, uris.MESSAGE_SEND, self.bob.user_id,
                                     [envelope(self.bob_laptop)], uri=uris.ERR_DEVICE_PENDING)
        yield session.call(uris.MESSAGE_SEND, self.alice.user_id,
                           [envelope(self.laptop, b"sas frame")])
        got = yield laptop_inbox.next()
        self.assertEqual((got["from_device"], got["body"]), ("alice-new", b"sas frame"))

    @defer.inlineCallbacks
    def test_other_users_neither_need_nor_may_write_to_a_pending_device(self) -> Any:
        bob, _ = yield self.online(self.bob_laptop)
        _, laptop_inbox = yield self.online(self.laptop)
        yield bob.call(uris.MESSAGE_SEND, self.alice.user_id, [envelope(self.laptop)])
        self.assertEqual((yield laptop_inbox.next())["from_user"], self.bob.user_id)
        with self.assertRaises(ApplicationError) as caught:
            yield bob.call(uris.MESSAGE_SEND, self.alice.user_id,
                           [envelope(self.laptop), envelope(self.new)])
        self.assertEqual(caught.exception.error, uris.ERR_DEVICE_MISMATCH)
        self.assertEqual(caught.exception.kwargs["unknown"], ["alice-new"])

    @defer.inlineCallbacks
    def test_my_device_writes_to_just_the_pending_device(self) -> Any:
        yield self.device(self.alice, "alice-phone")  # another device, not addressed
        laptop, _ = yield self.online(self.laptop)
        _, new_inbox = yield self.online(self.new)
        yield laptop.call(uris.MESSAGE_SEND, self.alice.user_id, [envelope(self.new, b"hi")])
        self.assertEqual((yield new_inbox.next())["body"], b"hi")

    @defer.inlineCallbacks
    def test_certify_with_the_account_key_makes_a_normal_device(self) -> Any:
        laptop, _ = yield self.online(self.laptop)
        certified = yield laptop.call(uris.DEVICE_CERTIFY, "alice-new",
                                      testing.certificate_signature(self.alice, self.new))
        self.assertFalse(certified["pending"])
        listed = {d["device_id"]: d for d in (yield laptop.call(uris.DEVICE_LIST))}
        self.assertEqual(listed["alice-new"]["signature"],
                         testing.certificate_signature(self.alice, self.new))
        session, _ = yield self.online(self.new)
        self.assertEqual(session.details.authrole, uris.ROLE_DEVICE)
        yield session.call(uris.MESSAGE_SEND, self.bob.user_id, [envelope(self.bob_laptop)])

    @defer.inlineCallbacks
    def test_certify_checks_the_signature_and_the_owner(self) -> Any:
        laptop, _ = yield self.online(self.laptop)
        # Signed by another account's key.
        yield self.assertCallRefused(laptop, uris.DEVICE_CERTIFY, "alice-new",
                                     testing.certificate_signature(self.bob, self.new),
                                     uri=uris.ERR_BAD_SIGNATURE)
        # Bob cannot certify alice's pending device, even with a valid signature.
        bob, _ = yield self.online(self.bob_laptop)
        yield self.assertCallRefused(bob, uris.DEVICE_CERTIFY, "alice-new",
                                     testing.certificate_signature(self.alice, self.new),
                                     uri=uris.ERR_NO_SUCH_DEVICE)
        # Nor may a password login (the password alone must not add a trusted device).
        account = yield self.join(testing.password_login(self.alice))
        yield self.assertCallRefused(account, uris.DEVICE_CERTIFY, "alice-new",
                                     testing.certificate_signature(self.alice, self.new))
        session, _ = yield self.online(self.new)
        self.assertEqual(session.details.authrole, uris.ROLE_PENDING_DEVICE)

    @defer.inlineCallbacks
    def test_a_pending_device_counts_toward_the_device_limit(self) -> Any:
        account = yield self.join(testing.password_login(self.alice))
        for i in range(self.config.max_devices - 2):
            yield testing.enroll_device(None, self.url, self.alice, f"d{i}", session=account)
        _, args = testing.device_enrollment(self.alice, "one-too-many")
        yield self.assertCallRefused(account, uris.DEVICE_ENROLL, *args[:3], None,
                                     uri=uris.ERR_TOO_MANY_DEVICES)

    @defer.inlineCallbacks
    def test_a_device_approved_while_connected_comes_online_when_it_reconnects(self) -> Any:
        """Its pending session is replaced by a certified one: that is news to its account
        (it was left out of presence for good before)."""
        laptop, _ = yield self.online(self.laptop)
        yield self.online(self.new)  # still pending, still connected
        yield laptop.call(uris.DEVICE_CERTIFY, "alice-new",
                          testing.certificate_signature(self.alice, self.new))
        yield self.online(self.new)  # again, now approved
        listed = yield laptop.call(uris.PRESENCE_SESSIONS)
        self.assertIn("alice-new", [d for entry in listed for d in entry["devices"]])

    @defer.inlineCallbacks
    def test_nobody_else_can_use_up_a_pending_devices_keys(self) -> Any:
        session, _ = yield self.online(self.new)
        yield session.call(uris.PREKEYS_PUBLISH, {"k1": self.new.identity_key})
        bob, _ = yield self.online(self.bob_laptop)
        bundles = yield bob.call(uris.PREKEYS_CLAIM, self.alice.user_id)
        self.assertEqual([b["device_id"] for b in bundles], ["alice-laptop"])
        self.assertEqual((yield session.call(uris.PREKEYS_COUNT)), 1)


class PendingExpiryTests(RelayTestCase):
    use_clock = True

    @defer.inlineCallbacks
    def test_a_device_nobody_approves_is_removed(self) -> Any:
        alice = yield self.account("alice@example.org")
        yield self.device(alice, "alice-laptop")
        new = yield testing.enroll_pending_device(reactor, self.url, alice, "alice-new")
        session, _ = yield self.online(new)
        self.clock.advance(self.config.pending_device_ttl + 1)
        refusal = yield self.refused(new.key)
        self.assertEqual(refusal.reason, uris.ERR_NO_SUCH_DEVICE)
        removed = yield self.relay.router.accounts.expire_pending()
        self.assertEqual(removed, 1)
        self.assertEqual((yield session.left).reason, uris.CLOSE_DEVICE_REMOVED)
        devices = yield self.relay.storage.list_devices(alice.user_id)
        self.assertEqual([d.device_id for d in devices], ["alice-laptop"])

