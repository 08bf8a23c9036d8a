"""Every serializer carries ciphertext byte-for-byte, and clients mix freely."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer

from securechat.protocol import uris
from tests.support import RelayTestCase, envelope


class SerializerTests(RelayTestCase):
    @defer.inlineCallbacks
    def test_bytes_survive_every_pair_of_serializers(self) -> Any:
        alice = yield self.account("alice@example.org")
        bob = yield self.account("bob@example.org")
        alice_device = yield self.device(alice)
        bob_device = yield self.device(bob)
        body = os.urandom(4096) + b"\x00\xff"
        for send_with in ("json", "msgpack", "cbor"):
            for receive_with in ("json", "msgpack", "cbor"):
                sender, _ = yield self.online(alice_device, send_with)
                receiver, inbox = yield self.online(bob_device, receive_with)
                yield sender.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device, body)])
                event = yield inbox.next()
                self.assertEqual(event["body"], body, (send_with, receive_with))
                yield receiver.call(uris.MAILBOX_ACK, [event["id"]])
                sender.leave()
                receiver.leave()
                yield defer.gatherResults([sender.disconnected, receiver.disconnected])
