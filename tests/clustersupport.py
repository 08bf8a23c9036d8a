"""Relay clusters in tests: nodes on one throw-away PostgreSQL and one Redis.

The servers are started once per test process (securechat.testing_servers); each test
gets its own PostgreSQL schema and its own Redis database number, so tests share
nothing but the server processes.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import attrs
from twisted.internet import defer, reactor

from securechat import testing
from securechat.relay.service import RelayService
from securechat.testing_servers import postgres_for, shared_redis
from tests.clientsupport import ClientTestCase
from tests.test_service import TWISTD, TwistdProcess, free_port

_redis_databases = itertools.count(1)


def fresh_redis_url() -> str:
    """A Redis database of the shared server that no other test uses."""
    return shared_redis().url(next(_redis_databases) % 1024)


def twistd_node(dsn: str, redis_url: str, port: int, blob_dir: str) -> TwistdProcess:
    """A relay node as operators run it (`twistd securechat-relay`), in its own
    process: `listening` fires when it serves; SIGKILL it to kill the node."""
    proc = TwistdProcess()
    reactor.spawnProcess(proc, TWISTD, [
        TWISTD, "-n", "--pidfile=", "securechat-relay", "--db", dsn, "--redis", redis_url,
        "--blob-dir", blob_dir,
        "--listen", f"tcp:{port}:interface=127.0.0.1", "--email-verification", "off",
        "--min-scram-memory", str(testing.TEST_SCRAM_MEMORY),
        "--min-scram-iterations", str(testing.TEST_SCRAM_ITERATIONS)],
        env=os.environ.copy())
    return proc


class ClusterTestCase(ClientTestCase):
    """`nodes` relay nodes (in this process) on one PostgreSQL schema and one Redis
    database: `self.nodes`, `self.urls`; `self.url` (what register/login use) is the
    first node's until a test points it elsewhere."""

    node_count = 2

    @defer.inlineCallbacks
    def start_relay(self) -> Any:
        self.dsn = self.database_for_test()
        self.redis_url = self.redis_for_test()
        self.blob_dir = self.mktemp()  # the nodes' shared blob directory (NFS in production)
        os.makedirs(self.blob_dir)
        self.nodes: list[RelayService] = []
        self.urls: list[str] = []
        for _ in range(self.node_count):
            node, url = yield self.start_node()
            self.nodes.append(node)
            self.urls.append(url)
        self.relay, self.url = self.nodes[0], self.urls[0]

    def database_for_test(self) -> str:
        """This test's PostgreSQL: a fresh schema on the shared server."""
        return postgres_for(self.db_path)

    def redis_for_test(self) -> str:
        """This test's Redis: a database number of the shared server of its own."""
        return fresh_redis_url()

    @defer.inlineCallbacks
    def start_node(self, listen: str = "tcp:0:interface=127.0.0.1") -> Any:
        config = attrs.evolve(testing.for_tests(self.config), blob_dir=self.blob_dir)
        node = RelayService(reactor, [listen], self.dsn, config, redis_url=self.redis_url)
        node.startService()
        self.addCleanup(self._stop, node)
        ports = yield node.ready
        return node, f"ws://127.0.0.1:{ports[0].getHost().port}"

    def run_node(self) -> tuple[TwistdProcess, str]:
        """A node in its own process (killable): (process, url)."""
        port = free_port()
        proc = twistd_node(self.dsn, self.redis_url, port, self.blob_dir)
        self.addCleanup(self._kill, proc)
        return proc, f"ws://127.0.0.1:{port}"

    @staticmethod
    def _kill(proc: TwistdProcess) -> Any:
        if not proc.ended.called:
            proc.transport.signalProcess("KILL")
            return proc.ended
        return None

    @defer.inlineCallbacks
    def friends_on_two_nodes(self) -> Any:
        """(alice, bob): Alice's client on the first node, Bob's on the second, both
        online and friends."""
        self.on(self.urls[0])
        alice = yield self.register("alice", "alice@example.org")
        self.on(self.urls[1])
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(alice, bob)
        yield self.befriend(alice, bob)
        return alice, bob

    def on(self, *urls: str) -> None:
        """Clients registered or signed in from now on use these relay URLs, in order."""
        self.url = ",".join(urls)
