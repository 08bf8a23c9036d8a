"""Clients of the real core against the real relay, and waiting on their events."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, reactor

from securechat import testing
from securechat.client import events as ev
from securechat.client.core import SecureChatClient
from securechat.client.model import KdfCost
from tests.support import RelayTestCase

FAST = KdfCost(memory_kib=8192, iterations=1)  # the relay's minimum: fast tests


class EventLog:
    """Records a client's events; `wait_for` fires on the first match, past or future."""

    def __init__(self, client: SecureChatClient) -> None:
        self.events: list[Any] = []
        self._waiters: list[tuple[type, Callable[[Any], bool], defer.Deferred[Any]]] = []
        client.events.subscribe(self._record)

    def _record(self, event: Any) -> None:
        self.events.append(event)
        for waiter in list(self._waiters):
            kind, match, d = waiter
            if isinstance(event, kind) and match(event):
                self._waiters.remove(waiter)
                d.callback(event)

    def wait_for(self, kind: type, match: Callable[[Any], bool] = lambda e: True,
                 since: int = 0) -> defer.Deferred[Any]:
        for event in self.events[since:]:
            if isinstance(event, kind) and match(event):
                return defer.succeed(event)
        d: defer.Deferred[Any] = defer.Deferred()
        self._waiters.append((kind, match, d))
        return d

    def mark(self) -> int:
        """A position: `wait_for(..., since=mark)` ignores what came before."""
        return len(self.events)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class ClientTestCase(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.data = os.path.abspath(self.mktemp())
        self.clients: list[SecureChatClient] = []
        self.logs: dict[int, EventLog] = {}
        self.phrases: dict[str, str] = {}  # email -> recovery phrase, shown at registration

    @defer.inlineCallbacks
    def tearDown(self) -> Any:
        for client in self.clients:
            yield client.stop()
        yield super().tearDown()

    def _track(self, client: SecureChatClient) -> SecureChatClient:
        self.clients.append(client)
        self.logs[id(client)] = EventLog(client)
        return client

    def log(self, client: SecureChatClient) -> EventLog:
        return self.logs[id(client)]

    def device_dir(self, name: str) -> str:
        return os.path.join(self.data, name)

    @defer.inlineCallbacks
    def register(self, name: str, email: str, password: str = "pw-" + "x" * 10,
                 cost: KdfCost = FAST) -> Any:
        client, phrase = yield SecureChatClient.register(
            reactor, self.device_dir(name), self.url, email, password, name, cost)
        self.phrases[email] = phrase
        return self._track(client)

    @defer.inlineCallbacks
    def login(self, name: str, email: str, password: str = "pw-" + "x" * 10) -> Any:
        """Sign in as a new device, accepting the test cost (the default floor would
        refuse it: client.scram_pinning)."""
        client = yield SecureChatClient.login(reactor, self.device_dir(name), self.url, email,
                                              password, FAST, floor=FAST,
                                              recovery_phrase=self.phrases[email])
        return self._track(client)

    @defer.inlineCallbacks
    def reopen(self, client: SecureChatClient, name: str,
               password: str = "pw-" + "x" * 10) -> Any:
        """Stop a client and open its account again from disk, as after a restart."""
        yield client.stop()
        self.clients.remove(client)
        again = yield SecureChatClient.open(reactor, self.device_dir(name), self.url,
                                            client.me.email, password)
        return self._track(again)

    @defer.inlineCallbacks
    def online(self, *clients: SecureChatClient) -> Any:
        for client in clients:
            mark = self.log(client).mark()
            client.start()
            yield self.log(client).wait_for(ev.CaughtUp, since=mark)

    @defer.inlineCallbacks
    def alice_and_bob(self, alice: str = "alice", phone: str | None = None,
                      friends: bool = True) -> Any:
        """Alice (with a second device named `phone`, if given) and Bob, online, and
        friends unless told not to: `self.alice`, `self.phone`, `self.bob`."""
        self.alice = yield self.register(alice, "alice@example.org")
        self.phone = (yield self.login(phone, "alice@example.org")) if phone else None
        self.bob = yield self.register("bob", "bob@example.org")
        yield self.online(*(c for c in (self.alice, self.phone, self.bob) if c is not None))
        if friends:
            yield self.befriend(self.alice, self.bob, *([self.phone] if self.phone else []))

    @defer.inlineCallbacks
    def befriend(self, a: SecureChatClient, b: SecureChatClient,
                 *others_of_a: SecureChatClient) -> Any:
        """a asks, b accepts; waits until a and a's other devices know b as a contact."""
        marks = {id(c): self.log(c).mark() for c in (a, b, *others_of_a)}
        yield a.add_friend(b.me.email)
        yield self.log(b).wait_for(ev.FriendRequestReceived, since=marks[id(b)])
        yield b.accept_friend(a.me.user_id)
        yield self.log(a).wait_for(ev.FriendRequestAnswered, since=marks[id(a)])
        for other in others_of_a:
            yield self.wait_until(other, lambda o=other: b.me.user_id in o.contacts)

    @defer.inlineCallbacks
    def restart_relay_with(self, change: Callable[[sqlite3.Connection], Any]) -> Any:
        """Restart the relay on the same port after `change(db)` edits its database (a
        relay that lies, say); waits until every client is back online."""
        yield self.relay.stopService()
        db = sqlite3.connect(self.db_path)
        change(db)
        db.commit()
        db.close()
        yield self.start_relay_again()

    @defer.inlineCallbacks
    def relay_loses_mail(self, waiting: SecureChatClient, *device_ids: str) -> Any:
        """The relay loses the mailboxes of these devices (none named: all), as if they
        expired: it stops, they go, it starts again; waits until `waiting` caught up."""
        yield self.relay.stopService()
        db = sqlite3.connect(self.db_path)
        if device_ids:
            db.executemany("DELETE FROM mailbox WHERE device_id=?", [(d,) for d in device_ids])
        else:
            db.execute("DELETE FROM mailbox")
        db.commit()
        db.close()
        mark = self.log(waiting).mark()
        yield self.start_relay_again(wait_online=False)
        yield self.log(waiting).wait_for(ev.CaughtUp, since=mark)

    @defer.inlineCallbacks
    def start_relay_again(self, wait_online: bool = True) -> Any:
        """Start the (stopped) relay on its old port and database."""
        port = int(self.url.rsplit(":", 1)[1])
        self.relay, _ = yield testing.start_relay(reactor, self.db_path, self.config,
                                                  listen=f"tcp:{port}:interface=127.0.0.1")
        self.addCleanup(self._stop, self.relay)
        for client in self.clients if wait_online else ():
            if not client.online:
                yield self.log(client).wait_for(ev.ConnectionStateChanged,
                                                lambda e: e.state == "online",
                                                since=self.log(client).mark())

    @defer.inlineCallbacks
    def wait_until(self, client: SecureChatClient, condition: Callable[[], bool]) -> Any:
        """Wait for a condition that changes when the client handles an event."""
        while not condition():
            d: defer.Deferred[None] = defer.Deferred()

            def any_event(_: Any, d: defer.Deferred[None] = d) -> None:
                if not d.called:
                    d.callback(None)

            client.events.subscribe(any_event)
            try:
                if not condition():
                    yield d
            finally:
                client.events.unsubscribe(any_event)


class LaptopPhoneAndBobCase(ClientTestCase):
    """Alice has a laptop (`laptop`, also `alice`) and a phone (`phone`); Bob has one
    device; they are friends."""

    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob("alice-laptop", phone="alice-phone")
        self.laptop = self.alice
