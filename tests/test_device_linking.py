"""A new device gets the account key only by approval on an existing device (real relay,
real clients of one account; the relay turned hostile where a test says so)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, reactor

from securechat.client import events as ev
from securechat.client import linking
from securechat.client.core import SecureChatClient
from securechat.protocol import uris
from securechat.protocol.encoding import b64
from tests.clientsupport import FAST, ClientTestCase
from tests.hostile import HostileRelay, envelopes_to, forged_envelope

PASSWORD = "pw-" + "x" * 10


def tamper_calls(relay: Any, uri: str, change: Callable[..., tuple[Any, ...]]) -> None:
    """What a hostile relay does to calls in flight: `change(caller, *args)` returns the
    arguments the procedure runs with."""
    procedures = relay.router.dealer._procedures
    fn, signature = procedures[uri]
    procedures[uri] = (lambda caller, *args: fn(caller, *change(caller, *args)), signature)


class DeviceLinkingTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.laptop = yield self.register("alice-laptop", "alice@example.org")
        self.bob = yield self.register("bob", "bob@example.org")
        yield self.online(self.laptop, self.bob)
        yield self.befriend(self.laptop, self.bob)
        self.hostile = HostileRelay(self.relay)
        self.addCleanup(self.hostile.restore)

    @defer.inlineCallbacks
    def start_link(self, name: str = "alice-phone") -> Any:
        """The new device signs in with the password and asks for approval; returns
        (its link, the laptop's Approval once the laptop's user opened the request)."""
        mark = self.log(self.laptop).mark()
        link = yield SecureChatClient.link(reactor, self.device_dir(name), self.url,
                                           "alice@example.org", PASSWORD, FAST, floor=FAST)
        self.addCleanup(lambda: link.wait_result().addErrback(lambda _: None))
        request = yield self.log(self.laptop).wait_for(ev.DeviceApprovalRequested, since=mark)
        self.assertEqual(request.device_id, link.device_id)
        return link, self.laptop.approve_device(request.device_id)

    @defer.inlineCallbacks
    def devices_on_relay(self) -> Any:
        devices = yield self.relay.storage.list_devices(self.laptop.me.user_id)
        return {d.device_id: d.pending for d in devices}

    @defer.inlineCallbacks
    def assertRemoved(self, link: linking.NewDeviceLink, approval: linking.Approval,
                      reason: str) -> Any:
        with self.assertRaises(linking.LinkFailed) as caught:
            yield approval.wait_done()
        self.assertEqual(caught.exception.reason, reason)
        with self.assertRaises(linking.LinkFailed):
            yield link.wait_result()
        finished = yield self.log(self.laptop).wait_for(ev.DeviceApprovalFinished)
        self.assertFalse(finished.approved)
        # The laptop asked the relay to remove it; wait until that call was answered.
        while link.device_id in (yield self.devices_on_relay()):
            yield self.laptop.connection.session.call(uris.PRESENCE_SESSIONS)
        self.assertNotIn(link.device_id, (yield self.devices_on_relay()))

    @defer.inlineCallbacks
    def test_an_approved_device_gets_the_account_key_and_contacts_trust_it(self) -> Any:
        link, approval = yield self.start_link()
        laptop_code = yield approval.wait_code()
        phone_code = yield link.wait_code()
        self.assertEqual(laptop_code, phone_code)
        self.assertEqual(len(laptop_code.emoji), 7)
        self.assertEqual(self.log(self.laptop).of(ev.ApprovalCode)[-1].code, laptop_code)
        approval.confirm()
        link.confirm()
        phone = self._track((yield link.wait_result()))
        self.assertTrue((yield approval.wait_done()))
        self.assertEqual((yield self.devices_on_relay()),
                         {self.laptop.me.device_id: False, phone.me.device_id: False})
        # The phone holds the account key: the safety number it shows Bob is the laptop's.
        yield self.online(phone)
        # Bob is the laptop's contact: the phone learns it from the history my other
        # devices send a new one (a request of its own would be refused as a duplicate).
        yield self.wait_until(phone, lambda: self.bob.me.user_id in phone.contacts)
        self.assertEqual(phone.safety_number(self.bob.me.user_id),
                         self.laptop.safety_number(self.bob.me.user_id))
        mark = self.log(self.bob).mark()
        laptop_mark = self.log(self.laptop).mark()
        yield phone.send_text(self.bob.me.user_id, "hello from my new phone")
        got = yield self.log(self.bob).wait_for(ev.MessageReceived, since=mark)
        self.assertEqual(got.message.text, "hello from my new phone")
        copy = yield self.log(self.laptop).wait_for(
            ev.MessageSent, lambda e: e.message.text == "hello from my new phone",
            since=laptop_mark)
        self.assertFalse(copy.message.id == "")
        # And it opens again from disk with the master password, like any device.
        again = yield self.reopen(phone, "alice-phone")
        self.assertEqual(again.me.device_id, phone.me.device_id)

    @defer.inlineCallbacks
    def test_codes_the_user_says_differ_remove_the_new_device(self) -> Any:
        link, approval = yield self.start_link()
        yield approval.wait_code()
        yield link.wait_code()
        self.laptop.reject_device(link.device_id)
        yield self.assertRemoved(link, approval, linking.MISMATCH)

    @defer.inlineCallbacks
    def test_the_new_device_may_cancel(self) -> Any:
        link, approval = yield self.start_link()
        yield link.wait_code()
        link.cancel()
        yield self.assertRemoved(link, approval, linking.MISMATCH)

    @defer.inlineCallbacks
    def test_a_relay_that_lists_other_keys_for_the_new_device_fails_the_mac(self) -> Any:
        # The relay tells the laptop the new device has its own (the relay's) keys.
        def substitute(caller: Any, answer: Any, user_id: Any = None) -> Any:
            if caller.principal.device_id != self.laptop.me.device_id:
                return answer
            return [dict(d, identity_key=b64(b"\x01" * 32)) if d["pending"] else d
                    for d in answer]

        self.hostile.rewrite(uris.DEVICE_LIST, substitute)
        certify = self.hostile.capture(uris.DEVICE_CERTIFY)
        link, approval = yield self.start_link()
        self.assertEqual((yield approval.wait_code()), (yield link.wait_code()))
        approval.confirm()
        link.confirm()
        yield self.assertRemoved(link, approval, linking.BAD_MAC)
        self.assertEqual(certify, [])  # never certified, never sent the key

    @defer.inlineCallbacks
    def test_a_relay_in_the_middle_of_the_key_exchange_shows_different_codes(self) -> Any:
        # The relay answers the phone with its own SAS key (committing to it correctly)
        # and passes the phone's key on: each side computes a SAS with someone else.
        phone_ids: list[str] = []
        mitm = linking.Sas("x", "y", "z", "0" * 32)

        def swap(caller: Any, recipient: Any, envelopes: Any) -> tuple[Any, ...]:
            if caller.principal.device_id != self.laptop.me.device_id:
                return recipient, envelopes
            changed = []
            for e in envelopes:
                # Only the linking frames are JSON (Olm envelopes, a history page, are not).
                frame = json.loads(e["body"]) if e.get("alg") == linking.ALG else {}
                if e.get("alg") == linking.ALG and e["device_id"] in phone_ids:
                    if frame["t"] == "accept":
                        frame["commitment"] = linking.Sas.commitment(mitm.public_key,
                                                                     frame["txn"])
                    elif frame["t"] == "key":
                        frame["key"] = mitm.public_key
                    e = dict(e, body=linking.encode_frame(**{"kind": frame.pop("t"),
                                                             **frame}))
                changed.append(e)
            return recipient, changed

        tamper_calls(self.relay, uris.MESSAGE_SEND, swap)
        self.addCleanup(self.hostile.restore)
        mark = self.log(self.laptop).mark()
        link = yield SecureChatClient.link(reactor, self.device_dir("alice-phone"), self.url,
                                           "alice@example.org", PASSWORD, FAST, floor=FAST)
        phone_ids.append(link.device_id)
        request = yield self.log(self.laptop).wait_for(ev.DeviceApprovalRequested, since=mark)
        approval = self.laptop.approve_device(request.device_id)
        laptop_code = yield approval.wait_code()
        phone_code = yield link.wait_code()
        self.assertNotEqual(laptop_code.emoji, phone_code.emoji)
        self.assertNotEqual(laptop_code.decimals, phone_code.decimals)
        self.laptop.reject_device(link.device_id)  # the user sees they differ
        yield self.assertRemoved(link, approval, linking.MISMATCH)

    @defer.inlineCallbacks
    def test_a_pending_device_is_trusted_by_nobody(self) -> Any:
        sent = self.hostile.capture(uris.MESSAGE_SEND)
        link, approval = yield self.start_link()
        # Bob's messages to Alice do not go to it.
        mark = self.log(self.laptop).mark()
        yield self.bob.send_text(self.laptop.me.user_id, "for alice's approved devices")
        yield self.log(self.laptop).wait_for(ev.MessageReceived, since=mark)
        self.assertEqual([e for e in envelopes_to(sent, link.device_id)
                          if e["alg"] != linking.ALG], [])
        # An Olm envelope from it (the relay delivers whatever it likes) is refused.
        bob_mark = self.log(self.bob).mark()
        self.hostile.inject(self.bob.me.device_id, forged_envelope(
            self.laptop.me.user_id, link.device_id, 0, b"\x00" * 64))
        rejected = yield self.log(self.bob).wait_for(ev.EnvelopeRejected, since=bob_mark)
        self.assertIn("not verified", rejected.reason)
        link.cancel()
        yield approval.wait_done().addErrback(lambda _: None)

    @defer.inlineCallbacks
    def test_another_accounts_device_cannot_ask_for_approval(self) -> Any:
        request = linking.envelope_for(self.laptop.me.device_id,
                                       linking.encode_frame("request", "ab" * 16))
        # Bob sends a request through the relay, as any user may send any envelope...
        yield self.bob.connection.session.call(uris.MESSAGE_SEND, self.laptop.me.user_id,
                                               [request])
        # ...and the relay claims a request comes from Alice's account, naming Bob's device.
        forged = forged_envelope(self.laptop.me.user_id, self.bob.me.device_id, 0,
                                 request["body"])
        self.hostile.inject(self.laptop.me.device_id, dict(forged, alg=linking.ALG))
        # Envelopes are handled in order: once Bob's next message is in, both were seen.
        mark = self.log(self.laptop).mark()
        yield self.bob.send_text(self.laptop.me.user_id, "after the requests")
        yield self.log(self.laptop).wait_for(ev.MessageReceived, since=mark)
        self.assertEqual(self.log(self.laptop).of(ev.DeviceApprovalRequested), [])
