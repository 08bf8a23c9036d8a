"""The quick-unlock PIN: set with the master password, opens the account, wears out."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer, reactor

from securechat.client import pin
from securechat.client.core import ClientError, KdfCost, SecureChatClient
from securechat.client.keys import WrongPassword
from securechat.client.pin import MAX_TRIES, PIN_FILE, InvalidPin, PinLocked, WrongPin
from tests.clientsupport import ClientTestCase

PASSWORD = "pw-" + "x" * 10
PIN_TEST_COST = KdfCost(memory_kib=8192, iterations=1)
EMAIL = "alice@example.org"


class PinTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", EMAIL)
        self.pin_path = os.path.join(self.alice.account_dir, PIN_FILE)

    @defer.inlineCallbacks
    def closed(self) -> Any:
        """Alice's account closed, as on the lock screen."""
        yield self.alice.stop()
        self.clients.remove(self.alice)

    def open_with_pin(self, pin: str) -> defer.Deferred[Any]:
        return SecureChatClient.open_with_pin(reactor, self.device_dir("alice"), self.url,
                                              EMAIL, pin)

    @defer.inlineCallbacks
    def test_the_right_pin_opens_the_account(self) -> Any:
        self.assertFalse(SecureChatClient.has_pin(self.device_dir("alice"), EMAIL))
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        self.assertTrue(SecureChatClient.has_pin(self.device_dir("alice"), EMAIL))
        self.assertEqual(os.stat(self.pin_path).st_mode & 0o777, 0o600)
        yield self.closed()
        alice = yield self.open_with_pin("482916")
        self._track(alice)
        self.assertEqual(alice.me.email, EMAIL)
        # the PIN opened this device's keys only: not the account's identity seed or
        # recovery phrase (which the master password alone unseals)
        self.assertIsNone(alice._secrets)
        keys = pin.unlock(alice.account_dir, "482916")
        self.assertEqual(sorted(keys), ["device_seed", "identity_public", "local_key"])
        self.assertNotIn(PASSWORD, repr(keys))
        yield self.online(alice)  # a working client: it connects and catches up

    @defer.inlineCallbacks
    def test_setting_a_pin_needs_the_master_password_and_digits(self) -> Any:
        with self.assertRaises(WrongPassword):
            yield self.alice.set_pin("not the password", "482916", PIN_TEST_COST)
        for bad in ("123", "12ab", "1234567890123", ""):
            with self.assertRaises(InvalidPin):
                yield self.alice.set_pin(PASSWORD, bad, PIN_TEST_COST)
        self.assertFalse(os.path.exists(self.pin_path))

    @defer.inlineCallbacks
    def test_wrong_pins_count_down_then_erase_the_pin(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        yield self.closed()
        for left in range(MAX_TRIES - 1, 0, -1):
            with self.assertRaises(WrongPin) as caught:
                yield self.open_with_pin("000000")
            self.assertEqual(caught.exception.tries_left, left)
            self.assertIn(f"{left} tr", str(caught.exception))
        with self.assertRaises(InvalidPin):  # a typo is not a guess
            yield self.open_with_pin("48291x")
        with self.assertRaises(PinLocked):
            yield self.open_with_pin("000000")
        self.assertFalse(os.path.exists(self.pin_path))
        with self.assertRaises(ClientError):  # even the right PIN: it is gone
            yield self.open_with_pin("482916")
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            EMAIL, PASSWORD)
        self._track(alice)

    @defer.inlineCallbacks
    def test_a_right_pin_resets_the_count_and_remove_pin_forgets_it(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        yield self.closed()
        for _ in range(MAX_TRIES - 1):
            with self.assertRaises(WrongPin):
                yield self.open_with_pin("111111")
        alice = yield self.open_with_pin("482916")
        yield alice.stop()
        with self.assertRaises(WrongPin) as caught:
            yield self.open_with_pin("111111")
        self.assertEqual(caught.exception.tries_left, MAX_TRIES - 1)
        alice = yield self.open_with_pin("482916")
        self._track(alice)
        yield alice.remove_pin()
        self.assertFalse(SecureChatClient.has_pin(self.device_dir("alice"), EMAIL))

    @defer.inlineCallbacks
    def test_a_damaged_pin_file_is_a_clear_error_and_the_password_still_works(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        yield self.closed()
        with open(self.pin_path, "rb") as f:
            sealed = f.read()
        # a header asking Argon2id for no passes (or for gigabytes): damaged, not a guess
        with open(self.pin_path, "wb") as f:
            f.write(sealed[:4] + b"\x00" + sealed[5:])
        with self.assertRaises(ClientError) as caught:
            yield self.open_with_pin("482916")
        self.assertIn("damaged", str(caught.exception))
        self.assertFalse(os.path.exists(self.pin_path))
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            EMAIL, PASSWORD)
        self._track(alice)
