"""The relay's own tests again, on PostgreSQL storage (`--db postgresql://...`).

The classes here are the relay test classes that exercise its storage (accounts,
devices, prekeys, mailboxes and their quotas, pending devices, expiry, blob metadata
with its quotas and owner checks), each run
unchanged against a fresh schema of the shared throw-away PostgreSQL server. The whole
suite runs on PostgreSQL with SECURECHAT_TEST_DB=postgresql (tests that open the
SQLite file itself cannot: see docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

import psycopg
from twisted.internet import defer, reactor
from twisted.trial import unittest
from zope.interface.verify import verifyObject

import tests.test_auth as auth
import tests.test_blobs as blobs
import tests.test_delivery as delivery
import tests.test_files as files
import tests.test_pending_devices as pending_devices
import tests.test_prekeys as prekeys
import tests.test_presence as presence
import tests.test_removed_devices as removed_devices
from securechat import testing
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey
from securechat.relay.storage import BlobQuotaExceeded, IRelayStorage
from securechat.relay.storage.blobs import BlobRecord
from securechat.relay.storage.pg_schema import BLOB_PURGE_LOCK, PG_MIGRATIONS, PURGE_LOCK
from securechat.relay.storage.pg_storage import PostgresStorage
from securechat.sqlite import DatabaseTooNew
from securechat.testing_servers import postgres_for


class OnPostgres:
    """Mixed into a RelayTestCase: its relay stores in PostgreSQL."""

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        self.relay, self.url = yield testing.start_relay(
            reactor, postgres_for(self.db_path), self.config, clock=self.clock)
        assert isinstance(self.relay.storage, PostgresStorage)
        self.addCleanup(self._stop, self.relay)


class FanOutOnPostgres(OnPostgres, delivery.FanOutTests):
    pass


class DeliveryLimitsOnPostgres(OnPostgres, delivery.LimitTests):
    pass


class MailboxSharesOnPostgres(OnPostgres, delivery.MailboxShareTests):
    pass


class PrekeysOnPostgres(OnPostgres, prekeys.PrekeyTests):
    pass


class PendingDevicesOnPostgres(OnPostgres, pending_devices.PendingDeviceTests):
    pass


class PendingExpiryOnPostgres(OnPostgres, pending_devices.PendingExpiryTests):
    pass


class RemovedDevicesOnPostgres(OnPostgres, removed_devices.RemovedDeviceTests):
    pass


class PresenceOnPostgres(OnPostgres, presence.PresenceTests):
    pass


class AuthenticationOnPostgres(OnPostgres, auth.AuthenticationTests):
    pass


class BlobStoreOnPostgres(OnPostgres, blobs.BlobStoreTests):
    pass


class LaterDeviceOnPostgres(OnPostgres, blobs.LaterDeviceTests):
    pass


class FileLimitsOnPostgres(OnPostgres, files.LimitsTest):
    pass


class FileCancelOnPostgres(OnPostgres, files.CancelTest):
    pass


def _records() -> tuple[Any, ...]:
    user = "a" * 64
    account = Account(user, "ik", "argon2id", "salt", 1, 8192, b"sk", b"sv", b"blob")
    device = Device("phone", user, "k" * 64, "ik", "signature", 1)
    return account, device


class PostgresStorageTests(unittest.TestCase):
    """What several nodes on one database must not get wrong."""

    @defer.inlineCallbacks
    def nodes(self, count: int = 2) -> Any:
        """`count` storages on one fresh schema, started together."""
        dsn = postgres_for(self.mktemp())
        storages = [PostgresStorage(dsn, reactor) for _ in range(count)]
        yield defer.gatherResults([s.start() for s in storages])  # migrate at once
        for s in storages:
            self.addCleanup(s.stop)
        return storages, dsn

    @defer.inlineCallbacks
    def test_nodes_starting_together_migrate_once(self) -> Any:
        _, dsn = yield self.nodes(3)
        with psycopg.connect(dsn) as conn:
            self.assertEqual(conn.execute("SELECT version FROM schema_version").fetchall(),
                             [(len(PG_MIGRATIONS),)])

    @defer.inlineCallbacks
    def test_a_newer_schema_is_refused_untouched(self) -> Any:
        _, dsn = yield self.nodes(1)
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE schema_version SET version=99")
        newer = PostgresStorage(dsn, reactor)
        yield self.assertFailure(newer.start(), DatabaseTooNew)
        with psycopg.connect(dsn) as conn:
            self.assertEqual(conn.execute("SELECT version FROM schema_version").fetchone(),
                             (99,))

    @defer.inlineCallbacks
    def test_claims_racing_on_two_nodes_never_hand_out_a_key_twice(self) -> Any:
        (a, b), _ = yield self.nodes(2)
        account, device = _records()
        yield a.create_account(account)
        yield a.add_device(device, 10)
        keys = [OneTimeKey(f"k{i}", f"key{i}") for i in range(40)]
        yield a.add_prekeys(device.device_id, [*keys, OneTimeKey("f", "fb", fallback=True)],
                            100)
        claims = yield defer.gatherResults(
            [(a if i % 2 else b).claim_prekeys(account.user_id, [device.device_id])
             for i in range(50)])
        taken = [c[device.device_id] for c in claims]
        one_time = [k.key_id for k in taken if not k.fallback]
        self.assertEqual(sorted(one_time), sorted(k.key_id for k in keys))  # each once
        self.assertEqual([k.key_id for k in taken if k.fallback], ["f"] * 10)

    @defer.inlineCallbacks
    def test_expired_envelopes_are_purged_by_one_node_at_a_time(self) -> Any:
        (a, b), dsn = yield self.nodes(2)
        account, device = _records()
        yield a.create_account(account)
        yield a.add_device(device, 10)
        quota = MailboxQuota(100, 1 << 20, 1.0, 100, 1 << 20, 1 << 30)
        old = Envelope("e1", device.device_id, account.user_id, "laptop", 1, 1, "olm.v1", 1,
                       b"body")
        yield a.store_envelopes([old], expires=1000, quota=quota)
        # Another node is purging (holds the purge lock): this one skips its round.
        with psycopg.connect(dsn, autocommit=True) as purging:
            purging.execute("SELECT pg_advisory_lock(%s)", (PURGE_LOCK,))
            self.assertEqual((yield b.purge_expired(2000)), 0)
            purging.execute("SELECT pg_advisory_unlock(%s)", (PURGE_LOCK,))
        self.assertEqual((yield b.purge_expired(2000)), 1)
        page = yield a.fetch_mailbox(device.device_id, 0, 10, 1 << 20, 256)
        self.assertEqual(page.envelopes, [])

    @defer.inlineCallbacks
    def test_string_and_byte_bodies_come_back_as_they_went_in(self) -> Any:
        (a,), _ = yield self.nodes(1)
        account, device = _records()
        yield a.create_account(account)
        yield a.add_device(device, 10)
        quota = MailboxQuota(100, 1 << 20, 1.0, 100, 1 << 20, 1 << 30)
        sent = [Envelope("t", device.device_id, account.user_id, "x", 1, 1, "olm.v1", 1,
                         "QUJD"),
                Envelope("b", device.device_id, account.user_id, "x", 2, 1, "olm.v1", 1,
                         b"\x00\xff")]
        yield a.store_envelopes(sent, expires=10_000, quota=quota)
        page = yield a.fetch_mailbox(device.device_id, 0, 10, 1 << 20, 256)
        self.assertEqual(page.envelopes, sent)


def _blob(owner: str, blob_id: str, size: int = 100, created: int = 0,
          expires: int = 10_000) -> BlobRecord:
    return BlobRecord(blob_id, owner, "phone", size, 64, -(-size // 64), b"h" * 32,
                      ("reader",), created, expires)


class PostgresBlobTests(unittest.TestCase):
    """Blob metadata on a database several nodes share."""

    nodes = PostgresStorageTests.nodes

    @defer.inlineCallbacks
    def test_the_storage_is_a_whole_relay_storage(self) -> Any:
        (a,), _ = yield self.nodes(1)
        self.assertTrue(verifyObject(IRelayStorage, a))

    @defer.inlineCallbacks
    def test_a_blob_goes_through_its_life_as_on_sqlite(self) -> Any:
        (a, b), _ = yield self.nodes(2)
        account, _ = _records()
        yield a.create_account(account)
        blob = _blob(account.user_id, "1" * 32, size=150)
        yield a.create_blob(blob, 1000, 10, 0)
        self.assertEqual((yield b.get_blob(blob.blob_id)), blob)
        yield a.blob_chunk_stored(blob.blob_id, 2, 22)
        yield b.blob_chunk_stored(blob.blob_id, 2, 22)  # again (a resumed upload)
        self.assertEqual((yield b.blob_missing(blob.blob_id, 3)), [0, 1])
        self.assertEqual((yield b.finish_blob(blob.blob_id, 3)), [0, 1])
        self.assertFalse((yield a.get_blob(blob.blob_id)).finished)
        yield b.blob_chunk_stored(blob.blob_id, 0, 64)
        yield a.blob_chunk_stored(blob.blob_id, 1, 64)
        self.assertEqual((yield a.finish_blob(blob.blob_id, 3)), [])
        self.assertTrue((yield b.get_blob(blob.blob_id)).finished)
        self.assertTrue((yield b.delete_blob(blob.blob_id)))
        self.assertIsNone((yield a.get_blob(blob.blob_id)))
        self.assertFalse((yield a.delete_blob(blob.blob_id)))
        self.assertEqual((yield a.blob_missing(blob.blob_id, 3)), [0, 1, 2])  # chunks gone

    @defer.inlineCallbacks
    def test_uploads_racing_on_two_nodes_never_pass_the_quota(self) -> Any:
        (a, b), _ = yield self.nodes(2)
        account, _ = _records()
        yield a.create_account(account)
        # Room for 5 blobs of 100 bytes; 12 creates at once, half through each node.
        results = yield defer.DeferredList(
            [(a if i % 2 else b).create_blob(_blob(account.user_id, f"{i:032x}"), 500, 10, 0)
             for i in range(12)], consumeErrors=True)
        refused = [r.value for ok, r in results if not ok]
        self.assertEqual(sum(ok for ok, _ in results), 5)
        self.assertEqual(len(refused), 7)
        for refusal in refused:
            self.assertIsInstance(refusal, BlobQuotaExceeded)
            self.assertEqual((refusal.used, refusal.quota), (500, 500))
        # The count bounds too, and expired blobs count for nothing.
        other = Account("b" * 64, "ik", "argon2id", "salt", 1, 8192, b"sk", b"sv", b"blob")
        yield a.create_account(other)
        yield a.create_blob(_blob(other.user_id, "e" * 32, expires=5), 1000, 1, 0)
        yield b.create_blob(_blob(other.user_id, "f" * 32), 1000, 1, 10)  # "e" expired
        yield self.assertFailure(a.create_blob(_blob(other.user_id, "d" * 32), 1000, 1, 10),
                                 BlobQuotaExceeded)

    @defer.inlineCallbacks
    def test_expired_and_stale_blobs_are_purged_by_one_node_at_a_time(self) -> Any:
        (a, b), dsn = yield self.nodes(2)
        account, _ = _records()
        yield a.create_account(account)
        expired = _blob(account.user_id, "1" * 32, created=0, expires=1000)
        stale = _blob(account.user_id, "2" * 32, created=0)  # never finished
        kept = _blob(account.user_id, "3" * 32, created=0)  # finished: lives on
        recent = _blob(account.user_id, "4" * 32, created=900)  # still uploading
        for blob in (expired, stale, kept, recent):
            yield a.create_blob(blob, 10_000, 10, 0)
            yield a.blob_chunk_stored(blob.blob_id, 0, 64)
        yield a.blob_chunk_stored(kept.blob_id, 1, 36)
        yield a.finish_blob(kept.blob_id, 2)
        with psycopg.connect(dsn, autocommit=True) as purging:
            purging.execute("SELECT pg_advisory_lock(%s)", (BLOB_PURGE_LOCK,))
            self.assertEqual((yield b.purge_blobs(2000, 500)), [])  # another node's turn
            purging.execute("SELECT pg_advisory_unlock(%s)", (BLOB_PURGE_LOCK,))
        gone = yield b.purge_blobs(2000, 500)
        self.assertEqual(sorted(gone), [expired.blob_id, stale.blob_id])
        self.assertEqual((yield a.purge_blobs(2000, 500)), [])
        for blob in (expired, stale):
            self.assertIsNone((yield a.get_blob(blob.blob_id)))
        self.assertTrue((yield a.get_blob(kept.blob_id)).finished)
        self.assertEqual((yield a.blob_missing(recent.blob_id, 2)), [1])
        with psycopg.connect(dsn) as conn:  # the purged blobs' chunk rows went with them
            self.assertEqual(conn.execute("SELECT DISTINCT blob_id FROM blob_chunks ORDER BY 1"
                                          ).fetchall(), [(kept.blob_id,), (recent.blob_id,)])
