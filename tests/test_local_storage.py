"""What a device keeps on disk: encrypted, owner-only, and bounded against strangers."""

from __future__ import annotations

import os
import shutil
import sqlite3
from typing import Any

import sqlcipher3
from twisted.internet import defer, reactor

from securechat.client import events as ev
from securechat.client import retention
from securechat.client.core import SecureChatClient
from securechat.client.errors import UnreadableDatabase
from securechat.client.storage import AccountStore, _migrate
from securechat.protocol import frames
from securechat.protocol.frames import Frame
from securechat.sqlite import SerialDatabase
from tests.clientsupport import FAST, ClientTestCase

PASSWORD = "pw-" + "x" * 10
SECRET_TEXT = "the vault code is 4711-zebra-quince"
BOB_NAME = "Robert Quillfeather"
BOB_EMAIL = "robert.quillfeather@example.org"
DAY_MS = 24 * 3600 * 1000


def files_in(directory: str) -> dict[str, bytes]:
    """Every file under `directory`, by name, with all its bytes."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, directory)] = f.read()
    return found


class EncryptedAtRestTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        # A permissive umask, as on most desktops: the client must not rely on it.
        previous = os.umask(0o022)
        self.addCleanup(os.umask, previous)
        self.alice = yield self.register("alice", "alice@example.org")
        bob, _ = yield SecureChatClient.register(reactor, self.device_dir("bob"), self.url,
                                                 BOB_EMAIL, PASSWORD, BOB_NAME, FAST)
        self.bob = self._track(bob)
        yield self.online(self.alice, self.bob)
        yield self.befriend(self.alice, self.bob)

    @defer.inlineCallbacks
    def converse(self) -> Any:
        sent = yield self.alice.send_text(self.bob.me.user_id, SECRET_TEXT)
        yield self.log(self.bob).wait_for(ev.MessageReceived, lambda e: e.message.id == sent.id)
        reply = yield self.bob.send_text(self.alice.me.user_id, SECRET_TEXT + " (reply)")
        yield self.log(self.alice).wait_for(ev.MessageReceived,
                                            lambda e: e.message.id == reply.id)

    def assert_nothing_readable(self, directory: str) -> None:
        needles = [SECRET_TEXT, BOB_EMAIL, BOB_NAME, "alice@example.org"]
        for name, data in files_in(directory).items():
            for needle in needles:
                self.assertNotIn(needle.encode(), data, f"{needle!r} readable in {name}")
                self.assertNotIn(needle.encode("utf-16-le"), data)

    def assert_private(self, directory: str) -> None:
        self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700)
        for name in files_in(directory):
            mode = os.stat(os.path.join(directory, name)).st_mode & 0o777
            self.assertEqual(mode, 0o600, f"{name} is {oct(mode)}")

    @defer.inlineCallbacks
    def test_after_a_conversation_no_file_of_the_account_reveals_it(self) -> Any:
        yield self.alice.set_pin(PASSWORD, "482916", FAST)
        yield self.converse()
        account = self.alice.account_dir
        running = files_in(account)
        # while the client runs, the WAL and its index are there too, and are checked
        for name in ("account.sqlite", "account.sqlite-wal", "account.sqlite-shm", "lock",
                     "secrets.bin", "pin.bin"):
            self.assertIn(name, running)
        self.assert_nothing_readable(account)
        self.assert_private(account)
        for client in (self.alice, self.bob):
            yield client.stop()
            self.clients.remove(client)
        self.assert_nothing_readable(account)
        self.assert_nothing_readable(self.bob.account_dir)
        self.assert_private(account)
        with self.assertRaises(sqlite3.DatabaseError):
            sqlite3.connect(os.path.join(account, "account.sqlite")).execute(
                "SELECT * FROM messages").fetchall()
        # the password still opens it all
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", PASSWORD)
        self._track(alice)
        history = yield alice.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history], [SECRET_TEXT, SECRET_TEXT + " (reply)"])

    @defer.inlineCallbacks
    def test_a_plaintext_database_of_an_older_version_is_encrypted_when_it_opens(self) -> Any:
        yield self.converse()
        yield self.alice.stop()
        self.clients.remove(self.alice)
        path = os.path.join(self.alice.account_dir, "account.sqlite")
        key = self.alice.store._db._key
        yield self.make_plaintext(path, key)
        with open(path, "rb") as f:
            self.assertEqual(f.read(16), b"SQLite format 3\x00")
        with open(path + "-wal", "rb") as f:
            self.assertIn(b"written by the old version", f.read())  # only in the WAL
        os.chmod(path, 0o644)  # as older versions left it

        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", PASSWORD)
        self._track(alice)
        history = yield alice.messages(self.bob.me.user_id)
        self.assertEqual([m.text for m in history],
                         [SECRET_TEXT, SECRET_TEXT + " (reply)", "written by the old version"])
        self.assertNotIn("account.sqlite.encrypting", os.listdir(alice.account_dir))
        self.assert_nothing_readable(alice.account_dir)
        self.assert_private(alice.account_dir)
        # the Olm state came through: the conversation goes on both ways
        yield self.online(alice)
        sent = yield self.bob.send_text(alice.me.user_id, "after the upgrade")
        yield self.log(alice).wait_for(ev.MessageReceived, lambda e: e.message.id == sent.id)
        mine = yield alice.send_text(self.bob.me.user_id, "me too")
        yield self.log(self.bob).wait_for(ev.MessageReceived, lambda e: e.message.id == mine.id)
        yield alice.stop()
        self.clients.remove(alice)
        with self.assertRaises(sqlite3.DatabaseError):
            sqlite3.connect(path).execute("SELECT * FROM messages").fetchall()

    @defer.inlineCallbacks
    def make_plaintext(self, path: str, key: bytes) -> Any:
        """Turn the account's database into what an older version left: a plaintext
        file written by the unkeyed database layer, with its last transaction still in
        the WAL (the client was killed before a checkpoint)."""
        plain = path + ".plain"
        conn = sqlcipher3.connect(path)
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", (plain,))
        conn.execute("SELECT sqlcipher_export('plain')")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA plain.user_version = {version}")
        conn.execute("DETACH DATABASE plain")
        conn.close()
        os.replace(plain, path)
        old = SerialDatabase(path, reactor, _migrate, name="old-client-sqlite")  # no key
        yield old.start()
        sid = self.alice.contacts[self.bob.me.user_id].sid
        yield old.run(lambda c: c.execute(
            "INSERT INTO messages (id, sid, sender, text, timestamp) VALUES (?,?,?,?,?)",
            ("f" * 32, sid, "other", "written by the old version", 2**62)))
        crash = self.mktemp()
        os.makedirs(crash)
        for suffix in ("", "-wal"):
            shutil.copy(path + suffix, os.path.join(crash, "db" + suffix))
        yield old.stop()
        for suffix in ("", "-wal"):
            shutil.copy(os.path.join(crash, "db" + suffix), path + suffix)

    @defer.inlineCallbacks
    def test_a_database_that_does_not_open_with_its_key_is_a_clear_error(self) -> Any:
        yield self.alice.stop()
        self.clients.remove(self.alice)
        path = os.path.join(self.alice.account_dir, "account.sqlite")
        store = AccountStore(path, reactor, os.urandom(32))
        with self.assertRaises(UnreadableDatabase) as caught:
            yield store.start()
        self.assertIn("does not open with this device's key", str(caught.exception))
        yield store.stop()  # nothing left running
        alice = yield SecureChatClient.open(reactor, self.device_dir("alice"), self.url,
                                            "alice@example.org", PASSWORD)
        self._track(alice)


class StrangersTests(ClientTestCase):
    """Mallory, a stranger, sends Alice frames as if they were contacts."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", "alice@example.org")
        self.bob = yield self.register("bob", "bob@example.org")
        self.mallory = yield self.register("mallory", "mallory@example.org")
        yield self.online(self.alice, self.bob, self.mallory)
        yield self.befriend(self.alice, self.bob)

    @defer.inlineCallbacks
    def send_as_stranger(self, stranger: SecureChatClient, count: int, size: int = 10) -> Any:
        """`count` MSG frames of `size` characters to Alice, then a message from Bob,
        her contact: once it is here, every frame the stranger sent was handled."""
        for n in range(count):
            yield stranger.outbox.queue(self.alice.me.user_id, Frame(
                frames.MSG, "not-a-session",
                {"id": f"{n:032x}", "text": "x" * size, "timestamp": n, "replyTo": None}),
                copy_to_own=False)
        yield stranger.flush_outbox()
        marker = yield self.bob.send_text(self.alice.me.user_id, "still here")
        got = yield self.log(self.alice).wait_for(ev.MessageReceived,
                                                  lambda e: e.message.id == marker.id)
        self.assertEqual(got.message.text, "still here")  # a contact's messages arrive

    @defer.inlineCallbacks
    def held(self) -> Any:
        """{sender: (frames, bytes)} held by Alice."""
        rows = yield self.alice.store.held_frames()
        return {sender: (count, size) for sender, count, size in rows}

    @defer.inlineCallbacks
    def test_a_stranger_cannot_make_this_device_hold_more_than_its_share(self) -> Any:
        yield self.send_as_stranger(self.mallory, retention.HELD_PER_SENDER + 10)
        held = yield self.held()
        self.assertEqual(list(held), [self.mallory.me.user_id])
        self.assertEqual(held[self.mallory.me.user_id][0], retention.HELD_PER_SENDER)
        # in bytes too: 60 KiB frames, of which four fit in 256 KiB
        trudy = yield self.register("trudy", "trudy@example.org")
        yield self.online(trudy)
        yield self.send_as_stranger(trudy, 6, size=60 * 1024)
        count, size = (yield self.held())[trudy.me.user_id]
        self.assertEqual(count, 4)
        self.assertLessEqual(size, retention.HELD_BYTES_PER_SENDER)

    @defer.inlineCallbacks
    def test_strangers_together_cannot_make_it_hold_more_than_the_total(self) -> Any:
        self.patch(retention, "HELD_TOTAL", retention.HELD_PER_SENDER + 20)
        yield self.send_as_stranger(self.mallory, retention.HELD_PER_SENDER)
        trudy = yield self.register("trudy", "trudy@example.org")
        yield self.online(trudy)
        yield self.send_as_stranger(trudy, 30)
        held = yield self.held()
        self.assertEqual(held[self.mallory.me.user_id][0], retention.HELD_PER_SENDER)
        self.assertEqual(held[trudy.me.user_id][0], 20)

    @defer.inlineCallbacks
    def test_denying_or_blocking_drops_what_is_held_and_holds_no_more(self) -> Any:
        trudy = yield self.register("trudy", "trudy@example.org")
        yield self.online(trudy)
        for stranger in (self.mallory, trudy):
            yield self.send_as_stranger(stranger, 5)
            mark = self.log(self.alice).mark()
            yield stranger.add_friend("alice@example.org")
            yield self.log(self.alice).wait_for(
                ev.FriendRequestReceived, lambda e, s=stranger: e.peer_user_id == s.me.user_id,
                since=mark)
        self.assertEqual((yield self.held())[self.mallory.me.user_id][0], 5)
        self.assertEqual((yield self.held())[trudy.me.user_id][0], 5)
        yield self.alice.deny_friend(self.mallory.me.user_id)
        yield self.alice.block(trudy.me.user_id)
        self.assertEqual((yield self.held()), {})
        yield self.send_as_stranger(self.mallory, 5)
        yield self.send_as_stranger(trudy, 5)
        self.assertEqual((yield self.held()), {})

    @defer.inlineCallbacks
    def test_held_frames_and_seen_envelope_ids_expire(self) -> Any:
        yield self.send_as_stranger(self.mallory, 5)
        seen_before = yield self.seen_count()
        self.assertGreaterEqual(seen_before, 6)
        now = self.alice.store.clock()
        # within the relay's mailbox lifetime (and the margin) nothing goes
        self.alice.store.clock = lambda: now + 7 * DAY_MS
        yield self.alice.store.prune()
        self.assertEqual((yield self.held())[self.mallory.me.user_id][0], 5)
        self.assertEqual((yield self.seen_count()), seen_before)
        self.alice.store.clock = lambda: now + 8 * DAY_MS + 60_000
        yield self.alice.store.prune()
        self.assertEqual((yield self.held()), {})
        self.assertEqual((yield self.seen_count()), 0)
        # the client goes on: a contact's messages still arrive
        yield self.send_as_stranger(self.mallory, 1)

    @defer.inlineCallbacks
    def test_expired_rows_go_when_the_account_opens(self) -> Any:
        self.patch(retention, "PRUNE_BATCH", 2)  # several batches
        yield self.send_as_stranger(self.mallory, 5)
        yield self.alice.store.run(lambda c: c.execute(
            "UPDATE held_frames SET at = at - ?", (9 * DAY_MS,)))
        yield self.alice.store.run(lambda c: c.execute(
            "UPDATE seen_envelopes SET at = at - ?", (9 * DAY_MS,)))
        alice = yield self.reopen(self.alice, "alice")
        yield alice.store.pruned()
        self.assertEqual((yield alice.store.held_frames()), [])
        count = yield alice.store.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM seen_envelopes").fetchone()[0])
        self.assertEqual(count, 0)

    def seen_count(self) -> defer.Deferred[int]:
        return self.alice.store.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM seen_envelopes").fetchone()[0])
