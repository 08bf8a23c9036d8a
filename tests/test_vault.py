"""The vault behind its local TOTP code: items, search, files, the generator, locking,
and every error of the spec's Secure Vault and Secure Vault MFA tables."""

from __future__ import annotations

import base64
import os
import sqlite3
from typing import Any

import pyotp
from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from securechat.client import (
    ClientError,
    InvalidCode,
    MfaLockedOut,
    SecureChatClient,
    StorageFull,
    VaultCorrupted,
    VaultItemType,
    VaultLocked,
    VaultPasswordNeeded,
    WrongPassword,
    generate_password,
)
from securechat.client import totp as totp_module
from securechat.client.vault_lock import VaultLock
from tests.clientsupport import ClientTestCase

PASSWORD = "pw-" + "x" * 10
T0 = 1_700_000_010.0  # a fixed "now", 10 s into a 30-s step


class RFC6238(unittest.TestCase):
    """RFC 6238 Appendix B, SHA-1 rows, through the code the vault checks with."""

    SECRET = base64.b32encode(b"12345678901234567890").decode()
    VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
               (1234567890, "89005924"), (2000000000, "69279037"),
               (20000000000, "65353130")]

    def test_appendix_b(self) -> None:
        for t, expected in self.VECTORS:
            self.assertEqual(totp_module.code_at(self.SECRET, t, digits=8), expected, t)
            # Six digits are the same truncation, modulo 10**6.
            self.assertEqual(totp_module.code_at(self.SECRET, t), expected[2:], t)

    def test_delays_grow_after_five_wrong_codes(self) -> None:
        self.assertEqual([totp_module.delay_after(n) for n in range(1, 9)],
                         [0, 0, 0, 0, 30, 60, 120, 240])
        self.assertEqual(totp_module.delay_after(40), totp_module.MAX_DELAY)


class Generator(unittest.TestCase):
    def test_every_class_and_length(self) -> None:
        seen = set()
        for _ in range(200):
            password = generate_password(16)
            self.assertEqual(len(password), 16)
            self.assertTrue(any(c.islower() for c in password))
            self.assertTrue(any(c.isupper() for c in password))
            self.assertTrue(any(c.isdigit() for c in password))
            self.assertTrue(any(not c.isalnum() for c in password))
            seen.add(password)
        self.assertEqual(len(seen), 200)
        self.assertTrue(generate_password(12, symbols=False).isalnum())
        self.assertRaises(ClientError, generate_password, 3)


class LockMachine(unittest.TestCase):
    def test_idle_and_lock_while_unlocking(self) -> None:
        clock = task.Clock()
        lock = VaultLock(clock, idle_seconds=60)
        locks: list[str] = []
        lock.on_lock.append(lambda: locks.append("locked"))
        lock.begin()
        self.assertRaises(ClientError, lock.begin)  # one unlock at a time
        lock.opened(b"k" * 32)
        clock.advance(59)
        self.assertEqual(lock.key(), b"k" * 32)  # activity: the timer starts again
        clock.advance(59)
        self.assertTrue(lock.is_unlocked)
        clock.advance(1)
        self.assertFalse(lock.is_unlocked)
        self.assertEqual((lock.state, locks), ("locked", ["locked"]))
        self.assertRaises(VaultLocked, lock.key)
        lock.begin()
        lock.lock()  # the app closes while PBKDF2 runs
        lock.opened(b"k" * 32)  # ... its key comes too late
        self.assertFalse(lock.is_unlocked)


class VaultTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", "alice@example.org")
        self.now = T0
        self.alice.mfa.clock = lambda: self.now

    def code(self, secret: str, shift: float = 0) -> str:
        return pyotp.TOTP(secret).at(int(self.now + shift))

    @defer.inlineCallbacks
    def set_up_mfa(self) -> Any:
        setup = yield self.alice.mfa.provision()
        yield self.alice.mfa.confirm(self.code(setup.secret))
        self.now += 30  # a code is accepted once: the next one is a step later
        return setup

    @defer.inlineCallbacks
    def test_round_trip_every_item_type(self) -> None:
        vault = self.alice.vault
        self.assertRaises(VaultLocked, vault.items)
        yield vault.unlock()  # MFA off: the master key alone
        login = yield vault.add_password("Bank", "s3cret!", username="alice",
                                         url="https://bank.example")
        note = yield vault.add_note("Door code", "4711")
        source = self.mktemp()
        content = os.urandom(70_000)
        with open(source, "wb") as f:
            f.write(content)
        doc = yield vault.add_file("Passport scan", source, "image/png")
        self.assertEqual((doc.type, doc.size), (VaultItemType.FILE, len(content)))
        self.assertEqual([i.title for i in vault.items()], ["Bank", "Door code",
                                                            "Passport scan"])
        self.assertEqual([i.id for i in vault.search("BAN")], [login.id])
        edited = yield vault.edit(login.id, password="n3w!", title="My bank")
        self.assertEqual(edited.title, "My bank")
        self.assertEqual((yield vault.get(login.id)), {
            "title": "My bank", "username": "alice", "password": "n3w!",
            "url": "https://bank.example", "notes": ""})
        yield vault.delete(note.id)
        self.assertEqual([i.title for i in vault.items()], ["My bank", "Passport scan"])

        # At rest nothing is readable: not titles, not data, not the file.
        vault_dir = os.path.join(self.alice.account_dir, "vault")
        for root, _, files in os.walk(vault_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    raw = f.read()
                for secret in (b"My bank", b"n3w!", b"alice", content[:64]):
                    self.assertNotIn(secret, raw, name)

        # Stored apart from the main database, and still there after a restart.
        self.alice = yield self.reopen(self.alice, "alice")
        self.assertFalse(self.alice.vault.is_unlocked)
        yield self.alice.vault.unlock()
        self.assertEqual([i.title for i in self.alice.vault.items()],
                         ["My bank", "Passport scan"])
        out = self.mktemp()
        yield self.alice.vault.export_file(doc.id, out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)

    @defer.inlineCallbacks
    def test_mfa_provisioning_and_unlock(self) -> None:
        mfa = self.alice.mfa
        setup = yield mfa.provision()
        self.assertTrue(setup.uri.startswith("otpauth://totp/SecureChat:alice%40example.org?"))
        parsed = pyotp.parse_uri(setup.uri)  # what an authenticator app reads
        self.assertEqual((parsed.secret, parsed.digits, parsed.interval),
                         (setup.secret, 6, 30))
        self.assertEqual(len(setup.recovery_codes), 10)
        self.assertNotIn(setup.secret, repr(setup))
        # Not on until a first code confirms it: the vault opens without one.
        self.assertFalse((yield mfa.is_enabled()))
        yield self.assertFailure(mfa.confirm("000000" if self.code(setup.secret) != "000000"
                                             else "111111"), InvalidCode)
        self.assertFalse((yield mfa.is_enabled()))
        yield mfa.confirm(self.code(setup.secret))
        self.assertTrue((yield mfa.is_enabled()))
        self.now += 30
        vault = self.alice.vault
        yield self.assertFailure(vault.unlock(), InvalidCode)
        yield self.assertFailure(vault.unlock("12345"), InvalidCode)  # not 6 digits
        self.assertFalse(vault.is_unlocked)
        yield vault.unlock(self.code(setup.secret))
        self.assertTrue(vault.is_unlocked)
        vault.lock()
        # The same code again (a replay) is refused, even within its step.
        yield self.assertFailure(vault.unlock(self.code(setup.secret)), InvalidCode)

    @defer.inlineCallbacks
    def test_clock_skew_window(self) -> None:
        setup = yield self.set_up_mfa()
        vault = self.alice.vault
        # A code from the authenticator's clock 30 s behind, then 30 s ahead: accepted.
        for shift in (-30, 30):
            self.now += 90
            yield vault.unlock(self.code(setup.secret, shift))
            vault.lock()
        # 90 s off either way: refused.
        for shift in (-90, 90):
            self.now += 90
            yield self.assertFailure(vault.unlock(self.code(setup.secret, shift)), InvalidCode)

    @defer.inlineCallbacks
    def test_delays_after_five_wrong_codes_survive_a_restart(self) -> None:
        setup = yield self.set_up_mfa()
        right = self.code(setup.secret)
        wrong = f"{(int(right) + 1) % 1000000:06d}"
        for _ in range(4):
            yield self.assertFailure(self.alice.vault.unlock(wrong), InvalidCode)
        yield self.assertFailure(self.alice.vault.unlock(wrong), InvalidCode)  # the 5th
        locked = yield self.assertFailure(self.alice.vault.unlock(right), MfaLockedOut)
        self.assertEqual(locked.retry_after, 30)
        self.alice = yield self.reopen(self.alice, "alice")
        self.alice.mfa.clock = lambda: self.now
        yield self.assertFailure(self.alice.vault.unlock(right), MfaLockedOut)
        self.now += 30
        yield self.assertFailure(self.alice.vault.unlock(wrong), InvalidCode)  # the 6th
        locked = yield self.assertFailure(self.alice.vault.unlock(right), MfaLockedOut)
        self.assertEqual(locked.retry_after, 60)
        self.now += 60
        yield self.alice.vault.unlock(self.code(setup.secret))
        self.alice.vault.lock()
        self.now += 30
        for _ in range(4):  # a right code started the count again
            yield self.assertFailure(self.alice.vault.unlock(wrong), InvalidCode)
        yield self.alice.vault.unlock(self.code(setup.secret))

    @defer.inlineCallbacks
    def test_recovery_codes_and_disabling(self) -> None:
        setup = yield self.set_up_mfa()
        mfa = self.alice.mfa
        yield self.assertFailure(mfa.disable("000000" if self.code(setup.secret) != "000000"
                                             else "111111"), InvalidCode)
        self.assertTrue((yield mfa.is_enabled()))
        first = setup.recovery_codes[0]
        yield self.alice.vault.unlock(first.lower())  # once, any case
        self.alice.vault.lock()
        yield self.assertFailure(self.alice.vault.unlock(first), InvalidCode)
        yield mfa.disable(setup.recovery_codes[1])
        self.assertFalse((yield mfa.is_enabled()))
        yield self.alice.vault.unlock()
        # The secret is gone with it: provisioning again gives a new one.
        again = yield mfa.provision()
        self.assertNotEqual(again.secret, setup.secret)

    @defer.inlineCallbacks
    def test_pin_opened_account_needs_the_password(self) -> None:
        yield self.alice.vault.unlock()
        item = yield self.alice.vault.add_note("n", "text")
        yield self.alice.set_pin(PASSWORD, "123456")
        yield self.alice.stop()
        self.clients.remove(self.alice)
        alice = self._track((yield SecureChatClient.open_with_pin(
            reactor, self.device_dir("alice"), self.url, "alice@example.org", "123456")))
        self.assertTrue(alice.vault.needs_password)
        yield self.assertFailure(alice.vault.unlock(), VaultPasswordNeeded)
        error = yield self.assertFailure(alice.vault.unlock(password="wrong password"),
                                         WrongPassword)
        self.assertIn("Invalid passphrase", str(error))
        yield alice.vault.unlock(password=PASSWORD)
        self.assertEqual((yield alice.vault.get(item.id))["text"], "text")

    @defer.inlineCallbacks
    def test_corrupted_vault_offers_a_reset(self) -> None:
        yield self.alice.vault.unlock()
        yield self.alice.vault.add_note("n", "text")
        self.alice.vault.lock()
        yield self.alice.vault.store.close()
        db = sqlite3.connect(os.path.join(self.alice.account_dir, "vault", "vault.sqlite"))
        db.execute("UPDATE vault_items SET sealed = substr(sealed, 1, 40) || x'00' || "
                   "substr(sealed, 42)")
        db.commit()
        db.close()
        yield self.assertFailure(self.alice.vault.unlock(), VaultCorrupted)
        self.assertFalse(self.alice.vault.is_unlocked)
        yield self.assertFailure(self.alice.vault.reset("yes"), ClientError)  # not explicit
        yield self.alice.vault.reset("RESET")
        yield self.alice.vault.unlock()
        self.assertEqual(self.alice.vault.items(), [])

    @defer.inlineCallbacks
    def test_garbage_database_is_corrupted(self) -> None:
        yield self.alice.vault.unlock()
        yield self.alice.vault.close()
        with open(os.path.join(self.alice.account_dir, "vault", "vault.sqlite"), "wb") as f:
            f.write(b"this is not a database" * 100)
        yield self.assertFailure(self.alice.vault.unlock(), VaultCorrupted)

    @defer.inlineCallbacks
    def test_storage_full(self) -> None:
        vault = self.alice.vault
        yield vault.unlock()
        vault.quota = 4096
        yield vault.add_note("small", "x" * 100)
        yield self.assertFailure(vault.add_note("big", "x" * 5000), StorageFull)
        source = self.mktemp()
        with open(source, "wb") as f:
            f.write(b"y" * 5000)
        yield self.assertFailure(vault.add_file("f", source), StorageFull)
        self.assertEqual([i.title for i in vault.items()], ["small"])
        self.assertEqual(os.listdir(os.path.join(self.alice.account_dir, "vault", "files")),
                         [])
