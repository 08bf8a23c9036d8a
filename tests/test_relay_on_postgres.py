"""The relay's own tests again, on PostgreSQL storage (`--db postgresql://...`).

The classes here are the relay test classes that exercise its storage (accounts,
devices, prekeys, mailboxes and their quotas, pending devices, expiry), each run
unchanged against a fresh schema of the shared throw-away PostgreSQL server. The whole
suite runs on PostgreSQL with SECURECHAT_TEST_DB=postgresql (tests that open the
SQLite file itself cannot: see docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

import psycopg
from twisted.internet import defer, reactor
from twisted.trial import unittest

import tests.test_auth as auth
import tests.test_delivery as delivery
import tests.test_pending_devices as pending_devices
import tests.test_prekeys as prekeys
import tests.test_presence as presence
import tests.test_removed_devices as removed_devices
from securechat import testing
from securechat.relay.records import Account, Device, Envelope, MailboxQuota, OneTimeKey
from securechat.relay.storage.pg_schema import PG_MIGRATIONS, PURGE_LOCK
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
