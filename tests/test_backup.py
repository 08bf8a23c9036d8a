"""The encrypted backup: the spec's exact format (read and written by a second, minimal
implementation), restore on a new data directory that keeps chatting, every error of
the spec's table, and a restore killed halfway."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from typing import Any

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from twisted.internet import defer, reactor

from securechat.client import (
    BackupDecryptionFailed,
    BackupMissingEmail,
    ClientError,
    CorruptBackup,
    MessageStatus,
    SecureChatClient,
    WrongPassword,
    local_accounts,
)
from securechat.client import events as ev
from securechat.client.keys import session_id
from securechat.crypto import backup_format
from securechat.protocol.keys import user_id_for_email
from tests.clientsupport import FAST, ClientTestCase
from tests.test_cli import WatchedProcess
from tests.test_client_faults import install_keychain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "pw-" + "x" * 10
PASSPHRASE = "correct horse battery"
ALICE, BOB = "alice@example.org", "bob@example.org"
T0 = 1_700_000_010.0


# --- a second, minimal implementation of the spec's format: `cryptography` + `zipfile` ---


def minimal_key(passphrase: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                      iterations=100_000).derive(passphrase.encode())


def minimal_encrypt(zip_bytes: bytes, passphrase: str) -> bytes:
    salt, iv = os.urandom(16), os.urandom(12)
    return salt + iv + AESGCM(minimal_key(passphrase, salt)).encrypt(iv, zip_bytes, None)


def minimal_decrypt(data: bytes, passphrase: str) -> bytes:
    return AESGCM(minimal_key(passphrase, data[:16])).decrypt(data[16:28], data[28:], None)


def minimal_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


class BackupFormatTests(ClientTestCase):
    def write(self, data: bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_bytes_changed_in_place_after_the_check_are_not_read(self) -> None:
        """Someone who can rewrite the file (a shared folder, a sync client) flips bits
        after the tag was checked: what is read is the checked copy."""
        plaintext = b'{"email": "alice@example.org"}' + os.urandom(1000)
        salt, iv = os.urandom(16), os.urandom(12)
        path = self.write(salt + iv + AESGCM(minimal_key(PASSPHRASE, salt))
                          .encrypt(iv, plaintext, None))
        private = self.mktemp()
        os.makedirs(private, mode=0o700)
        with backup_format.BackupReader.open(path, PASSPHRASE,
                                             copy_to=os.path.join(private, "copy")) as reader:
            with open(path, "r+b") as f:  # "alice" -> "mallo", in place
                f.seek(28 + plaintext.index(b"alice"))
                original = f.read(5)
                f.seek(28 + plaintext.index(b"alice"))
                f.write(bytes(a ^ b ^ c for a, b, c in zip(original, b"alice", b"mallo",
                                                           strict=True)))
            self.assertEqual(reader.read_at(0, len(plaintext)), plaintext)
            self.assertEqual(os.stat(os.path.join(private, "copy")).st_mode & 0o777, 0o600)

    def test_streamed_gcm_is_the_one_shot_bytes(self) -> None:
        plaintext = os.urandom(3 * backup_format.CHUNK + 5)
        out = io.BytesIO()
        salt, iv = os.urandom(16), os.urandom(12)
        writer = backup_format.EncryptingWriter(out, PASSPHRASE, salt, iv)
        for i in range(0, len(plaintext), 70_001):
            writer.write(plaintext[i:i + 70_001])
        writer.close()
        self.assertEqual(out.getvalue(), salt + iv + AESGCM(minimal_key(PASSPHRASE, salt))
                         .encrypt(iv, plaintext, None))
        path = self.write(out.getvalue())
        with backup_format.BackupReader.open(path, PASSPHRASE) as reader:
            view = reader.plaintext()
            for offset in (0, 1, 15, 16, 17, backup_format.CHUNK - 3, len(plaintext) - 2):
                view.seek(offset)
                self.assertEqual(view.read(40), plaintext[offset:offset + 40], offset)


class BackupTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", ALICE)
        self.bob = yield self.register("bob", BOB)
        yield self.online(self.alice, self.bob)
        yield self.befriend(self.alice, self.bob)
        self.now = T0
        self.alice.mfa.clock = lambda: self.now

    def code(self, secret: str) -> str:
        self.now += 30
        return pyotp.TOTP(secret).at(int(self.now))

    def restore(self, device: str, path: str, passphrase: str = PASSPHRASE,
                password: str = PASSWORD, **kw: Any) -> defer.Deferred[str]:
        return SecureChatClient.restore_backup(
            reactor, self.device_dir(device), self.url, path, passphrase, password, FAST,
            floor=FAST, **kw)

    @defer.inlineCallbacks
    def open(self, device: str, email: str = ALICE) -> Any:
        client = yield SecureChatClient.open(reactor, self.device_dir(device), self.url,
                                             email, PASSWORD)
        return self._track(client)

    def tables(self, client: SecureChatClient, *names: str) -> defer.Deferred[dict]:
        return client.store.run(lambda c: {
            n: sorted(c.execute(f"SELECT * FROM {n}").fetchall()) for n in names})

    def listing(self, top: str) -> dict[str, bytes]:
        found = {}
        for root, _, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                if name != "lock":
                    with open(path, "rb") as f:
                        found[os.path.relpath(path, top)] = f.read()
        return found

    @defer.inlineCallbacks
    def fill_vault(self) -> Any:
        setup = yield self.alice.mfa.provision()
        yield self.alice.mfa.confirm(self.code(setup.secret))
        yield self.alice.vault.unlock(self.code(setup.secret))
        yield self.alice.vault.add_password("Bank", "s3cret", username="alice")
        source = self.mktemp()
        self.file_content = os.urandom(300_000)
        with open(source, "wb") as f:
            f.write(self.file_content)
        self.file_item = yield self.alice.vault.add_file("Scan", source)
        return setup

    @defer.inlineCallbacks
    def chat(self) -> Any:
        sent = yield self.alice.send_text(self.bob.me.user_id, "hello Bob")
        yield self.log(self.bob).wait_for(ev.MessageReceived)
        # Its tick is final before the backup (a tick moving during it would differ).
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated,
            lambda e: (e.message_id, e.status) == (sent.id, MessageStatus.DELIVERED))
        yield self.bob.send_text(self.alice.me.user_id, "hello Alice")
        yield self.log(self.alice).wait_for(ev.MessageReceived)
        yield self.alice.handed_off()

    @defer.inlineCallbacks
    def test_restore_on_a_new_device_reproduces_everything_and_keeps_chatting(self) -> None:
        setup = yield self.fill_vault()
        yield self.chat()
        path = self.mktemp()
        stages: list[str] = []
        # The open app alone is not enough: the password, and the vault's code.
        with self.assertRaises(WrongPassword):
            yield self.alice.create_backup(path, PASSPHRASE, "not-the-password",
                                           setup.recovery_codes[0])
        with self.assertRaises(ClientError):
            yield self.alice.create_backup(path, PASSPHRASE, PASSWORD)
        self.assertFalse(os.path.exists(path))
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD, setup.recovery_codes[0],
                                       progress=lambda stage, *_: stages.append(stage))
        self.assertIn("media", stages)
        with open(path, "rb") as f:
            raw = f.read()
        for secret in (b"hello Bob", self.phrases[ALICE].encode(), b"Bank"):
            self.assertNotIn(secret, raw)
        before = yield self.tables(self.alice, "messages", "sessions", "blocked_users",
                                   "pending_requests", "identity_keys", "vault_mfa")
        yield self.alice.stop()  # the laptop is lost
        self.clients.remove(self.alice)

        email = yield self.restore("new-laptop", path)
        self.assertEqual(email, ALICE)
        self.assertEqual(local_accounts.known_accounts(self.device_dir("new-laptop")), [ALICE])
        restored = yield self.open("new-laptop")
        restored.mfa.clock = lambda: self.now
        self.assertNotEqual(restored.me.device_id, self.alice.me.device_id)  # a new device
        after = yield self.tables(restored, "messages", "sessions", "blocked_users",
                                  "pending_requests", "identity_keys", "vault_mfa")
        self.assertEqual(after, before)
        # The vault, behind the same authenticator: items and media byte for byte.
        yield restored.vault.unlock(self.code(setup.secret))
        self.assertEqual([i.title for i in restored.vault.items()], ["Bank", "Scan"])
        self.assertEqual((yield restored.vault.get(
            restored.vault.search("Bank")[0].id))["password"], "s3cret")
        out = self.mktemp()
        yield restored.vault.export_file(self.file_item.id, out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.file_content)
        # ... and the restored device chats with Bob, both ways.
        yield self.online(restored)
        mark = self.log(self.bob).mark()
        yield restored.send_text(self.bob.me.user_id, "back again")
        got = yield self.log(self.bob).wait_for(ev.MessageReceived, since=mark)
        self.assertEqual(got.message.text, "back again")
        yield self.bob.send_text(restored.me.user_id, "welcome back")
        got = yield self.log(restored).wait_for(
            ev.MessageReceived, lambda e: e.message.text == "welcome back")
        history = yield restored.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history],
                         ["hello Bob", "hello Alice", "back again", "welcome back"])

    @defer.inlineCallbacks
    def test_the_minimal_implementation_reads_our_backup(self) -> None:
        setup = yield self.fill_vault()
        yield self.chat()
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD, setup.recovery_codes[0])
        with open(path, "rb") as f:
            zip_bytes = minimal_decrypt(f.read(), PASSPHRASE)
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            self.assertEqual(json.loads(zf.read("metadata.json"))["email"], ALICE)
            self.assertEqual(zf.read("master_key.txt").decode(), self.phrases[ALICE])
            self.assertEqual(json.loads(zf.read("identity_pub.json"))["identity_public"],
                             self.alice._ctx.identity_public.hex())
            self.assertIn("identity_seed", json.loads(zf.read("identity_priv.json")))
            export = json.loads(zf.read("db_export.json"))
            texts = [m["text"] for m in export["account"]["tables"]["messages"]]
            self.assertEqual(sorted(texts), ["hello Alice", "hello Bob"])
            sealed = os.path.join(self.alice.account_dir, "vault", "files", self.file_item.id)
            with open(sealed, "rb") as f:  # still encrypted, as on disk
                self.assertEqual(zf.read(f"media/vault/{self.file_item.id}"), f.read())
            names = " ".join(zf.namelist()) + zf.read("db_export.json").decode()
            self.assertNotIn("scram_pin\": [{", names.replace(" ", ""))  # no login secrets
            self.assertNotIn("device_seed", names)

    @defer.inlineCallbacks
    def test_we_read_the_minimal_implementations_backup_of_an_old_schema(self) -> None:
        """Written by the minimal implementation at schema version 1 (no `verified`
        column, outbox frames wrapped in JSON): restored and migrated."""
        sid = session_id(ALICE, BOB)
        bob_key = self.alice.contacts[self.bob.me.user_id]
        export = {"format": 1, "account": {"schema_version": 1, "tables": {
            "me": [{"id": 1, "email": ALICE, "user_id": self.alice.me.user_id,
                    "device_id": "olddevice", "public_name": "Alice B."}],
            "sessions": [{"sid": sid, "peer_user_id": self.bob.me.user_id,
                          "peer_email": BOB, "peer_identity_key": bob_key.peer_identity_key,
                          "created": 1}],
            "messages": [{"id": "m1", "sid": sid, "sender": "other", "text": "old times",
                          "timestamp": 1000, "status": 0}],
            "held_frames": [{"seq": 1, "sender": "x", "frame": {"base64": "AAEC"}}],
        }}}
        backup = minimal_encrypt(minimal_zip({
            "metadata.json": json.dumps({"email": ALICE}).encode(),
            "master_key.txt": self.phrases[ALICE].encode(),
            "identity_priv.json": json.dumps(
                {"identity_seed": self.alice._ctx.secrets.identity_seed.hex()}).encode(),
            "identity_pub.json": b"{}",
            "db_export.json": json.dumps(export).encode(),
        }), PASSPHRASE)
        email = yield self.restore("restored", self.write(backup))
        restored = yield self.open("restored", email)
        self.assertEqual(restored.me.public_name, "Alice B.")
        self.assertEqual(restored.contacts[self.bob.me.user_id].verified, False)
        self.assertEqual([m.text for m in (yield restored.messages(self.bob.me.user_id))],
                         ["old times"])
        held = yield restored.store.run(lambda c: c.execute(
            "SELECT sender, frame, at > 0 FROM held_frames").fetchall())
        self.assertEqual(held, [("x", b"\x00\x01\x02", 1)])  # `at` added by migration 6

    def write(self, data: bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    @defer.inlineCallbacks
    def other_account(self) -> Any:
        """A data directory that holds another account (not running)."""
        carol = yield self.register("carol", "carol@example.org")
        yield carol.stop()
        self.clients.remove(carol)
        local_accounts.remember(self.device_dir("carol"), "carol@example.org")
        return self.device_dir("carol")

    @defer.inlineCallbacks
    def assertRefused(self, path: str, error: type, message: str | None = None,
                      passphrase: str = PASSPHRASE, password: str = PASSWORD) -> Any:
        """The restore fails with `error` and changes nothing in the data directory
        (which holds another account)."""
        target = self.device_dir("carol")
        before = self.listing(target)
        failure = yield self.assertFailure(self.restore("carol", path, passphrase, password),
                                           error)
        if message is not None:
            self.assertEqual(str(failure), message)
        self.assertEqual(self.listing(target), before)
        self.assertEqual([n for n in os.listdir(target) if n.startswith(".restoring")], [])
        return failure

    @defer.inlineCallbacks
    def test_every_error_of_the_spec_table(self) -> None:
        yield self.other_account()
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD)
        with open(path, "rb") as f:
            good = f.read()
        yield self.assertRefused(path, BackupDecryptionFailed,
                                 "Decryption failed. Incorrect backup code.",
                                 passphrase="not the passphrase")
        # Truncated or tampered: the tag fails (a decryption error), or it is too short.
        yield self.assertRefused(self.write(good[:len(good) // 2]), BackupDecryptionFailed)
        tampered = bytearray(good)
        tampered[100] ^= 1
        yield self.assertRefused(self.write(bytes(tampered)), BackupDecryptionFailed)
        yield self.assertRefused(self.write(good[:40]), CorruptBackup)
        # Well encrypted, but not a zip: a ZIP parse error.
        failure = yield self.assertRefused(
            self.write(minimal_encrypt(b"PK not really a zip" * 50, PASSPHRASE)), CorruptBackup)
        self.assertIn("ZIP parse error", str(failure))
        # metadata.json absent, or without an email.
        with zipfile.ZipFile(io.BytesIO(minimal_decrypt(good, PASSPHRASE))) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        for metadata in (None, b"{not json", json.dumps({"user_id": "x"}).encode()):
            changed = {n: d for n, d in members.items() if n != "metadata.json"}
            if metadata is not None:
                changed["metadata.json"] = metadata
            yield self.assertRefused(self.write(minimal_encrypt(minimal_zip(changed),
                                                                PASSPHRASE)),
                                     BackupMissingEmail, "Could not find account email in backup")
        # A damaged db_export.json.
        changed = dict(members, **{"db_export.json": b'{"account": {"tables": 3}}'})
        yield self.assertRefused(self.write(minimal_encrypt(minimal_zip(changed), PASSPHRASE)),
                                 CorruptBackup)
        # The account password is checked by the relay: a wrong one restores nothing.
        yield self.assertRefused(path, WrongPassword, password="wrong password!")
        # Storage: the data directory cannot be written (a file stands in its way).
        blocker = self.write(b"a file, not a directory")
        failure = yield self.assertFailure(SecureChatClient.restore_backup(
            reactor, os.path.join(blocker, "data"), self.url, path, PASSPHRASE, PASSWORD,
            FAST, floor=FAST), ClientError)
        self.assertIn("could not write to the data directory", str(failure))
        # The account is on this device already: refused before anything is written.
        yield self.assertFailure(self.restore("alice", path), ClientError)

    @defer.inlineCallbacks
    def test_a_restore_killed_halfway_leaves_the_previous_data_intact(self) -> None:
        setup = yield self.fill_vault()
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD, setup.recovery_codes[0])
        target = yield self.other_account()
        before = self.listing(target)
        for stage in ("media", "finishing"):
            child = WatchedProcess()
            reactor.spawnProcess(
                child, sys.executable,
                [sys.executable, os.path.join(ROOT, "tests", "restore_child.py"), target,
                 self.url, path, PASSPHRASE, PASSWORD, stage],
                env=dict(os.environ, PYTHONPATH=ROOT,
                         PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
            code = yield child.ended
            self.assertIsNone(code, child.output)  # killed (SIGKILL), not exited
            self.assertIn(f"killing at {stage}".encode(), child.output[1])
            left = {k: v for k, v in self.listing(target).items()
                    if not k.startswith(".restoring-")}
            self.assertEqual(left, before)
            self.assertFalse(local_accounts.is_set_up(target, ALICE))
        email = yield self.restore("carol", path)  # the next one clears what was left
        self.assertEqual(local_accounts.known_accounts(target), [ALICE, "carol@example.org"])
        self.assertEqual([n for n in os.listdir(target) if n.startswith(".restoring")], [])
        restored = yield self.open("carol", email)
        self.assertEqual(restored.me.email, ALICE)
        yield self.open("carol", "carol@example.org")

    @defer.inlineCallbacks
    def test_a_restored_mfa_secret_goes_into_the_keychain(self) -> None:
        """As a new one does: into the OS keychain where there is one, not the database."""
        keychain = install_keychain(self)
        setup = yield self.fill_vault()
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD, setup.recovery_codes[0])
        yield self.alice.stop()
        self.clients.remove(self.alice)
        yield self.restore("new-laptop", path)
        restored = yield self.open("new-laptop")
        restored.mfa.clock = lambda: self.now
        stored = yield self.tables(restored, "vault_mfa")
        (row,) = stored["vault_mfa"]
        self.assertNotIn(setup.secret, [str(v) for v in row])
        for root, _, files in os.walk(restored.account_dir):  # nowhere on disk, in any file
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(setup.secret.encode(), f.read(), name)
        entries = [k for k, v in keychain.items.items() if v == setup.secret]
        self.assertEqual(len(entries), 2)  # the lost laptop's, and the restored one's
        yield restored.vault.unlock(self.code(setup.secret))  # the same authenticator
        # A restore that fails after placing it (here: at the last step, a file where
        # the account's directory goes) takes it out again.
        target = self.device_dir("another")
        os.makedirs(target)
        with open(os.path.join(target, user_id_for_email(ALICE)), "w") as f:
            f.write("in the way")
        yield self.assertFailure(self.restore("another", path), ClientError)
        self.assertEqual(len([v for v in keychain.items.values() if v == setup.secret]), 2)

    @defer.inlineCallbacks
    def test_a_device_a_killed_restore_left_is_withdrawn_by_the_next(self) -> None:
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD)
        target = yield self.other_account()

        def on_relay() -> defer.Deferred[set[str]]:
            return self.relay.storage.list_devices(self.alice.me.user_id).addCallback(
                lambda devices: {d.device_id for d in devices})

        before = yield on_relay()
        child = WatchedProcess()
        reactor.spawnProcess(  # killed once signed in: its device is on the relay
            child, sys.executable,
            [sys.executable, os.path.join(ROOT, "tests", "restore_child.py"), target,
             self.url, path, PASSPHRASE, PASSWORD, "database"],
            env=dict(os.environ, PYTHONPATH=ROOT,
                     PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
        code = yield child.ended
        self.assertIsNone(code, child.output)  # killed, not exited
        self.assertIn(b"killing at database", child.output[1])
        orphaned = (yield on_relay()) - before
        self.assertEqual(len(orphaned), 1)

        # A restore that cannot sign in (a wrong password) cannot withdraw it either:
        # it stays pending, kept beside the data.
        yield self.assertFailure(self.restore("carol", path, password="wrong password!"),
                                 WrongPassword)
        self.assertEqual((yield on_relay()) - before, orphaned)
        self.assertEqual([n for n in os.listdir(target) if n.startswith(".withdraw-")],
                         [f".withdraw-{d}.json" for d in orphaned])

        # The next restore of the account withdraws it, then enrolls its own device.
        yield self.restore("carol", path)
        restored = yield self.open("carol")
        self.assertEqual((yield on_relay()), before | {restored.me.device_id})
        self.assertEqual([n for n in os.listdir(target) if n.startswith((".withdraw-",
                                                                         ".restoring-"))], [])
        self.assertNotIn("enrolling.json", os.listdir(restored.account_dir))
