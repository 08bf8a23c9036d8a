"""One-time keys are handed out once, atomically; fallback keys after they run out."""

from __future__ import annotations

import base64
import os
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.support import RelayTestCase


def curve_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class PrekeyTests(RelayTestCase):
    config = RelayConfig(max_prekeys=20)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.bob = yield self.account("bob@example.org")
        self.bob_laptop = yield self.device(self.bob, "bob-laptop")
        self.bob_phone = yield self.device(self.bob, "bob-phone")
        self.alice = yield self.account("alice@example.org")
        self.claimers = []
        for i in range(4):
            device = yield self.device(self.alice, f"alice-{i}")
            session, _ = yield self.online(device)
            self.claimers.append(session)

    @defer.inlineCallbacks
    def test_concurrent_claims_never_get_the_same_one_time_key(self) -> Any:
        laptop, _ = yield self.online(self.bob_laptop)
        keys = {f"k{i}": curve_key() for i in range(10)}
        fallback = {"key_id": "fb1", "key": curve_key()}
        result = yield laptop.call(uris.PREKEYS_PUBLISH, keys, fallback)
        self.assertEqual(result, {"count": 10})
        # 16 claims in flight at once from 4 sessions.
        claims = yield defer.gatherResults([
            self.claimers[i % 4].call(uris.PREKEYS_CLAIM, self.bob.user_id) for i in range(16)
        ])
        laptop_keys = [next(b for b in c if b["device_id"] == "bob-laptop")["one_time_key"]
                       for c in claims]
        one_time = [k["key_id"] for k in laptop_keys if not k["fallback"]]
        self.assertEqual(sorted(one_time), sorted(keys))  # each exactly once
        self.assertEqual([k["key_id"] for k in laptop_keys if k["fallback"]], ["fb1"] * 6)
        # The phone published nothing: its bundles say so rather than inventing a key.
        phone = [next(b for b in c if b["device_id"] == "bob-phone") for c in claims]
        self.assertEqual({b["one_time_key"] is None for b in phone}, {True})
        self.assertEqual(phone[0]["identity_key"], self.bob_phone.identity_key)
        self.assertEqual((yield laptop.call(uris.PREKEYS_COUNT)), 0)

    @defer.inlineCallbacks
    def test_a_claim_can_name_the_devices_it_needs(self) -> Any:
        for device in (self.bob_laptop, self.bob_phone):
            session, _ = yield self.online(device)
            yield session.call(uris.PREKEYS_PUBLISH, {"k1": curve_key(), "k2": curve_key()})
        bundles = yield self.claimers[0].call(uris.PREKEYS_CLAIM, self.bob.user_id,
                                              ["bob-phone"])
        self.assertEqual([b["device_id"] for b in bundles], ["bob-phone"])
        laptop, _ = yield self.online(self.bob_laptop)
        self.assertEqual((yield laptop.call(uris.PREKEYS_COUNT)), 2)  # none of its were used

    @defer.inlineCallbacks
    def test_keys_survive_a_relay_restart(self) -> Any:
        laptop, _ = yield self.online(self.bob_laptop)
        yield laptop.call(uris.PREKEYS_PUBLISH, {"k1": curve_key()})
        yield self.restart_relay()
        alice = yield self.join(self.claimers[0].credentials)
        bundles = yield alice.call(uris.PREKEYS_CLAIM, self.bob.user_id)
        self.assertEqual(bundles[0]["one_time_key"]["key_id"], "k1")

    @defer.inlineCallbacks
    def test_a_device_may_not_hoard_keys(self) -> Any:
        laptop, _ = yield self.online(self.bob_laptop)
        yield laptop.call(uris.PREKEYS_PUBLISH, {f"a{i}": curve_key() for i in range(20)})
        with self.assertRaises(ApplicationError) as caught:
            yield laptop.call(uris.PREKEYS_PUBLISH, {"one-more": curve_key()})
        self.assertEqual(caught.exception.error, uris.ERR_TOO_MANY_PREKEYS)
        with self.assertRaises(ApplicationError) as caught:
            yield laptop.call(uris.PREKEYS_PUBLISH, {"bad": "not base64 of 32 bytes"})
        self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)


class ClaimLimitTests(RelayTestCase):
    """Review M4: a stranger cannot drain someone's one-time keys."""

    use_clock = True
    config = RelayConfig(claim_rate=0.1, claim_burst=3)

    @defer.inlineCallbacks
    def test_claims_for_one_target_are_rate_limited_and_others_still_served(self) -> Any:
        bob = yield self.account("bob@example.org")
        carol = yield self.account("carol@example.org")
        mallory = yield self.account("mallory@example.org")
        for target in (bob, carol):
            session, _ = yield self.online((yield self.device(target)))
            yield session.call(uris.PREKEYS_PUBLISH, {f"k{i}": curve_key() for i in range(10)})
        claimer, _ = yield self.online((yield self.device(mallory)))
        for _ in range(3):
            yield claimer.call(uris.PREKEYS_CLAIM, bob.user_id)
        with self.assertRaises(ApplicationError) as caught:
            yield claimer.call(uris.PREKEYS_CLAIM, bob.user_id)
        self.assertEqual(caught.exception.error, uris.ERR_RATE_LIMITED)
        self.assertGreater(caught.exception.kwargs["retry_after"], 0)
        yield claimer.call(uris.PREKEYS_CLAIM, carol.user_id)  # another target: served
        self.clock.advance(10)
        yield claimer.call(uris.PREKEYS_CLAIM, bob.user_id)  # and Bob again, later
