"""History for a new device (client.manifest): how long until the newest messages are on
the new device, and until all of them are stored, and whether either side's loop stalls.

Run from the repository root::

    .venv/bin/python -m bench.bench_history [--messages 100000]

A real relay on loopback and two real devices of one account, in this process (one
reactor: a stall on either side counts): the laptop holds ``--messages`` messages with
a contact; the phone signs in, asks for the history and receives it in MANIFEST pages,
newest first. Measured from the phone's start:

* **newest page**: the newest 50 messages of the conversation readable on the phone
  (what a chat window shows first);
* **all stored**: the last page (``HistoryProgress.done``) merged;
* **worst stall**: the longest the reactor was late for a 10 ms timer during the
  transfer;
* **peak RSS** of the process (both devices and the relay).

Reference for the stall: the same timer on the idle reactor for a few seconds just
before (a loaded machine delays it too; the run says when its figures are not
conclusive).

Reference, in the same run: inserting the same rows into an SQLCipher database
directly (the client's schema and key derivation, one transaction): the floor for
storing them at all. Targets (issue 13): newest page <= 2 s, all <= 30 s, no stall
over 50 ms. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from typing import Any

from twisted.internet import defer, task

from bench.common import BenchFailed
from securechat import encrypted_sqlite, testing
from securechat.client import KdfCost, SecureChatClient, events
from securechat.client.storage import _migrate, database_key

FAST = KdfCost(memory_kib=8192, iterations=1)
PASSWORD = "bench-password-1"
IDLE_WINDOW = 3.0  # seconds the reference stall is measured with an idle reactor
TARGETS = {"newest page": 2.0, "all stored": 30.0, "worst stall": 0.050}
COLUMNS = "id, sid, sender, text, type, timestamp, status, is_read, changed"


def rows(sid: str, count: int) -> list[tuple[Any, ...]]:
    """Messages as if they had been exchanged long ago (changed = -1: only a history
    carries them), about 120 characters each."""
    base = 1_700_000_000_000
    return [(f"{base + n:012x}{n:020x}", sid, "me" if n % 2 else "other",
             f"message {n}: " + "lorem ipsum dolor sit amet " * 4, "text", base + n, 3, 1, -1)
            for n in range(count)]


def reference_insert(directory: str, messages: list[tuple[Any, ...]]) -> float:
    """Seconds to store the rows in a fresh SQLCipher database directly."""
    conn = encrypted_sqlite.connect(os.path.join(directory, "reference.sqlite"),
                                    database_key(os.urandom(32)))
    conn.execute("PRAGMA journal_mode=WAL")
    _migrate(conn)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO messages ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                     messages)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


class StallWatch:
    """The reactor's worst lateness for a 10 ms timer."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self.worst = 0.0
        self._last = 0.0
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = reactor

    def start(self) -> None:
        self._last = time.perf_counter()
        self._loop.start(0.010, now=False)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last - 0.010)
        self._last = now

    def stop(self) -> None:
        self._loop.stop()


@defer.inlineCallbacks
def run(reactor: Any, count: int) -> Any:
    directory = tempfile.mkdtemp(prefix="bench-history-")
    relay, url = yield testing.start_relay(reactor, os.path.join(directory, "relay.sqlite"))
    clients: list[SecureChatClient] = []
    try:
        laptop, phrase = yield SecureChatClient.register(
            reactor, os.path.join(directory, "laptop"), url, "alice@example.org", PASSWORD,
            "Alice", FAST)
        bob, _ = yield SecureChatClient.register(
            reactor, os.path.join(directory, "bob"), url, "bob@example.org", PASSWORD,
            "Bob", FAST)
        clients += [laptop, bob]
        for client in (laptop, bob):
            client.start()
            yield client.caught_up()
        asked = bob.events.next(events.FriendRequestReceived)
        yield laptop.add_friend("bob@example.org")
        yield asked
        answered = laptop.events.next(events.FriendRequestAnswered)
        yield bob.accept_friend(laptop.me.user_id)
        yield answered
        sid = laptop.contacts[bob.me.user_id].sid
        messages = rows(sid, count)
        reference = reference_insert(directory, messages)
        yield laptop.store.run(lambda c: c.executemany(
            f"INSERT INTO messages ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            messages))

        phone = yield SecureChatClient.login(
            reactor, os.path.join(directory, "phone"), url, "alice@example.org", PASSWORD,
            FAST, floor=FAST, recovery_phrase=phrase)
        clients.append(phone)
        newest_ids = [m[0] for m in messages[-50:]]
        first_page: defer.Deferred[None] = defer.Deferred()

        @defer.inlineCallbacks
        def progress(event: events.HistoryProgress) -> Any:
            if first_page.called or event.received < 50 or bob.me.user_id not in phone.contacts:
                return
            page = yield phone.messages(bob.me.user_id, limit=50)
            if not first_page.called and [m.id for m in page] == newest_ids:
                first_page.callback(None)

        phone.events.subscribe(progress, events.HistoryProgress)
        done = phone.events.next(events.HistoryProgress, lambda e: e.done)
        idle = StallWatch(reactor)  # the same timer with nothing else to do: this machine
        idle.start()
        yield task.deferLater(reactor, IDLE_WINDOW, lambda: None)
        idle.stop()
        watch = StallWatch(reactor)
        watch.start()
        started = time.perf_counter()
        phone.start()
        yield first_page
        newest = time.perf_counter() - started
        final = yield done
        stored = time.perf_counter() - started
        watch.stop()
        have = yield phone.store.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM messages WHERE sid=?", (sid,)).fetchone()[0])
        if have < count:
            raise RuntimeError(f"only {have} of {count} messages arrived")
        figures = {"newest page": newest, "all stored": stored, "worst stall": watch.worst}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"history of {count} messages to a new device ({final.total} sent)")
        print(f"  reference: SQLCipher insert of the same rows   {reference:8.3f} s")
        for name, value in figures.items():
            unit, shown = ("ms", value * 1000) if name == "worst stall" else ("s", value)
            ok = "ok" if value <= TARGETS[name] else "MISSED"
            target = TARGETS[name] * (1000 if unit == "ms" else 1)
            print(f"  {name:<12} {shown:10.3f} {unit:<2} (target <= {target:g} {unit}: {ok})")
        print(f"  worst stall of an idle reactor, same run: {idle.worst * 1000:.1f} ms"
              + ("  (this machine is busy: stall figures are not conclusive)"
                 if idle.worst > TARGETS["worst stall"] else ""))
        print(f"  all stored / reference insert: {stored / reference:.1f}x")
        print(f"  peak RSS (relay and three devices): {rss:.0f} MiB")
        return all(v <= TARGETS[k] for k, v in figures.items())
    finally:
        for client in clients:
            yield client.stop()
        yield relay.stopService()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()

    @defer.inlineCallbacks
    def go(reactor: Any) -> Any:
        if not (yield run(reactor, args.messages)):
            raise BenchFailed("a target was missed")

    task.react(go)


if __name__ == "__main__":
    main()
