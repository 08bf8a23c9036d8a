"""The recovery phrase, not the password, opens the account key; password change and reset."""

from __future__ import annotations

import base64
import os
import time
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from autobahn.wamp.exception import ApplicationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from mnemonic import Mnemonic
from twisted.internet import defer, reactor

from securechat.client import events as ev
from securechat.client import recovery
from securechat.client.core import SecureChatClient
from securechat.client.errors import (
    ClientError,
    CorruptBlob,
    InvalidRecoveryPhrase,
    RecoveryPhraseNeeded,
    WrongPassword,
    WrongRecoveryPhrase,
)
from securechat.client.keys import AccountSecrets, open_recovery, seal_recovery
from securechat.client.wamp import Anonymous, DeviceKey, Password
from securechat.protocol import scram, uris
from securechat.protocol.recovery import password_reset_message
from securechat.testing import TEST_LOGIN_FLOOR
from tests.clientsupport import FAST, ClientTestCase

ALICE, BOB = "alice@example.org", "bob@example.org"
OLD, NEW = "the old password", "a brand new password"


def other_phrase() -> str:
    return str(Mnemonic("english").generate(strength=128))


class RecoveryPhraseTests(ClientTestCase):
    @defer.inlineCallbacks
    def relay_account(self, user_id: str) -> Any:
        account = yield self.relay.router.storage.get_account(user_id)
        return account

    @defer.inlineCallbacks
    def devices_of(self, client: SecureChatClient) -> Any:
        session = yield self.join(Password(client.me.user_id, OLD, TEST_LOGIN_FLOOR))
        devices = yield session.call(uris.DEVICE_LIST)
        return sorted(d["device_id"] for d in devices)

    def login(self, name: str, email: str, password: str = OLD,  # type: ignore[override]
              phrase: str | None = None) -> Any:
        d = SecureChatClient.login(reactor, self.device_dir(name), self.url, email, password,
                                   FAST, floor=FAST,
                                   recovery_phrase=phrase or self.phrases[email])
        return d.addCallback(self._track)

    @defer.inlineCallbacks
    def test_what_the_relay_holds_plus_the_password_does_not_give_the_account_key(self) -> Any:
        alice = yield self.register("alice", ALICE, OLD)
        account = yield self.relay_account(alice.me.user_id)
        blob, seed = bytes(account.recovery_blob), alice._ctx.secrets.identity_seed
        self.assertTrue(blob.startswith(b"SCR2"))
        self.assertNotIn(seed, blob)
        self.assertNotIn(seed.hex().encode(), blob)
        # The old way (Argon2id of the password) no longer applies to it...
        with self.assertRaises(CorruptBlob):
            open_recovery(blob, OLD, alice.me.user_id)
        # ...nor does any key the relay could make from the password and its verifier.
        nonce, sealed = blob[4:16], blob[16:]
        for salt in (base64.b64decode(account.scram_salt), alice.me.user_id.encode()[:16]):
            key = hash_secret_raw(OLD.encode(), salt, time_cost=1, memory_cost=8192,
                                  parallelism=1, hash_len=32, type=Type.ID)
            with self.assertRaises(InvalidTag):
                AESGCM(key).decrypt(nonce, sealed, blob[:16] + alice.me.user_id.encode())
        # A relay with the password logs in, gets the blob, and still cannot add a device.
        with self.assertRaises(RecoveryPhraseNeeded):
            yield SecureChatClient.login(reactor, self.device_dir("relay"), self.url, ALICE,
                                         OLD, FAST, floor=FAST)
        with self.assertRaises(WrongRecoveryPhrase):
            yield self.login("relay", ALICE, phrase=other_phrase())
        self.assertEqual((yield self.devices_of(alice)), [alice.me.device_id])
        self.assertFalse(os.path.exists(os.path.join(self.device_dir("relay"),
                                                     alice.me.user_id)))
        # The phrase opens it.
        opened = recovery.open_blob(blob, self.phrases[ALICE], alice.me.user_id)
        self.assertEqual(opened.identity_seed, seed)

    @defer.inlineCallbacks
    def test_a_new_device_signs_in_with_the_phrase_and_messages(self) -> Any:
        laptop = yield self.register("laptop", ALICE, OLD)
        bob = yield self.register("bob", BOB)
        # however the phrase was written down: capitals, extra spaces, line breaks
        written = "\n ".join(self.phrases[ALICE].upper().split())
        phone = yield self.login("phone", ALICE, phrase=written)
        self.assertEqual(phone._ctx.secrets.identity_public, laptop._ctx.secrets.identity_public)
        self.assertEqual(phone._ctx.secrets.mnemonic, self.phrases[ALICE])
        yield self.online(laptop, phone, bob)
        yield self.befriend(laptop, bob, phone)
        sent = yield phone.send_text(bob.me.user_id, "from my new phone")
        got = yield self.log(bob).wait_for(ev.MessageReceived)
        self.assertEqual((got.message.id, got.message.text), (sent.id, "from my new phone"))

    @defer.inlineCallbacks
    def test_a_mistyped_phrase_is_refused_before_the_network(self) -> Any:
        words = Mnemonic("english").generate(strength=128).split()
        offline = "ws://127.0.0.1:1"  # nothing listens: any network use would fail otherwise
        cases = [
            (" ".join(words[:11]), "has 11"),
            (" ".join([*words[:4], "abandn", *words[5:]]), "word 5 ('abandn')"),
            (" ".join([words[1], words[0], *words[2:]]) if words[0] != words[1] else None,
             "a word is wrong or two are swapped"),
        ]
        for phrase, says in cases:
            if phrase is None or Mnemonic("english").check(phrase):
                continue  # a swap that happens to keep the checksum (1 in 16)
            with self.assertRaises(InvalidRecoveryPhrase) as caught:
                yield SecureChatClient.login(reactor, self.device_dir("phone"), offline, ALICE,
                                             OLD, FAST, recovery_phrase=phrase)
            self.assertIn(says, str(caught.exception))
            with self.assertRaises(InvalidRecoveryPhrase):
                yield SecureChatClient.reset_password(reactor, self.device_dir("phone"),
                                                      offline, ALICE, phrase, NEW, FAST)

    @defer.inlineCallbacks
    def test_an_old_password_sealed_blob_still_signs_in_and_is_replaced(self) -> Any:
        laptop = yield self.register("laptop", ALICE, OLD)
        secrets, user_id = laptop._ctx.secrets, laptop.me.user_id
        yield laptop.stop()
        self.clients.remove(laptop)
        os.remove(os.path.join(laptop.account_dir, recovery.LOCAL_COPY))  # made before it
        legacy = seal_recovery(AccountSecrets(secrets.identity_seed, secrets.mnemonic), OLD,
                               user_id, 1, 8192)
        yield self.restart_relay_with(lambda db: db.execute(
            "UPDATE accounts SET recovery_blob=?", (legacy,)))
        # Not handed to anyone without a login: it is only as strong as the password.
        anonymous = yield self.join(Anonymous())
        with self.assertRaises(ApplicationError) as caught:
            yield anonymous.call(uris.ACCOUNT_RECOVERY_FETCH, user_id)
        self.assertEqual(caught.exception.error, uris.ERR_RECOVERY_UNAVAILABLE)
        # Signing in still takes the phrase.
        with self.assertRaises(WrongRecoveryPhrase):
            yield self.login("tablet", ALICE, phrase=other_phrase())
        phone = yield self.login("phone", ALICE)
        self.assertEqual(phone._ctx.secrets.identity_seed, secrets.identity_seed)
        self.assertEqual(bytes((yield self.relay_account(user_id)).recovery_blob), legacy)
        # Opened with the password on a device with the identity seed: replaced.
        laptop = yield SecureChatClient.open(reactor, self.device_dir("laptop"), self.url,
                                             ALICE, OLD)
        self._track(laptop)
        yield self.online(laptop)
        blob = bytes((yield self.relay_account(user_id)).recovery_blob)
        self.assertTrue(blob.startswith(b"SCR2"))
        self.assertEqual(recovery.open_blob(blob, secrets.mnemonic, user_id).identity_seed,
                         secrets.identity_seed)
        with self.assertRaises(CorruptBlob):
            open_recovery(blob, OLD, user_id)
        self.assertTrue(os.path.exists(os.path.join(laptop.account_dir, recovery.LOCAL_COPY)))

    @defer.inlineCallbacks
    def test_the_relay_takes_only_phrase_sealed_blobs_from_the_accounts_devices(self) -> Any:
        alice = yield self.register("alice", ALICE, OLD)
        yield self.online(alice)
        with self.assertRaises(ApplicationError) as caught:
            yield alice.connection.session.call(uris.ACCOUNT_RECOVERY_UPDATE, b"SCR1" + b"x" * 64)
        self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)
        with self.assertRaises(ApplicationError) as caught:
            yield alice.connection.session.call(uris.ACCOUNT_RECOVERY_UPDATE,
                                                b"SCR2" + b"x" * (17 * 1024))
        self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)
        for credentials in (Anonymous(), Password(alice.me.user_id, OLD, TEST_LOGIN_FLOOR)):
            session = yield self.join(credentials)
            with self.assertRaises(ApplicationError) as caught:
                yield session.call(uris.ACCOUNT_RECOVERY_UPDATE, b"SCR2" + b"x" * 64)
            self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)
        device = yield self.join(DeviceKey(alice.me.device_id, alice._ctx.device_key.seed))
        with self.assertRaises(ApplicationError) as caught:  # a device: not without the password
            yield device.call(uris.ACCOUNT_PASSWORD_CHANGE, {})
        self.assertEqual(caught.exception.error, uris.WAMP_NOT_AUTHORIZED)


class PasswordTests(ClientTestCase):
    @defer.inlineCallbacks
    def closed(self, client: SecureChatClient) -> Any:
        yield client.stop()
        self.clients.remove(client)

    def open(self, name: str, password: str) -> Any:
        return SecureChatClient.open(reactor, self.device_dir(name), self.url, ALICE,
                                     password).addCallback(self._track)

    def new_device(self, name: str, password: str) -> Any:
        return SecureChatClient.login(reactor, self.device_dir(name), self.url, ALICE,
                                      password, FAST, floor=FAST,
                                      recovery_phrase=self.phrases[ALICE]
                                      ).addCallback(self._track)

    @defer.inlineCallbacks
    def test_after_a_change_only_the_new_password_opens_and_signs_in(self) -> Any:
        alice = yield self.register("laptop", ALICE, OLD)
        yield alice.set_pin(OLD, "246810", FAST)
        with self.assertRaises(WrongPassword):
            yield alice.change_password("not the password", NEW, FAST)
        with self.assertRaises(ClientError):
            yield alice.change_password(OLD, "", FAST)
        yield alice.change_password(OLD, NEW, FAST)
        yield self.closed(alice)
        with self.assertRaises(WrongPassword):
            yield self.open("laptop", OLD)
        laptop = yield self.open("laptop", NEW)
        yield self.closed(laptop)
        pinned = yield SecureChatClient.open_with_pin(reactor, self.device_dir("laptop"),
                                                      self.url, ALICE, "246810")
        yield pinned.stop()  # the PIN seals device keys only: still valid
        with self.assertRaises(WrongPassword):
            yield self.new_device("phone", OLD)
        phone = yield self.new_device("phone", NEW)
        self.assertEqual(phone._ctx.secrets.identity_public, alice._ctx.secrets.identity_public)

    @defer.inlineCallbacks
    def test_a_change_the_relay_does_not_take_keeps_the_old_password(self) -> Any:
        alice = yield self.register("laptop", ALICE, OLD)
        yield self.relay.stopService()
        with self.assertRaises(ClientError) as caught:
            yield alice.change_password(OLD, NEW, FAST)
        self.assertIn("could not reach the relay", str(caught.exception))
        yield self.closed(alice)
        with self.assertRaises(WrongPassword):
            yield self.open("laptop", NEW)
        laptop = yield self.open("laptop", OLD)
        yield self.start_relay_again(wait_online=False)
        yield self.online(laptop)
        phone = yield self.new_device("phone", OLD)
        self.assertNotEqual(phone.me.device_id, laptop.me.device_id)

    @defer.inlineCallbacks
    def test_a_device_left_behind_catches_up_with_a_change_made_elsewhere(self) -> Any:
        laptop = yield self.register("laptop", ALICE, OLD)
        phone = yield self.new_device("phone", OLD)
        yield phone.change_password(OLD, NEW, FAST)
        # the laptop still opens with the old one; changing it there to the new one works
        # although the relay no longer takes the old one
        yield laptop.change_password(OLD, NEW, FAST)
        with self.assertRaises(ClientError) as caught:
            yield phone.change_password(NEW, NEW, FAST)
        self.assertIn("same", str(caught.exception))
        yield self.closed(laptop)
        yield self.open("laptop", NEW)

    @defer.inlineCallbacks
    def test_forgot_password_the_phrase_sets_a_new_one(self) -> Any:
        laptop = yield self.register("laptop", ALICE, OLD)
        yield self.closed(laptop)
        with self.assertRaises(WrongRecoveryPhrase):
            yield SecureChatClient.reset_password(reactor, self.device_dir("laptop"), self.url,
                                                  ALICE, other_phrase(), NEW, FAST)
        yield self.open("laptop", OLD).addCallback(self.closed)  # nothing changed
        resealed = yield SecureChatClient.reset_password(
            reactor, self.device_dir("laptop"), self.url, ALICE, self.phrases[ALICE], NEW, FAST)
        self.assertTrue(resealed)
        with self.assertRaises(WrongPassword):
            yield self.new_device("phone", OLD)
        with self.assertRaises(WrongPassword):
            yield self.open("laptop", OLD)
        laptop = yield self.open("laptop", NEW)
        yield self.online(laptop)
        phone = yield self.new_device("phone", NEW)
        self.assertEqual(phone._ctx.secrets.identity_public, laptop._ctx.secrets.identity_public)
        # from a device without the account, the relay alone is reset
        here = yield SecureChatClient.reset_password(
            reactor, self.device_dir("elsewhere"), self.url, ALICE, self.phrases[ALICE],
            "a third password", FAST)
        self.assertIsNone(here)
        yield self.new_device("tablet", "a third password")

    @defer.inlineCallbacks
    def test_a_reset_request_works_once_and_only_signed_by_the_account_key(self) -> Any:
        laptop = yield self.register("laptop", ALICE, OLD)
        user_id, identity = laptop.me.user_id, laptop._ctx.secrets.identity
        anonymous = yield self.join(Anonymous())
        answer = yield anonymous.call(uris.ACCOUNT_RECOVERY_FETCH, user_id)
        verifier = recovery.verifier_argument(scram.make_verifier(NEW, 1, 8192))
        now = int(time.time() * 1000)

        def request(key: Any, timestamp: int = now) -> list[Any]:
            signed = password_reset_message(user_id, answer["scram_salt"], verifier, timestamp)
            return [user_id, verifier, timestamp, base64.b64encode(key.sign(signed)).decode()]

        bob = yield self.register("bob", BOB)
        for args, error in ((request(bob._ctx.secrets.identity), uris.ERR_BAD_SIGNATURE),
                            (request(identity, now - 3600_000), uris.ERR_RESET_EXPIRED)):
            with self.assertRaises(ApplicationError) as caught:
                yield anonymous.call(uris.ACCOUNT_PASSWORD_RESET, *args)
            self.assertEqual(caught.exception.error, error)
        # A new verifier that keeps the current salt would make the request replayable.
        same_salt = {**verifier, "salt": answer["scram_salt"]}
        signed_same = password_reset_message(user_id, answer["scram_salt"], same_salt, now)
        with self.assertRaises(ApplicationError) as caught:
            yield anonymous.call(uris.ACCOUNT_PASSWORD_RESET, user_id, same_salt, now,
                                 base64.b64encode(identity.sign(signed_same)).decode())
        self.assertEqual(caught.exception.error, uris.ERR_INVALID_ARGUMENT)
        signed = request(identity)
        yield anonymous.call(uris.ACCOUNT_PASSWORD_RESET, *signed)
        with self.assertRaises(ApplicationError) as caught:  # replayed
            yield anonymous.call(uris.ACCOUNT_PASSWORD_RESET, *signed)
        self.assertEqual(caught.exception.error, uris.ERR_BAD_SIGNATURE)
        yield self.join(Password(user_id, NEW, TEST_LOGIN_FLOOR))
