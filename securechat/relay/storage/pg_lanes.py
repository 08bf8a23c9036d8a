"""Running PostgreSQL operations off the reactor: lanes, each one thread and one
connection, operations group-committed (as `securechat.sqlite.SerialDatabase` does).

A device's operations (what it sends, fetches and acks) always take the same lane, so
they run in the order they were asked for, as on SQLite's one thread: a burst is
stored, and pushed live, in order. Operations of no device spread over the lanes.

Operations queue up while a lane's batch runs; the next batch runs them all in one
transaction, each inside a savepoint so one refused does not undo its neighbours. A
burst then costs one commit (one fsync) instead of one each. A connection that fails
is dropped and made again by the next batch (StorageUnavailable for the operations that
were in it: nothing of them was committed, unless the COMMIT itself was cut off); a
deadlock or serialization failure (rare: rows are locked in one order) retries the
operation.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from twisted.internet import defer, threads
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from securechat.relay.storage.interface import StorageUnavailable

T = TypeVar("T")
CONNECT_TIMEOUT = 5  # seconds: a dead database answers an operation within this
RETRIES = 3  # attempts for an operation that lost a deadlock or a serialization race
_Op = tuple[Callable[..., Any], tuple[Any, ...], "defer.Deferred[Any]"]
_RACES = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class _Lane:
    def __init__(self, index: int) -> None:
        self.pool = ThreadPool(minthreads=1, maxthreads=1, name=f"relay-postgres-{index}")
        self.conn: Any = None  # used on the lane's thread only
        self.queue: list[_Op] = []
        self.running = False


class Lanes:
    def __init__(self, dsn: str, reactor: Any, count: int) -> None:
        self._dsn = dsn
        self._reactor = reactor
        self._lanes = [_Lane(i) for i in range(count)]
        self._next = 0

    @property
    def started(self) -> bool:
        return self._lanes[0].pool.started

    def start(self) -> None:
        for lane in self._lanes:
            lane.pool.start()

    @defer.inlineCallbacks
    def stop(self) -> Any:
        # A barrier on every busy lane, then the threads end and their connections close.
        yield defer.gatherResults([self.run(lambda conn: None, lane=i)
                                   for i, lane in enumerate(self._lanes)
                                   if lane.running or lane.queue], consumeErrors=True
                                  ).addErrback(lambda _: None)
        for lane in self._lanes:
            lane.pool.stop()
            if lane.conn is not None:
                lane.conn.close()
                lane.conn = None

    def in_thread(self, fn: Callable[[], T]) -> defer.Deferred[T]:
        """`fn()` on the first lane's thread, outside any batch (migrations)."""
        return threads.deferToThreadPool(self._reactor, self._lanes[0].pool, fn)

    def run(self, fn: Callable[..., T], *args: Any, device: str | None = None,
            lane: int | None = None) -> defer.Deferred[T]:
        """`fn(conn, *args)` in a transaction on the device's lane (any, if None)."""
        if lane is None:
            if device is None:
                lane = self._next = (self._next + 1) % len(self._lanes)
            else:
                lane = zlib.crc32(device.encode()) % len(self._lanes)
        d: defer.Deferred[T] = defer.Deferred()
        chosen = self._lanes[lane]
        chosen.queue.append((fn, args, d))
        if not chosen.running:
            self._next_batch(chosen)
        return d

    def _next_batch(self, lane: _Lane) -> None:
        batch, lane.queue = lane.queue, []
        if not batch:
            lane.running = False
            return
        lane.running = True
        lane.pool.callInThreadWithCallback(
            lambda ok, results: self._reactor.callFromThread(self._done, lane, batch, ok,
                                                             results),
            self._execute, lane, batch)

    def _done(self, lane: _Lane, batch: list[_Op], ok: bool, results: Any) -> None:
        if not ok:  # _execute itself failed: every operation of the batch did
            results = [(False, results)] * len(batch)
        for (_, _, d), (succeeded, value) in zip(batch, results, strict=True):
            if succeeded:
                d.callback(value)
            else:
                d.errback(Failure(value) if isinstance(value, BaseException) else value)
        self._next_batch(lane)

    def _execute(self, lane: _Lane, batch: list[_Op]) -> list[tuple[bool, Any]]:
        """On the lane's thread: the whole batch in one transaction. An operation alone
        needs no savepoint: its refusal raises, and the caller's errback gets it."""
        alone = len(batch) == 1
        for attempt in range(RETRIES):
            reused, began = lane.conn is not None, False
            try:
                if lane.conn is None or lane.conn.closed:
                    lane.conn = psycopg.connect(self._dsn, autocommit=True,
                                                connect_timeout=CONNECT_TIMEOUT)
                with lane.conn.transaction():
                    began = True
                    if alone:
                        fn, args, _ = batch[0]
                        return [(True, fn(lane.conn, *args))]
                    return [self._one(lane.conn, fn, args) for fn, args, _ in batch]
            except psycopg.OperationalError as e:
                # The server went away (restart, failover, network). A connection kept
                # from before that fails at BEGIN has run nothing: try a new one once.
                conn, lane.conn = lane.conn, None
                if conn is not None:
                    conn.close()
                if reused and not began and attempt == 0:
                    continue
                unavailable = StorageUnavailable(
                    f"the relay's database is unavailable ({type(e).__name__})")
                return [(False, unavailable)] * len(batch)
            except _RACES:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _one(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        for attempt in range(RETRIES):
            try:
                with conn.transaction():  # a savepoint: a refusal undoes this one only
                    return True, fn(conn, *args)
            except psycopg.OperationalError:
                raise  # the connection is gone: the whole batch failed
            except _RACES as e:
                if attempt == RETRIES - 1:
                    return False, e
            except Exception as e:
                return False, e
        raise AssertionError("unreachable")
