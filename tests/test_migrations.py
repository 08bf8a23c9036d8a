"""Schema migrations (securechat.sqlite.migrate): old databases are brought up to date with
their data, a failed step changes nothing, a database from a newer version is refused."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from securechat import encrypted_sqlite, testing
from securechat.client.storage import MIGRATIONS, AccountStore, DatabaseFromNewerVersion
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame
from securechat.relay import storage as relay_storage
from securechat.relay.service import RelayService
from securechat.sqlite import DatabaseTooNew, migrate
from tests.support import RelayTestCase, envelope

ALICE, BOB = "a" * 64, "b" * 64


def user_version(conn: Any) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def tables(conn: Any) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


class MigrationRunnerTests(unittest.TestCase):
    def setUp(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        self.path = os.path.join(directory, "test.sqlite")
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(self.conn.close)

    def test_a_python_step_rewrites_data_and_reopening_runs_nothing_again(self) -> None:
        runs = []

        def count_words(conn: Any) -> None:
            runs.append(1)
            for rowid, body in conn.execute("SELECT id, body FROM notes").fetchall():
                conn.execute("UPDATE notes SET words=? WHERE id=?", (len(body.split()), rowid))
        steps = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
                 "ALTER TABLE notes ADD COLUMN words INTEGER", count_words]
        self.assertEqual(migrate(self.conn, steps[:1]), 1)
        self.conn.executemany("INSERT INTO notes (body) VALUES (?)", [("one two three",), ("",)])
        self.assertEqual(migrate(self.conn, steps), 3)
        self.assertEqual(self.conn.execute("SELECT body, words FROM notes ORDER BY id").fetchall(),
                         [("one two three", 3), ("", 0)])
        self.assertEqual(migrate(self.conn, steps), 3)
        self.assertEqual(runs, [1])

    def test_sql_with_semicolons_in_strings_comments_and_triggers_runs_whole(self) -> None:
        migrate(self.conn, ["""
            CREATE TABLE log (line TEXT);  -- a comment; with a semicolon
            CREATE TABLE notes (body TEXT);
            CREATE TRIGGER logged AFTER INSERT ON notes BEGIN
                INSERT INTO log VALUES ('added; ' || new.body);
            END;
            INSERT INTO notes VALUES ('a;b')
        """])
        self.assertEqual(self.conn.execute("SELECT line FROM log").fetchall(),
                         [("added; a;b",)])

    def test_a_failing_step_leaves_the_database_at_the_version_before(self) -> None:
        def half_done(conn: Any) -> None:
            conn.execute("INSERT INTO a VALUES ('written by the failing step')")
            raise ValueError("the step found data it cannot convert")
        first = "CREATE TABLE a (x)"
        for failing, error in (("CREATE TABLE b (x); INSERT INTO missing VALUES (1)",
                                sqlite3.OperationalError),
                               (half_done, ValueError)):
            with self.assertRaises(error):
                migrate(self.conn, [first, failing])
            self.assertEqual(user_version(self.conn), 1)
            self.assertEqual(tables(self.conn), {"a"})
            self.assertEqual(self.conn.execute("SELECT * FROM a").fetchall(), [])
            self.assertFalse(self.conn.in_transaction)
        # the next open tries again, with the step fixed
        self.assertEqual(migrate(self.conn, [first, "CREATE TABLE b (x)"]), 2)
        self.assertEqual(tables(self.conn), {"a", "b"})

    def test_a_python_step_that_commits_on_its_own_is_an_error(self) -> None:
        def commits(conn: Any) -> None:
            conn.executescript("CREATE TABLE b (x)")  # executescript commits first
        with self.assertRaises(RuntimeError) as caught:
            migrate(self.conn, ["CREATE TABLE a (x)", commits])
        self.assertIn("migration 2", str(caught.exception))
        self.assertEqual(user_version(self.conn), 1)

    def test_a_database_newer_than_the_code_is_refused_untouched(self) -> None:
        migrate(self.conn, ["CREATE TABLE a (x)", "INSERT INTO a VALUES (1)",
                            "CREATE TABLE c (x)"])
        with self.assertRaises(DatabaseTooNew) as caught:
            migrate(self.conn, ["CREATE TABLE a (x)", "DELETE FROM a"])
        self.assertEqual((caught.exception.found, caught.exception.known), (3, 2))
        self.assertEqual(str(caught.exception), "test.sqlite has schema version 3, newer "
                         "than the 2 this version knows: it was written by a newer version")
        self.assertEqual(user_version(self.conn), 3)
        self.assertEqual(self.conn.execute("SELECT x FROM a").fetchall(), [(1,)])
        self.assertFalse(self.conn.in_transaction)


class ClientDatabaseTests(unittest.TestCase):
    """The account database (SQLCipher) through AccountStore, as the client opens it."""

    def setUp(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        self.path = os.path.join(directory, "account.sqlite")
        self.key = os.urandom(32)

    def database(self) -> Any:
        conn = encrypted_sqlite.connect(self.path, self.key)
        self.addCleanup(conn.close)
        return conn

    @defer.inlineCallbacks
    def opened(self) -> Any:
        store = AccountStore(self.path, reactor, self.key)
        yield store.start()
        self.addCleanup(store.stop)
        return store

    @defer.inlineCallbacks
    def test_a_new_database_reaches_the_latest_version(self) -> Any:
        store = yield self.opened()
        self.assertEqual((yield store.run(user_version)), len(MIGRATIONS))
        self.assertIn("scram_pin", (yield store.run(tables)))  # the last step's table
        self.assertIsNone((yield store.me()))

    @defer.inlineCallbacks
    def test_a_version_1_database_keeps_its_data(self) -> Any:
        conn = self.database()
        migrate(conn, MIGRATIONS[:1])
        conn.execute("INSERT INTO me (id, email, user_id, device_id) VALUES (1, ?, ?, ?)",
                     ("alice@example.org", ALICE, "alice-laptop"))
        conn.execute("INSERT INTO sessions (sid, peer_user_id, peer_email, peer_name, "
                     "peer_identity_key, created) VALUES ('s1', ?, 'bob@example.org', 'Bob', "
                     "'bob-key', 1)", (BOB,))
        conn.executemany("INSERT INTO messages (id, sid, sender, text, timestamp, is_read) "
                         "VALUES (?, 's1', ?, ?, ?, ?)",
                         [("m1", "me", "hello Bob", 10, 1), ("m2", "other", "hi Alice", 20, 0)])
        conn.execute("INSERT INTO devices VALUES (?, 'bob-phone', 'curve-key', 'ed-key')", (BOB,))
        conn.execute("INSERT INTO olm_sessions VALUES ('bob-phone', ?, 'olm-pickle')", (BOB,))
        conn.execute("INSERT INTO held_frames (sender, frame) VALUES (?, x'7b7d')", ("c" * 64,))
        conn.close()

        store = yield self.opened()
        self.assertEqual((yield store.run(user_version)), len(MIGRATIONS))
        me = yield store.me()
        self.assertEqual((me.email, me.user_id, me.device_id),
                         ("alice@example.org", ALICE, "alice-laptop"))
        (bob,) = yield store.contacts()
        self.assertEqual((bob.peer_user_id, bob.display_name, bob.peer_identity_key,
                          bob.verified, bob.devices_changed),
                         (BOB, "Bob", "bob-key", False, False))
        messages = yield store.messages("s1")
        self.assertEqual([(m.id, m.text) for m in messages],
                         [("m1", "hello Bob"), ("m2", "hi Alice")])
        self.assertEqual((yield store.unread_count("s1")), 1)
        # migration 4 moved the Olm session, bound to the key its device was verified with
        self.assertEqual([tuple(row) for row in (yield store.olm_sessions())],
                         [(BOB, "bob-phone", "curve-key", "olm-pickle", "[]")])
        self.assertEqual((yield store.take_held("c" * 64)), [b"{}"])

    @defer.inlineCallbacks
    def test_outbox_entries_queued_by_an_older_version_still_go_out(self) -> Any:
        """Up to version 7 the outbox kept {"frame": <JSON text>, "own": bool} as JSON;
        version 8 keeps the frame's own bytes and `own` in a column."""
        conn = self.database()
        migrate(conn, MIGRATIONS[:7])
        frame = Frame(frames.MSG, "s1", {"id": "m1", "text": "héllo \"😀\"\n\u0000",
                                         "timestamp": 1, "replyTo": None}).encode()
        for own in (True, False):
            conn.execute("INSERT INTO outbox (recipient, frame, message_id) VALUES (?,?,?)",
                         (BOB, json.dumps({"frame": frame.decode(), "own": own}).encode(),
                          "m1"))
        conn.close()
        store = yield self.opened()
        rows = yield store.outbox()
        self.assertEqual([(r[1], r[2], r[3], r[4]) for r in rows],
                         [(BOB, frame, "m1", True), (BOB, frame, "m1", False)])
        self.assertEqual(frames.parse(rows[0][2]).data["text"], "héllo \"😀\"\n\u0000")

    @defer.inlineCallbacks
    def test_a_database_of_a_newer_version_is_refused_and_left_as_it_is(self) -> Any:
        conn = self.database()
        migrate(conn, MIGRATIONS)
        conn.execute("INSERT INTO messages (id, sid, sender, text, timestamp) "
                     "VALUES ('m1', 's1', 'me', 'kept', 1)")
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        conn.close()
        store = AccountStore(self.path, reactor, self.key)
        with self.assertRaises(DatabaseFromNewerVersion) as caught:
            yield store.start()
        yield store.stop()  # nothing left running
        self.assertIn(f"schema {len(MIGRATIONS) + 1}; this one knows up to {len(MIGRATIONS)}",
                      str(caught.exception))
        self.assertIn("update SecureChat", str(caught.exception))
        conn = self.database()
        self.assertEqual(user_version(conn), len(MIGRATIONS) + 1)
        self.assertEqual(conn.execute("SELECT text FROM messages").fetchall(), [("kept",)])


class RelayDatabaseTests(RelayTestCase):
    @defer.inlineCallbacks
    def stopped(self) -> Any:
        yield self.relay.stopService()
        yield defer.gatherResults([s.disconnected for s in self.sessions])

    def change_database(self, *statements: str) -> None:
        db = sqlite3.connect(self.db_path, isolation_level=None)
        for statement in statements:
            db.execute(statement)
        db.close()

    @defer.inlineCallbacks
    def test_a_database_made_before_numbered_migrations_keeps_working(self) -> Any:
        alice = yield self.account("alice@example.org")
        bob = yield self.account("bob@example.org")
        alice_laptop = yield self.device(alice)
        bob_phone = yield self.device(bob)
        sender, _ = yield self.online(alice_laptop)
        yield sender.call(uris.MESSAGE_SEND, bob.user_id,
                          [envelope(bob_phone, b"sent before the upgrade")])
        yield self.stopped()
        # As relays before numbered migrations left it (they never set user_version),
        # and as older ones did: a one-time key column and the sender counters missing, an
        # index since replaced still there.
        self.change_database("PRAGMA user_version = 0",
                             "ALTER TABLE one_time_keys DROP COLUMN signature",
                             "DELETE FROM mailbox_sender_usage",
                             "CREATE INDEX mailbox_by_sender ON mailbox(from_user)")
        yield self.start_relay()
        bob_online, _ = yield self.online(bob_phone)  # accounts and device keys kept
        mailbox = yield bob_online.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["body"] for e in mailbox["envelopes"]], [b"sent before the upgrade"])
        yield self.online(alice_laptop)

        db = sqlite3.connect(self.db_path)
        self.addCleanup(db.close)
        self.assertEqual(user_version(db), len(relay_storage.MIGRATIONS))
        self.assertIn("signature", [row[1] for row in db.execute("PRAGMA table_info("
                                                                   "one_time_keys)")])
        self.assertIsNone(db.execute("SELECT 1 FROM sqlite_master WHERE name = "
                                     "'mailbox_by_sender'").fetchone())
        self.assertEqual(db.execute("SELECT from_user, count FROM mailbox_sender_usage")
                         .fetchall(), [(alice.user_id, 1)])

    @defer.inlineCallbacks
    def test_a_database_of_a_newer_relay_is_refused_and_nothing_listens(self) -> Any:
        yield self.account("alice@example.org")
        yield self.stopped()
        newer = len(relay_storage.MIGRATIONS) + 1
        self.change_database(f"PRAGMA user_version = {newer}")
        relay = RelayService(reactor, ["tcp:0:interface=127.0.0.1"], self.db_path,
                             testing.for_tests(self.config))
        relay.startService()
        with self.assertRaises(DatabaseTooNew) as caught:
            yield relay.ready
        yield relay.stopService()
        self.assertEqual(relay.ports, [])
        self.assertIn(f"schema version {newer}", str(caught.exception))
        db = sqlite3.connect(self.db_path)
        self.addCleanup(db.close)
        self.assertEqual(user_version(db), newer)
        self.assertEqual(db.execute("SELECT COUNT(*) FROM accounts").fetchone(), (1,))
