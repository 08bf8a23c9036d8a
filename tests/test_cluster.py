"""A relay cluster: nodes on one PostgreSQL and one Redis, clients on different nodes.

Real servers throughout: Debian's PostgreSQL and Redis started by the tests
(securechat.testing_servers), relay nodes as services in this process or as
`twistd securechat-relay` processes (killed with SIGKILL), real clients.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, reactor, threads
from twisted.internet.utils import getProcessOutputAndValue

import securechat.client.filecrypt as filecrypt
from securechat import testing
from securechat.client import MediaStatus
from securechat.client import events as ev
from securechat.client.model import MessageStatus
from securechat.client.registration import request_email_code
from securechat.client.wamp import Anonymous, connect
from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from securechat.relay.service import ConfigError, RelayService
from securechat.relay.storage.pg_schema import PG_MIGRATIONS
from securechat.testing_servers import PostgresServer, RedisServer, free_port
from tests.clustersupport import ClusterTestCase
from tests.mailserver import code_in, mailing_config
from tests.support import Inbox, envelope
from tests.test_service import TWISTD, TwistdProcess


class TwoNodesTests(ClusterTestCase):
    @defer.inlineCallbacks
    def alice_on_a_bob_on_b(self) -> Any:
        self.alice, self.bob = yield self.friends_on_two_nodes()
        a, b = self.nodes[0].router, self.nodes[1].router
        self.assertTrue(a.has_device(self.alice.me.device_id))
        self.assertFalse(a.has_device(self.bob.me.device_id))
        self.assertTrue(b.has_device(self.bob.me.device_id))

    @defer.inlineCallbacks
    def test_messages_cross_nodes_live_both_ways(self) -> Any:
        yield self.alice_on_a_bob_on_b()
        sent = yield self.alice.send_text(self.bob.me.user_id, "from node A")
        got = yield self.log(self.bob).wait_for(ev.MessageReceived,
                                                lambda e: e.message.id == sent.id)
        self.assertEqual(got.message.text, "from node A")
        reply = yield self.bob.send_text(self.alice.me.user_id, "from node B")
        got = yield self.log(self.alice).wait_for(ev.MessageReceived,
                                                  lambda e: e.message.id == reply.id)
        self.assertEqual(got.message.text, "from node B")
        # Delivered (the receiver acked through its own node): the sender sees the tick.
        yield self.log(self.alice).wait_for(
            ev.MessageUpdated, lambda e: e.message_id == sent.id and
            e.status == MessageStatus.DELIVERED)

    @defer.inlineCallbacks
    def test_an_offline_device_finds_its_messages_on_another_node(self) -> Any:
        yield self.alice_on_a_bob_on_b()
        yield self.bob.stop()
        sent = []
        for i in range(3):
            sent.append((yield self.alice.send_text(self.bob.me.user_id, f"while away {i}")))
        self.on(self.urls[0])  # Bob comes back through the other node
        self.bob = yield self.reopen(self.bob, "bob")
        yield self.online(self.bob)
        for message in sent:
            yield self.log(self.bob).wait_for(ev.MessageReceived,
                                              lambda e, m=message: e.message.id == m.id)
        self.assertEqual([e.message.text for e in self.log(self.bob).of(ev.MessageReceived)],
                         [m.text for m in sent])

    @defer.inlineCallbacks
    def test_presence_reaches_contacts_on_other_nodes(self) -> Any:
        yield self.alice_on_a_bob_on_b()
        alice_log = self.log(self.alice)
        yield alice_log.wait_for(ev.PresenceChanged, lambda e: e.peer_user_id ==
                                 self.bob.me.user_id and e.online)
        self.assertTrue(self.alice.is_online(self.bob.me.user_id))
        mark = alice_log.mark()
        yield self.bob.stop()
        gone = yield alice_log.wait_for(ev.ContactPresenceChanged, lambda e: e.peer_user_id ==
                                        self.bob.me.user_id, since=mark)
        self.assertFalse(gone.online)
        self.assertFalse(self.alice.is_online(self.bob.me.user_id))

    @defer.inlineCallbacks
    def test_a_device_connecting_to_another_node_closes_its_old_session(self) -> Any:
        account = yield testing.register_account(reactor, self.urls[0], "carol@example.org",
                                                 "pw " + "x" * 8)
        device = yield testing.enroll_device(reactor, self.urls[0], account)
        old = yield connect(reactor, self.urls[0], device.key)
        new = yield connect(reactor, self.urls[1], device.key)
        self.sessions += [old, new]
        details = yield old.left
        self.assertEqual(details.reason, uris.CLOSE_REPLACED)
        self.assertTrue(new.is_attached())
        # What is sent to the device now reaches the new session, on node B.
        inbox = Inbox()
        yield new.subscribe(inbox.received, uris.inbox_topic(device.device_id))
        sender = yield testing.register_account(reactor, self.urls[0], "dan@example.org",
                                                "pw " + "x" * 8)
        sender_device = yield testing.enroll_device(reactor, self.urls[0], sender)
        from_a = yield self.join(sender_device.key)  # self.url: node A
        yield from_a.call(uris.MESSAGE_SEND, account.user_id, [envelope(device, b"hi")])
        event = yield inbox.next()
        self.assertEqual(event["body"], b"hi")

    @defer.inlineCallbacks
    def test_a_device_enrolled_on_one_node_can_be_written_to_at_once_through_another(
            self) -> Any:
        bob = yield testing.register_account(reactor, self.urls[1], "bob@example.org",
                                             "pw " + "x" * 8)
        laptop = yield testing.enroll_device(reactor, self.urls[1], bob)
        alice = yield testing.register_account(reactor, self.urls[0], "alice@example.org",
                                               "pw " + "x" * 8)
        alice_device = yield testing.enroll_device(reactor, self.urls[0], alice)
        sender = yield self.join(alice_device.key)  # on node A, which caches Bob's devices
        yield sender.call(uris.MESSAGE_SEND, bob.user_id, [envelope(laptop)])
        phone = yield testing.enroll_device(reactor, self.urls[1], bob)  # through node B
        result = yield sender.call(uris.MESSAGE_SEND, bob.user_id,
                                   [envelope(laptop), envelope(phone)])
        self.assertEqual(set(result["ids"]), {laptop.device_id, phone.device_id})


class LiveAcrossNodesTests(ClusterTestCase):
    """`sc.message.send_live` (call signaling, typing): a device connected to another
    node counts as reached, and gets the frame."""

    @defer.inlineCallbacks
    def listened(self, node: int, device_id: str, count: int = 1) -> Any:
        """Until `count` nodes listen on the device's Redis channel (node `node` takes
        it once it has welcomed the device, and lets it go once the session has ended)."""
        bus = self.nodes[node].bus
        channel = bus.device_channel(device_id)
        while (yield bus.redis.execute_command("PUBSUB", "NUMSUB", channel))[1] != count:
            pass  # each turn waits on a Redis round trip

    @defer.inlineCallbacks
    def test_a_live_frame_reaches_a_device_on_another_node_and_counts_as_delivered(
            self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice, "alice-laptop")
        phone = yield self.device(alice, "alice-phone")
        bob = yield self.account("bob@example.org")
        bob_laptop = yield self.device(bob, "bob-laptop")
        bob_phone = yield self.device(bob, "bob-phone")  # never online here
        inboxes = {}
        for device, url in ((phone, self.urls[0]), (bob_laptop, self.urls[1])):
            session = yield connect(reactor, url, device.key)
            self.sessions.append(session)
            inboxes[device.device_id] = inbox = Inbox()
            yield session.subscribe(inbox.received, uris.inbox_topic(device.device_id))
        yield self.listened(1, bob_laptop.device_id)
        sender = yield self.join(laptop.key)  # on node A
        frames = [envelope(bob_laptop, b"ring"), envelope(bob_phone, b"ring"),
                  envelope(phone, b"ringing")]

        result = yield sender.call(uris.MESSAGE_SEND_LIVE, bob.user_id, frames)

        # Bob's laptop (node B) and Alice's phone (node A) got it; Bob's phone did not.
        self.assertEqual(result["delivered"], ["alice-phone", "bob-laptop"])
        got = yield inboxes["bob-laptop"].next()
        self.assertEqual((got["body"], got["from_device"]), (b"ring", "alice-laptop"))
        self.assertEqual((yield inboxes["alice-phone"].next())["body"], b"ringing")
        # Once Bob's laptop has gone, a frame to it reaches nobody, and says so.
        yield testing.leave(self.sessions[1])
        yield self.listened(1, bob_laptop.device_id, count=0)
        result = yield sender.call(uris.MESSAGE_SEND_LIVE, bob.user_id, frames)
        self.assertEqual(result["delivered"], ["alice-phone"])
        # Live frames are never stored, on either node.
        for device, url in ((bob_laptop, self.urls[0]), (bob_phone, self.urls[1])):
            session = yield connect(reactor, url, device.key)
            self.sessions.append(session)
            page = yield session.call(uris.MAILBOX_FETCH)
            self.assertEqual(page["envelopes"], [])


class FileAcrossNodesTests(ClusterTestCase):
    """Encrypted files in a cluster: metadata in PostgreSQL, bytes in the blob directory
    every node shares."""

    @defer.inlineCallbacks
    def test_a_file_sent_through_one_node_is_downloaded_through_another(self) -> Any:
        alice, bob = yield self.friends_on_two_nodes()
        bob.files.auto_download_bytes = 0  # only when asked: after node A has gone
        content = os.urandom(3 * filecrypt.CHUNK_SIZE + 12345)
        path = os.path.join(self.mktemp())
        with open(path, "wb") as f:
            f.write(content)
        message = yield alice.files.send(bob.me.user_id, path)
        sent = yield alice.files.wait(message.id)
        self.assertEqual(sent.status, MediaStatus.SENT)
        yield self.log(bob).wait_for(ev.FileOffered, lambda e: e.item.message_id == message.id)
        # Uploaded through node A, which now stops: the file lives on for node B.
        yield self.nodes[0].stopService()
        self.assertTrue(self.nodes[1].router.has_device(bob.me.device_id))

        item = yield bob.files.download(message.id)

        self.assertEqual(item.status, MediaStatus.DONE)
        saved = self.mktemp()
        yield bob.files.save(message.id, saved)
        with open(saved, "rb") as f:
            self.assertEqual(f.read(), content)


class KilledNodeTests(ClusterTestCase):
    node_count = 1

    @defer.inlineCallbacks
    def test_a_killed_node_drops_only_its_connections_and_its_clients_move_on(self) -> Any:
        node, node_url = self.run_node()  # a separate process, to be killed
        yield node.listening
        self.on(node_url, self.urls[0])  # Alice lists the doomed node first
        alice = yield self.register("alice", "alice@example.org")
        self.on(self.urls[0])
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(alice, bob)
        yield self.befriend(alice, bob)
        self.assertFalse(self.relay.router.has_device(alice.me.device_id))  # on the other
        peer = bob.me.user_id
        before = yield defer.gatherResults([alice.send_text(peer, f"before {i}")
                                            for i in range(5)])
        alice_log, bob_log = self.log(alice), self.log(bob)
        mark = alice_log.mark()
        node.transport.signalProcess("KILL")
        yield node.ended
        # Sent while the connection is going: queued, and sent again once moved.
        during = yield defer.gatherResults([alice.send_text(peer, f"during {i}")
                                            for i in range(5)])
        yield alice_log.wait_for(ev.CaughtUp, since=mark)
        self.assertTrue(self.relay.router.has_device(alice.me.device_id))
        after = yield defer.gatherResults([alice.send_text(peer, f"after {i}")
                                           for i in range(5)])
        ids = [m.id for m in before + during + after]
        for message_id in ids:
            yield bob_log.wait_for(ev.MessageReceived,
                                   lambda e, i=message_id: e.message.id == i)
        # Bob, on the surviving node, never lost his connection.
        self.assertEqual([e for e in bob_log.of(ev.ConnectionStateChanged)
                          if e.state is ev.ConnectionState.OFFLINE], [])
        self.assertEqual(sorted(e.message.id for e in bob_log.of(ev.MessageReceived)),
                         sorted(ids))


class RedisRestartTests(ClusterTestCase):
    """Redis restarting loses no message: the mailbox is the truth."""

    def redis_for_test(self) -> str:
        self.redis = RedisServer().start()  # its own: this test restarts it
        self.addCleanup(self.redis.close)
        return self.redis.url()

    @defer.inlineCallbacks
    def test_redis_restarting_mid_traffic_loses_nothing(self) -> Any:
        alice, bob = yield self.friends_on_two_nodes()
        peer = bob.me.user_id
        first = yield defer.gatherResults([alice.send_text(peer, f"one {i}") for i in range(5)])
        self.redis.restart()
        second = yield defer.gatherResults([alice.send_text(peer, f"two {i}")
                                            for i in range(5)])
        for message in first + second:
            yield self.log(bob).wait_for(ev.MessageReceived,
                                         lambda e, m=message: e.message.id == m.id)
        # Live delivery between the nodes works again.
        third = yield alice.send_text(peer, "three")
        yield self.log(bob).wait_for(ev.MessageReceived, lambda e: e.message.id == third.id)


class PostgresDownTests(ClusterTestCase):
    """PostgreSQL unavailable: senders get a clear error, nothing unstored is acked."""

    node_count = 1

    def database_for_test(self) -> str:
        self.pg = PostgresServer().start()  # its own: this test stops it
        self.addCleanup(self.pg.stop)
        return self.pg.fresh_dsn("down")

    @defer.inlineCallbacks
    def test_senders_get_a_clear_error_and_nothing_unstored_is_acknowledged(self) -> Any:
        alice = yield self.account("alice@example.org")
        bob = yield self.account("bob@example.org")
        alice_device = yield self.device(alice)
        bob_device = yield self.device(bob)
        sender = yield self.join(alice_device.key)
        stored = yield sender.call(uris.MESSAGE_SEND, bob.user_id,
                                   [envelope(bob_device, b"stored")])
        self.pg.kill()
        try:
            yield sender.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device, b"lost")])
        except ApplicationError as e:
            self.assertEqual(e.error, uris.ERR_UNAVAILABLE)
            self.assertIn("nothing was stored", e.args[0])
        else:
            self.fail("a message was acknowledged while the database was down")
        self.pg.restart()
        again = yield sender.call(uris.MESSAGE_SEND, bob.user_id,
                                  [envelope(bob_device, b"again")])
        receiver = yield self.join(bob_device.key)
        page = yield receiver.call(uris.MAILBOX_FETCH)
        self.assertEqual([e["id"] for e in page["envelopes"]],
                         [stored["ids"][bob_device.device_id],
                          again["ids"][bob_device.device_id]])
        self.assertEqual([e["body"] for e in page["envelopes"]], [b"stored", b"again"])


class SharedCodesTests(ClusterTestCase):
    """A mailed code lives in Redis: it works on any node, once."""

    config = RelayConfig(email_verification=True)

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        self.mailbox, self.config = yield mailing_config(self, self.config)
        yield super().setUp()

    @defer.inlineCallbacks
    def register_on(self, url: str, email: str, code: str) -> Any:
        """sc.account.register through this node: the ApplicationError, or None."""
        _, args = yield threads.deferToThread(testing.registration_args, email, "pw " + "x" * 8)
        session = yield connect(reactor, url, Anonymous())
        refusal = yield session.call(uris.ACCOUNT_REGISTER, *args, code).addCallbacks(
            lambda _: None, lambda f: f.trap(ApplicationError) and f.value)
        yield testing.leave(session)
        return refusal

    @defer.inlineCallbacks
    def test_a_code_mailed_by_one_node_registers_through_another_once(self) -> Any:
        email = "bob@example.org"
        self.assertTrue((yield request_email_code(reactor, self.urls[0], email)))
        code = code_in((yield self.mailbox.next_mail(email)))
        wrong = f"{(int(code) + 1) % 10 ** 8:08d}"
        refusal = yield self.register_on(self.urls[1], email, wrong)
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_WRONG)
        self.assertEqual(refusal.kwargs["attempts_left"], self.config.email_code_attempts - 1)
        self.assertIsNone((yield self.register_on(self.urls[1], email, code)))
        refusal = yield self.register_on(self.urls[0], email, code)  # spent, on every node
        self.assertEqual(refusal.error, uris.ERR_EMAIL_CODE_EXPIRED)



class SharedRateLimitTests(ClusterTestCase):
    """An account's sending budget lives in Redis: spreading over nodes gains nothing."""

    config = RelayConfig(account_rate=0.001, account_burst=3)

    @defer.inlineCallbacks
    def test_an_accounts_send_rate_is_one_budget_across_nodes(self) -> Any:
        alice = yield self.account("alice@example.org")
        bob = yield self.account("bob@example.org")
        alice_device = yield self.device(alice)
        bob_device = yield self.device(bob)
        on_a = yield connect(reactor, self.urls[0], alice_device.key)
        self.sessions.append(on_a)
        for _ in range(2):
            yield on_a.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device)])
        yield on_a.leave()
        on_b = yield connect(reactor, self.urls[1], alice_device.key)
        self.sessions.append(on_b)
        yield on_b.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device)])
        try:
            yield on_b.call(uris.MESSAGE_SEND, bob.user_id, [envelope(bob_device)])
        except ApplicationError as e:
            self.assertEqual(e.error, uris.ERR_RATE_LIMITED)
            self.assertGreater(e.kwargs["retry_after"], 0)
        else:
            self.fail("a fourth envelope went through a burst of three, on another node")


class CheckCommandTests(ClusterTestCase):
    """`securechat-relay-check`: what an operator runs before starting a node."""

    node_count = 1

    def run_check(self, *args: str) -> Any:
        return getProcessOutputAndValue(
            sys.executable, ["-m", "securechat.relay.check", *args],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})

    @defer.inlineCallbacks
    def test_reachable_services_pass_and_unreachable_ones_fail_clearly(self) -> Any:
        out, err, status = yield self.run_check("--db", self.dsn, "--redis", self.redis_url,
                                                "--blob-dir", self.blob_dir)
        self.assertEqual(status, 0, err)
        self.assertIn(b"database: ok: PostgreSQL", out)
        last = len(PG_MIGRATIONS)
        self.assertIn(f"schema {last}/{last}".encode(), out)
        self.assertIn(b"redis: ok: Redis", out)
        self.assertIn(f"blobs: ok: {self.blob_dir}, writable".encode(), out)
        self.assertEqual(os.listdir(self.blob_dir), [])  # its probe file is gone
        dead = f"redis://127.0.0.1:{free_port()}/0"
        out, _, status = yield self.run_check("--db", self.dsn, "--redis", dead,
                                              "--blob-dir", self.blob_dir)
        self.assertEqual(status, 1)
        self.assertIn(b"database: ok", out)
        self.assertIn(f"redis: FAILED: {dead}".encode(), out)
        self.assertIn(b"refused", out)

    @defer.inlineCallbacks
    def test_a_missing_blob_directory_fails_the_check(self) -> Any:
        out, _, status = yield self.run_check("--db", self.dsn, "--redis", self.redis_url)
        self.assertEqual(status, 1)
        self.assertIn(b"redis: ok", out)
        self.assertIn(b"blobs: FAILED: a relay on PostgreSQL needs --blob-dir", out)
        unmounted = os.path.join(self.blob_dir, "not-mounted")
        out, _, status = yield self.run_check("--db", self.dsn, "--blob-dir", unmounted)
        self.assertEqual(status, 1)
        self.assertIn(f"blobs: FAILED: {unmounted} is not a directory".encode(), out)

    @defer.inlineCallbacks
    def test_a_node_on_postgresql_without_a_shared_blob_directory_is_refused_at_start(
            self) -> Any:
        for extra, says in (([], b"--db postgresql://... needs --blob-dir"),
                            (["--blob-dir", os.path.join(self.blob_dir, "not-mounted")],
                             b"is not a directory: mount the storage the nodes share")):
            proc = TwistdProcess()
            reactor.spawnProcess(proc, TWISTD, [
                TWISTD, "-n", "--pidfile=", "securechat-relay", "--db", self.dsn,
                "--redis", self.redis_url, "--email-verification", "off", *extra],
                env=os.environ.copy())
            proc.listening.addErrback(lambda _: None)
            yield proc.ended
            self.assertIn(says, proc.output)
        # The service itself (a relay embedded in another program) refuses the same.
        with self.assertRaises(ConfigError) as refused:
            RelayService(reactor, ["tcp:0"], self.dsn, testing.for_tests(RelayConfig()))
        self.assertIn("--blob-dir", str(refused.exception))

    @defer.inlineCallbacks
    def test_a_cluster_on_sqlite_files_is_refused_at_start(self) -> Any:
        # Nodes on their own SQLite files would share nothing: twistd says so and exits.
        proc = TwistdProcess()
        reactor.spawnProcess(proc, TWISTD, [
            TWISTD, "-n", "--pidfile=", "securechat-relay", "--db", self.mktemp(),
            "--redis", self.redis_url, "--email-verification", "off"], env=os.environ.copy())
        proc.listening.addErrback(lambda _: None)
        yield proc.ended
        self.assertIn(b"--redis joins a cluster", proc.output)
        self.assertIn(b"--db postgresql://", proc.output)
