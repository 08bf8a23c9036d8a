"""The quick-unlock PIN: set with the master password, opens the account, wears out."""

from __future__ import annotations

import os
import shutil
from typing import Any

import keyring
from keyring.backends import fail
from twisted.internet import defer, reactor

from securechat.client import pin
from securechat.client.core import SecureChatClient
from securechat.client.errors import ClientError, InvalidPin, PinLocked, WrongPassword, WrongPin
from securechat.client.model import KdfCost
from securechat.client.pin import MAX_TRIES, PIN_FILE
from tests.clientsupport import ClientTestCase
from tests.test_client_faults import install_keychain

PASSWORD = "pw-" + "x" * 10
PIN_TEST_COST = KdfCost(memory_kib=8192, iterations=1)
EMAIL = "alice@example.org"


class PinCase(ClientTestCase):
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


class PinTests(PinCase):
    """Without a keychain (the default in tests): the PIN alone seals the keys."""

    @defer.inlineCallbacks
    def test_the_right_pin_opens_the_account(self) -> Any:
        self.assertFalse(SecureChatClient.has_pin(self.device_dir("alice"), EMAIL))
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        self.assertTrue(SecureChatClient.has_pin(self.device_dir("alice"), EMAIL))
        self.assertEqual(os.stat(self.pin_path).st_mode & 0o777, 0o600)
        # no keychain here: the PIN alone seals the keys (and the UI says what that means)
        self.assertFalse(SecureChatClient.pin_keychain_bound())
        with open(self.pin_path, "rb") as f:
            self.assertEqual(f.read(4), b"SCP2")
        yield self.closed()
        alice = yield self.open_with_pin("482916")
        self._track(alice)
        self.assertEqual(alice.me.email, EMAIL)
        # the PIN opened this device's keys only: not the account's identity seed or
        # recovery phrase (which the master password alone unseals)
        self.assertIsNone(alice._ctx.secrets)
        keys = pin.unlock(alice.account_dir, "482916")
        self.assertEqual(sorted(keys), ["device_seed", "identity_public", "local_key"])
        self.assertNotIn(PASSWORD, repr(keys))
        yield self.online(alice)  # a working client: it connects and catches up

    @defer.inlineCallbacks
    def test_setting_a_pin_needs_the_master_password_and_digits(self) -> Any:
        with self.assertRaises(WrongPassword):
            yield self.alice.set_pin("not the password", "482916", PIN_TEST_COST)
        for bad in ("12345", "1234", "12ab56", "1234567890123", ""):
            with self.assertRaises(InvalidPin) as caught:
                yield self.alice.set_pin(PASSWORD, bad, PIN_TEST_COST)
            self.assertEqual(str(caught.exception), "a PIN is 6 to 12 digits")
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

    @defer.inlineCallbacks
    def test_a_pin_set_without_a_keychain_is_bound_to_one_that_appears(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        yield self.closed()
        keychain = install_keychain(self)
        alice = yield self.open_with_pin("482916")
        yield alice.stop()
        with open(self.pin_path, "rb") as f:
            self.assertEqual(f.read(4), b"SCK1")
        self.assertEqual(len(pin_entries(keychain)), 1)
        alice = yield self.open_with_pin("482916")
        self._track(alice)


def pin_entries(keychain: Any) -> list[str]:
    return [name for (_, name) in keychain.items if "/pin/" in name]


class PinWithKeychainTests(PinCase):
    """Where the OS has a keychain, a copy of the account directory is not enough to
    guess the PIN: its sealed keys are wrapped again under a key kept in the keychain."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.keychain = install_keychain(self)
        yield super().setUp()

    @defer.inlineCallbacks
    def test_a_copy_of_the_account_directory_does_not_open_even_with_the_right_pin(
            self) -> Any:
        self.assertTrue(SecureChatClient.pin_keychain_bound())
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        self.assertEqual(len(pin_entries(self.keychain)), 1)
        with open(self.pin_path, "rb") as f:
            self.assertEqual(f.read(4), b"SCK1")
        yield self.closed()
        for thief, other_machine, words in (
                ("thief-1", install_keychain(self), "gone from the system keychain"),
                ("thief-2", fail.Keyring(), "needs the system keychain")):
            shutil.copytree(self.alice.account_dir,
                            os.path.join(self.device_dir(thief), self.alice.me.user_id))
            keyring.set_keyring(other_machine)
            with self.assertRaises(ClientError) as caught:
                yield SecureChatClient.open_with_pin(reactor, self.device_dir(thief),
                                                     self.url, EMAIL, "482916")
            self.assertIn(words, str(caught.exception))
            self.assertNotIn("482916", str(caught.exception))
        # on this machine the PIN still opens the account
        keyring.set_keyring(self.keychain)
        alice = yield self.open_with_pin("482916")
        self._track(alice)
        yield self.online(alice)

    @defer.inlineCallbacks
    def test_a_new_pin_or_removing_it_deletes_the_old_keychain_entry(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        first = pin_entries(self.keychain)
        yield self.alice.set_pin(PASSWORD, "97531086", PIN_TEST_COST)
        second = pin_entries(self.keychain)
        self.assertEqual(len(second), 1)
        self.assertNotEqual(first, second)
        yield self.closed()
        with self.assertRaises(WrongPin):
            yield self.open_with_pin("482916")
        alice = yield self.open_with_pin("97531086")
        self._track(alice)
        yield alice.remove_pin()
        self.assertEqual(pin_entries(self.keychain), [])
        self.assertFalse(os.path.exists(self.pin_path))

    @defer.inlineCallbacks
    def test_wrong_pins_erase_the_keychain_entry_too(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", PIN_TEST_COST)
        yield self.closed()
        for _ in range(MAX_TRIES - 1):
            with self.assertRaises(WrongPin):
                yield self.open_with_pin("000000")
        with self.assertRaises(PinLocked):
            yield self.open_with_pin("000000")
        self.assertEqual(pin_entries(self.keychain), [])
