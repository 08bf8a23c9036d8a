"""The client core under faults: offline peers, restarts, reinstalls, bad envelopes."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from twisted.internet import defer, reactor

from securechat.client import events as ev
from securechat.client.core import SecureChatClient
from securechat.client.errors import (
    AccountInUse,
    ClientError,
    CreatedNotSetUp,
    MissingSecrets,
    WrongPassword,
)
from securechat.client.model import MessageStatus
from securechat.client.olm import ALG, CRYPTO_VERSION
from securechat.client.wamp import Password, connect
from securechat.protocol import uris
from securechat.testing import TEST_LOGIN_FLOOR
from tests.clientsupport import FAST, ClientTestCase


def install_keychain(test: Any, refuse: bool = False) -> Any:
    """An in-memory stand-in for the desktop's keychain (Secret Service, KWallet...),
    installed for one test; `refuse`: it refuses to store anything (a locked keychain)."""
    # keyring picks its backend on first use among every KeyringBackend subclass
    # defined by then: let it pick the real one before this stand-in is defined.
    previous = keyring.get_keyring()

    class InMemoryKeychain(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.items: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.items.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            if refuse:
                raise keyring.errors.PasswordSetError("the keychain is locked")
            self.items[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.items.pop((service, username), None)

    keychain = InMemoryKeychain()
    keyring.set_keyring(keychain)
    test.addCleanup(keyring.set_keyring, previous)
    return keychain


class FriendsTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob()

    @defer.inlineCallbacks
    def test_offline_peer_gets_messages_after_reconnecting_with_a_restarted_client(self) -> Any:
        yield self.bob.stop()
        self.clients.remove(self.bob)
        for text in ("one", "two", "three"):
            sent = yield self.alice.send_text(self.bob.me.user_id, text)
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.SENT))
        bob = yield SecureChatClient.open(reactor, self.device_dir("bob"), self.url,
                                          "bob@example.org", "pw-" + "x" * 10)
        self._track(bob)
        yield self.online(bob)
        history = yield bob.messages(self.alice.me.user_id)
        self.assertEqual([m.text for m in history], ["one", "two", "three"])

    @defer.inlineCallbacks
    def test_quitting_right_after_a_message_arrives_still_sends_its_receipt(self) -> Any:
        sent = yield self.alice.send_text(self.bob.me.user_id, "quick, before you quit")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        bob = yield self.reopen(self.bob, "bob")  # stop() with the receipt still gathering
        yield self.online(bob)
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated,
            lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.DELIVERED))

    @defer.inlineCallbacks
    def test_a_relay_that_stops_answering_cannot_hold_up_stop(self) -> Any:
        """Lock and quit must not hang on a dead connection, and the account must be
        free again afterwards."""
        yield self.bob.send_text(self.alice.me.user_id, "one last thing")
        yield self.log(self.alice).wait_for(ev.MessageReceived)  # an ack is due
        self.alice.stop_patience = 0.2
        session = self.alice.connection.session
        session._transport.transport.pauseProducing()  # nothing from the relay gets in
        yield self.alice.stop()
        self.clients.remove(self.alice)
        self.assertFalse(session.is_attached())
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", "pw-" + "x" * 10)
        self._track(alice)
        yield self.online(alice)  # the unacked message comes again and is stored once
        history = yield alice.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history], ["one last thing"])

    @defer.inlineCallbacks
    def test_messages_survive_a_relay_restart(self) -> Any:
        yield self.bob.stop()
        self.clients.remove(self.bob)
        sent = yield self.alice.send_text(self.bob.me.user_id, "kept by the relay")
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.SENT))
        yield self.restart_relay()
        bob = yield SecureChatClient.open(reactor, self.device_dir("bob"), self.url,
                                          "bob@example.org", "pw-" + "x" * 10)
        self._track(bob)
        yield self.online(bob)
        self.assertEqual([m.text for m in (yield bob.messages(self.alice.me.user_id))],
                         ["kept by the relay"])

    @defer.inlineCallbacks
    def test_the_outbox_survives_a_client_restart(self) -> Any:
        """Written while offline, the message is stored as pending and sent after a restart."""
        yield self.alice.stop()
        self.clients.remove(self.alice)
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", "pw-" + "x" * 10)
        self._track(alice)
        queued = yield alice.send_text(self.bob.me.user_id, "written offline")
        self.assertEqual((yield alice.store.message(queued.id)).status, MessageStatus.PENDING)
        alice = yield self.reopen(alice, "alice")  # a crash or quit before any network
        yield self.online(alice)
        got = yield self.log(self.bob).wait_for(ev.MessageReceived)
        self.assertEqual(got.message.id, queued.id)

    @defer.inlineCallbacks
    def test_a_reinstalled_device_gets_new_sessions_and_the_old_one_is_gone(self) -> Any:
        old_device = self.bob.me.device_id
        yield self.bob.stop()
        self.clients.remove(self.bob)
        # Bob reinstalls: a fresh login on a new device, which removes the old one.
        bob = yield self.login("bob-reinstalled", "bob@example.org")
        yield self.online(bob)
        # Removing another device takes the password (L6), not just a device session.
        session = yield self.join(Password(bob.me.user_id, "pw-" + "x" * 10, TEST_LOGIN_FLOOR))
        yield session.call(uris.DEVICE_REMOVE, old_device)
        # Alice's next message finds the device list changed, re-fetches it and starts
        # an Olm session with the new device; the account key is the same, so no warning.
        sent = yield self.alice.send_text(bob.me.user_id, "welcome back")
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.SENT))
        self.assertNotIn(old_device, self.alice.directory.devices[bob.me.user_id])
        self.assertEqual(self.log(self.alice).of(ev.IdentityKeyChanged), [])
        # The new device does not know Alice yet (MANIFEST sync will bring contacts
        # over): it holds her message, asks her again, she answers at once, and the
        # held message appears.
        self.assertEqual(self.log(bob).of(ev.EnvelopeRejected), [])
        yield bob.add_friend("alice@example.org")
        got = yield self.log(bob).wait_for(ev.MessageReceived)
        self.assertEqual(got.message.text, "welcome back")
        self.assertEqual([m.text for m in (yield bob.messages(self.alice.me.user_id))],
                         ["welcome back"])

    @defer.inlineCallbacks
    def test_a_changed_account_key_is_surfaced_and_blocks_sending(self) -> Any:
        # A malicious relay swaps Bob's account key (the relay is not trusted).
        yield self.restart_relay_with(lambda db: db.execute(
            "UPDATE accounts SET identity_key=? WHERE user_id=?",
            ("A" * 43 + "=", self.bob.me.user_id)))
        self.alice.directory.devices.clear()  # as after a device-list change
        sent = yield self.alice.send_text(self.bob.me.user_id, "is it you?")
        changed = yield self.log(self.alice).wait_for(ev.IdentityKeyChanged)
        self.assertEqual(changed.peer_user_id, self.bob.me.user_id)
        yield self.alice.flush_outbox()
        self.assertEqual((yield self.alice.store.message(sent.id)).status, MessageStatus.PENDING)
        self.assertIsNotNone(self.alice.contacts[self.bob.me.user_id].changed_identity_key)

    @defer.inlineCallbacks
    def test_clients_reconnect_by_themselves_after_a_relay_restart(self) -> Any:
        mark = self.log(self.bob).mark()
        yield self.restart_relay_with(lambda db: None)
        offline = yield self.log(self.bob).wait_for(
            ev.ConnectionStateChanged, lambda e: e.state == "offline", since=mark)
        self.assertGreater(offline.retry_in, 0)
        yield self.alice.send_text(self.bob.me.user_id, "still here?")
        got = yield self.log(self.bob).wait_for(ev.MessageReceived)
        self.assertEqual(got.message.text, "still here?")

    @defer.inlineCallbacks
    def test_accepting_a_changed_key_lets_sending_resume(self) -> Any:
        yield self.alice.set_verified(self.bob.me.user_id)  # verified the old key
        yield self.test_a_changed_account_key_is_surfaced_and_blocks_sending()
        with self.assertRaises(ClientError):  # an unaccepted key cannot be marked verified
            yield self.alice.set_verified(self.bob.me.user_id)
        yield self.alice.accept_identity_key(self.bob.me.user_id)
        contact = self.alice.contacts[self.bob.me.user_id]
        self.assertIsNone(contact.changed_identity_key)
        self.assertFalse(contact.verified)
        self.assertEqual(contact.peer_identity_key, "A" * 43 + "=")
        # Bob's devices are not signed by that (forged) key, so nothing reaches them:
        # the message stays queued rather than going to an unverified device.
        self.assertEqual(len((yield self.alice.store.outbox())), 1)

    @defer.inlineCallbacks
    def test_pending_requests_survive_a_restart(self) -> Any:
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        mark = self.log(self.bob).mark()
        yield carol.add_friend("bob@example.org")
        yield self.log(self.bob).wait_for(ev.FriendRequestReceived, since=mark)
        bob = yield self.reopen(self.bob, "bob")
        requests = yield bob.requests()
        self.assertEqual([(r.email, r.direction, r.action) for r in requests],
                         [("alice@example.org", "in", "accepted"),
                          ("carol@example.org", "in", "pending")])
        yield self.online(bob)
        yield bob.accept_friend(carol.me.user_id)
        yield self.log(carol).wait_for(ev.FriendRequestAnswered)
        self.assertIn(bob.me.user_id, carol.contacts)

    @defer.inlineCallbacks
    def test_presence_of_friends_is_reported(self) -> Any:
        mark = self.log(self.alice).mark()
        yield self.bob.stop()
        self.clients.remove(self.bob)
        gone = yield self.log(self.alice).wait_for(ev.PresenceChanged, since=mark)
        self.assertEqual((gone.peer_user_id, gone.online), (self.bob.me.user_id, False))
        bob = yield SecureChatClient.open(reactor, self.device_dir("bob"), self.url,
                                          "bob@example.org", "pw-" + "x" * 10)
        self._track(bob)
        yield self.online(bob)
        back = yield self.log(self.alice).wait_for(ev.PresenceChanged, lambda e: e.online,
                                                   since=mark)
        self.assertEqual(back.device_id, bob.me.device_id)

    @defer.inlineCallbacks
    def test_a_blocked_users_messages_never_appear(self) -> Any:
        yield self.bob.block(self.alice.me.user_id)
        sent = yield self.alice.send_text(self.bob.me.user_id, "let me in")
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.SENT))
        yield self.bob.flush_outbox()
        yield self.bob.connection.session.call(uris.PRESENCE_SESSIONS)  # a round trip
        yield self.bob._ctx.inbound.run(lambda: None)  # and everything received is handled
        self.assertEqual(self.log(self.bob).of(ev.MessageReceived), [])
        with self.assertRaises(ClientError):
            yield self.bob.messages(self.alice.me.user_id)

    @defer.inlineCallbacks
    def test_tampered_and_replayed_envelopes_are_rejected_and_never_shown(self) -> Any:
        yield self.bob.stop()
        self.clients.remove(self.bob)
        sent = yield self.alice.send_text(self.bob.me.user_id, "the real one")
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.SENT))
        yield self.alice.stop()
        self.clients.remove(self.alice)
        # Take the stored ciphertext from the relay and send it again, as is and altered,
        # from Alice's own device (what a replaying or tampering attacker could do).
        body = sqlite3.connect(self.db_path).execute(
            "SELECT body, type FROM mailbox WHERE device_id=? ORDER BY ts DESC LIMIT 1",
            (self.bob.me.device_id,)).fetchone()
        tampered = bytearray(body[0])
        tampered[len(tampered) // 2] ^= 0x01
        raw = yield connect(reactor, self.url, self.alice._ctx.device_key)
        for replay in (bytes(body[0]), bytes(tampered)):
            yield raw.call(uris.MESSAGE_SEND, self.bob.me.user_id, [{
                "device_id": self.bob.me.device_id, "v": CRYPTO_VERSION, "alg": ALG,
                "type": body[1], "body": replay}])
        raw.leave()
        yield raw.disconnected
        bob = yield SecureChatClient.open(reactor, self.device_dir("bob"), self.url,
                                          "bob@example.org", "pw-" + "x" * 10)
        self._track(bob)
        yield self.online(bob)
        history = yield bob.messages(self.alice.me.user_id)
        self.assertEqual([m.text for m in history], ["the real one"])
        rejected = self.log(bob).of(ev.EnvelopeRejected)
        self.assertEqual(len(rejected), 2)
        self.assertTrue(all("decryption failed" in r.reason for r in rejected))


    @defer.inlineCallbacks
    def test_an_envelope_the_client_cannot_use_does_not_block_the_ones_after_it(self) -> Any:
        yield self.alice.stop()
        self.clients.remove(self.alice)
        raw = yield connect(reactor, self.url, self.alice._ctx.device_key, "json")
        yield raw.call(uris.MESSAGE_SEND, self.bob.me.user_id, [{
            "device_id": self.bob.me.device_id, "v": CRYPTO_VERSION, "alg": ALG, "type": 1,
            "body": "bm90IGJpbmFyeQ=="}])
        raw.leave()
        yield raw.disconnected
        rejected = yield self.log(self.bob).wait_for(ev.EnvelopeRejected)
        self.assertEqual(rejected.reason, "the ciphertext is not binary")
        alice = yield self.reopen_stopped("alice", "alice@example.org")
        yield alice.send_text(self.bob.me.user_id, "and this one?")
        got = yield self.log(self.bob).wait_for(ev.MessageReceived)
        self.assertEqual(got.message.text, "and this one?")

    @defer.inlineCallbacks
    def reopen_stopped(self, name: str, email: str) -> Any:
        client = yield SecureChatClient.open(reactor, self.device_dir(name), self.url, email,
                                             "pw-" + "x" * 10)
        self._track(client)
        yield self.online(client)
        return client


class LoginTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_wrong_password_changes_nothing_here_or_on_the_relay(self) -> Any:
        alice = yield self.register("alice", "alice@example.org", "the right password")
        with self.assertRaises(WrongPassword):
            yield SecureChatClient.login(reactor, self.device_dir("phone"), self.url,
                                         "alice@example.org", "the wrong password", FAST,
                                         floor=FAST,
                                         recovery_phrase=self.phrases["alice@example.org"])
        self.assertFalse(os.path.exists(os.path.join(self.device_dir("phone"),
                                                     alice.me.user_id)))
        yield self.online(alice)
        devices = yield alice.connection.session.call(uris.DEVICE_LIST, alice.me.user_id)
        self.assertEqual([d["device_id"] for d in devices], [alice.me.device_id])

    @defer.inlineCallbacks
    def test_the_local_account_does_not_open_with_a_wrong_password(self) -> Any:
        alice = yield self.register("alice", "alice@example.org", "the right password")
        yield alice.stop()
        self.clients.remove(alice)
        with self.assertRaises(WrongPassword):
            yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                        "alice@example.org", "the wrong password")

    @defer.inlineCallbacks
    def test_with_an_os_keychain_only_the_password_opens_the_account(self) -> Any:
        keychain = install_keychain(self)
        alice = yield self.register("alice", "alice@example.org", "the right password")
        # a second copy of the account on this machine keeps its own keychain entry
        phone = yield self.login("phone", "alice@example.org", "the right password")
        for client in (alice, phone):
            yield client.stop()
            self.clients.remove(client)
        self.assertFalse(os.path.exists(os.path.join(alice.account_dir, "secrets.bin")))
        self.assertEqual(len(keychain.items), 2)
        for stored in keychain.items.values():
            self.assertNotIn(alice._ctx.secrets.mnemonic.split()[0], stored)  # sealed
        phone = yield SecureChatClient.open(reactor, self.device_dir("phone"), self.url,
                                            "alice@example.org", "the right password")
        self._track(phone)
        with self.assertRaises(WrongPassword):
            yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                        "alice@example.org", "the wrong password")
        again = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", "the right password")
        self._track(again)
        self.assertEqual(again._ctx.secrets.mnemonic, alice._ctx.secrets.mnemonic)

    @defer.inlineCallbacks
    def test_lost_or_damaged_keys_are_a_clear_error(self) -> Any:
        alice = yield self.register("alice", "alice@example.org", "the right password")
        yield alice.stop()
        self.clients.remove(alice)
        path = os.path.join(alice.account_dir, "secrets.bin")
        with open(path, "rb") as f:
            sealed = f.read()
        for damage, words in ((b"SCS1\x07" + b"\xff" * 4 + sealed[9:], "damaged"),
                              (None, "no longer has this account's keys")):
            if damage is None:
                os.remove(path)
            else:
                with open(path, "wb") as f:
                    f.write(damage)
            with self.assertRaises(MissingSecrets) as caught:
                yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", "the right password")
            self.assertIn(words, str(caught.exception))
            self.assertNotIn("the right password", str(caught.exception))

    @defer.inlineCallbacks
    def test_a_device_that_cannot_store_its_keys_leaves_nothing_half_made(self) -> Any:
        install_keychain(self, refuse=True)
        with self.assertRaises(CreatedNotSetUp) as caught:
            yield self.register("alice", "alice@example.org", "the right password")
        self.assertIn("keychain refused", str(caught.exception))
        # the account exists on the relay: its phrase is still given, to sign in with
        self.phrases["alice@example.org"] = caught.exception.recovery_phrase
        self.assertNotIn(caught.exception.recovery_phrase, repr(caught.exception))
        self.assertEqual(os.listdir(self.device_dir("alice")), [])
        # the account exists on the relay: sign in, with no stray device left behind
        keyring.set_keyring(fail.Keyring())
        alice = yield self.login("alice", "alice@example.org", "the right password")
        yield self.online(alice)
        devices = yield alice.connection.session.call(uris.DEVICE_LIST, alice.me.user_id)
        self.assertEqual([d["device_id"] for d in devices], [alice.me.device_id])

    @defer.inlineCallbacks
    def test_an_account_runs_in_one_client_at_a_time(self) -> Any:
        """A second window (or a bot) on an open account would fork its Olm ratchets."""
        alice = yield self.register("alice", "alice@example.org", "the right password")
        with self.assertRaises(AccountInUse):
            yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                        "alice@example.org", "the right password")
        yield alice.stop()
        self.clients.remove(alice)
        with self.assertRaises(WrongPassword):  # a failed open leaves the account free
            yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                        "alice@example.org", "the wrong password")
        again = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", "the right password")
        self._track(again)
        self.assertEqual(again.me.user_id, alice.me.user_id)

    @defer.inlineCallbacks
    def test_a_second_sign_in_while_the_first_runs_enrolls_nothing(self) -> Any:
        laptop = yield self.register("laptop", "alice@example.org")
        phrase = self.phrases["alice@example.org"]
        first = SecureChatClient.login(reactor, self.device_dir("phone"), self.url,
                                       "alice@example.org", "pw-" + "x" * 10, FAST, floor=FAST,
                                       recovery_phrase=phrase)
        with self.assertRaises(ClientError):  # Enter pressed twice, say
            yield SecureChatClient.login(reactor, self.device_dir("phone"), self.url,
                                         "alice@example.org", "pw-" + "x" * 10, FAST,
                                         floor=FAST, recovery_phrase=phrase)
        self._track((yield first))
        yield self.online(laptop)
        devices = yield laptop.connection.session.call(uris.DEVICE_LIST, laptop.me.user_id)
        self.assertEqual(len(devices), 2)

    @defer.inlineCallbacks
    def test_registering_an_existing_email_is_a_clear_error(self) -> Any:
        yield self.register("alice", "alice@example.org")
        with self.assertRaises(ClientError) as caught:
            yield self.register("alice-again", "Alice@Example.org")
        self.assertIn("already exists", str(caught.exception))

    @defer.inlineCallbacks
    def test_login_on_a_new_device_recovers_the_account_keys(self) -> Any:
        laptop = yield self.register("laptop", "alice@example.org")
        phone = yield self.login("phone", "alice@example.org")
        self.assertEqual(phone._ctx.secrets.identity_public, laptop._ctx.secrets.identity_public)
        self.assertEqual(phone._ctx.secrets.mnemonic, laptop._ctx.secrets.mnemonic)
        self.assertNotEqual(phone.me.device_id, laptop.me.device_id)
