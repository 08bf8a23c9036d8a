"""The envelope shape both sides share (protocol/envelope.py), through a real relay."""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.trial import unittest

from securechat.protocol import envelope, uris
from securechat.protocol.envelope import MalformedEnvelope, outgoing, parse_incoming
from tests.support import RelayTestCase


class RoundTripTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        alice = yield self.account("alice@example.org")
        self.bob = yield self.account("bob@example.org")
        self.alice_laptop = yield self.device(alice, "alice-laptop")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.alice_id = alice.user_id

    @defer.inlineCallbacks
    def test_what_a_client_sends_is_read_back_with_the_relays_stamps(self) -> Any:
        for serializer in ("msgpack", "json", "cbor"):
            sender, _ = yield self.online(self.alice_laptop)
            bob, inbox = yield self.online(self.bob_laptop, serializer)
            body = f"ciphertext over {serializer}".encode()
            sent = yield sender.call(uris.MESSAGE_SEND, self.bob.user_id, [
                outgoing("bob-laptop", envelope.VERSION_MAX, "x" * envelope.ALG_MAX_LENGTH,
                         envelope.TYPE_MAX, body)])
            live = parse_incoming((yield inbox.next()))
            page = yield bob.call(uris.MAILBOX_FETCH)
            stored = parse_incoming(page["envelopes"][0])
            self.assertEqual(live, stored)
            self.assertEqual(live, envelope.Incoming(
                sent["ids"]["bob-laptop"], self.alice_id, "alice-laptop", sent["ts"],
                envelope.VERSION_MAX, "x" * envelope.ALG_MAX_LENGTH, envelope.TYPE_MAX, body))
            yield bob.call(uris.MAILBOX_ACK, [live.id])
            sender.leave()
            bob.leave()
            yield defer.gatherResults([sender.disconnected, bob.disconnected])

    @defer.inlineCallbacks
    def test_the_relay_refuses_what_is_outside_the_shared_bounds(self) -> Any:
        sender, _ = yield self.online(self.alice_laptop)
        for v, alg, kind in [(envelope.VERSION_MIN - 1, "olm.v1", 1),
                             (envelope.VERSION_MAX + 1, "olm.v1", 1),
                             (1, "x" * (envelope.ALG_MAX_LENGTH + 1), 1),
                             (1, "olm.v1", envelope.TYPE_MIN - 1),
                             (1, "olm.v1", envelope.TYPE_MAX + 1)]:
            with self.assertRaises(ApplicationError) as caught:
                yield sender.call(uris.MESSAGE_SEND, self.bob.user_id,
                                  [outgoing("bob-laptop", v, alg, kind, b"x")])
            self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)


def delivered(**changes: Any) -> dict[str, Any]:
    fields = envelope.delivered("e1", "a" * 64, "alice-laptop", 1_700_000_000_000, 1, "olm.v1",
                                1, b"ciphertext")
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


class ParseIncomingTests(unittest.SynchronousTestCase):
    """What a hostile relay might deliver instead of an envelope."""

    def test_a_well_formed_envelope_is_read_as_is(self) -> None:
        self.assertEqual(parse_incoming(delivered()), envelope.Incoming(
            "e1", "a" * 64, "alice-laptop", 1_700_000_000_000, 1, "olm.v1", 1, b"ciphertext"))

    def test_a_text_body_is_read_for_the_client_to_refuse(self) -> None:
        self.assertEqual(parse_incoming(delivered(body="text")).body, "text")

    def test_an_unusable_timestamp_reads_as_none(self) -> None:
        for ts in (None, 0, -5, "1700000000000", True, 1.5):
            self.assertIsNone(parse_incoming(delivered(ts=ts)).ts, ts)

    def test_a_malformed_envelope_keeps_the_id_to_acknowledge_when_it_has_one(self) -> None:
        for raw, envelope_id, sender in [
            (delivered(v="1"), "e1", "a" * 64),
            (delivered(type=None), "e1", "a" * 64),
            (delivered(alg=7), "e1", "a" * 64),
            (delivered(body=None), "e1", "a" * 64),
            (delivered(body=["x"]), "e1", "a" * 64),
            (delivered(from_device=""), "e1", "a" * 64),
            (delivered(from_user=None), "e1", ""),
            (delivered(id=None), None, "a" * 64),
            (delivered(id=""), None, "a" * 64),
            (delivered(id="e" * (envelope.ID_MAX_LENGTH + 1)), None, "a" * 64),
            (delivered(id=12), None, "a" * 64),
            (["not", "an", "envelope"], None, ""),
            (None, None, ""),
        ]:
            with self.assertRaises(MalformedEnvelope, msg=repr(raw)) as caught:
                parse_incoming(raw)
            self.assertEqual((caught.exception.envelope_id, caught.exception.from_user),
                             (envelope_id, sender), raw)
            self.assertTrue(caught.exception.reason)
