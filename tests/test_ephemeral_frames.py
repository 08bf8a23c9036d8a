"""Ephemeral frames from the client: typing reaches devices online now and is never
left in a mailbox for a device that is offline."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor

from securechat.client import SecureChatClient
from securechat.client import events as ev
from tests.clientsupport import ClientTestCase


class TypingIsEphemeralTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob("alice-laptop", phone="alice-phone")

    @defer.inlineCallbacks
    def test_typing_while_a_device_is_offline_never_reaches_it_later(self) -> Any:
        email = self.phone.me.email
        yield self.phone.stop()
        self.clients.remove(self.phone)
        yield self.bob.send_typing(self.alice.me.user_id, True)
        live = yield self.log(self.alice).wait_for(ev.TypingChanged)
        self.assertEqual((live.peer_user_id, live.typing), (self.bob.me.user_id, True))
        # A message after it, so the phone has something to catch up on.
        sent = yield self.bob.send_text(self.alice.me.user_id, "after typing")
        phone = yield SecureChatClient.open(reactor, self.device_dir("alice-phone"), self.url,
                                            email, "pw-" + "x" * 10)
        self._track(phone)
        yield self.online(phone)
        history = yield phone.messages(self.bob.me.user_id)
        self.assertEqual([m.id for m in history], [sent.id])
        self.assertEqual(self.log(phone).of(ev.TypingChanged), [])
        self.assertFalse(phone.typing.is_typing(self.bob.me.user_id))
