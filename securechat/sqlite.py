"""SQLite off the reactor: one thread per database, operations group-committed.

Operations queue up while a batch runs; the next batch runs them all in one
transaction, each inside a SAVEPOINT so one failing does not undo its
neighbours. Under load a thousand writes cost one commit; a lone operation
runs at once. Used by the relay's storage and by each account's client store,
whose database is encrypted (SQLCipher, see `securechat.encrypted_sqlite`).

Both keep their schema as numbered migrations (`migrate`): step N takes
`PRAGMA user_version` from N-1 to N. To change a schema, append a step; never edit
one that has shipped.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from twisted.internet import defer, task, threads
from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from securechat import encrypted_sqlite

T = TypeVar("T")
CHECKPOINT_INTERVAL = 5.0  # seconds between passive WAL checkpoints
_Op = tuple[Callable[..., Any], tuple[Any, ...], "defer.Deferred[Any]"]
# One migration: SQL text, or a function of the connection (data to rewrite, say).
Step = str | Callable[[Any], None]


class DatabaseClosed(Exception):
    """An operation reached a database that is not open."""


class DatabaseTooNew(Exception):
    """The database's schema is newer than this code knows: a newer version wrote it.
    Nothing was changed; opening it anyway could lose what that version stored."""

    def __init__(self, name: str, found: int, known: int) -> None:
        super().__init__(f"{name} has schema version {found}, newer than the {known} this "
                         "version knows: it was written by a newer version")
        self.found = found
        self.known = known


def migrate(conn: Any, steps: Sequence[Step]) -> int:
    """Bring the database to schema version `len(steps)`; returns it.

    Step N (from 1) takes `PRAGMA user_version` from N-1 to N, in its own transaction
    with the version it sets: a step that fails leaves the database at the version
    before it (the next open tries again). SQL text runs statement by statement inside
    that transaction. A Python step gets the connection and must leave the transaction
    open: `execute`, or `execute_script` for several statements, not the connection's
    `executescript` (which commits first). A database already at the last version is
    left as it is; one past it raises DatabaseTooNew, untouched. `conn` is in
    autocommit mode (isolation_level None), as `encrypted_sqlite.connect` makes it."""
    while True:
        conn.execute("BEGIN IMMEDIATE")  # the version read and the step: one writer
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > len(steps):
                raise DatabaseTooNew(_file_name(conn), version, len(steps))
            if version == len(steps):
                conn.execute("ROLLBACK")
                return version
            step = steps[version]
            if isinstance(step, str):
                execute_script(conn, step)
            else:
                step(conn)
            if not conn.in_transaction:
                raise RuntimeError(f"migration {version + 1} ended its transaction itself "
                                   "(executescript commits): use execute_script")
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def execute_script(conn: Any, script: str) -> None:
    """Run the SQL statements of `script` one by one, inside the caller's transaction
    (unlike `executescript`, which commits first)."""
    for statement in _statements(script):
        conn.execute(statement)


def _statements(script: str) -> Iterator[str]:
    # SQLite's own test for a complete statement (semicolons in strings, comments and
    # trigger bodies do not end one).
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                yield statement
            statement = ""
    if statement.strip(" \t\n;"):
        yield statement  # a trailing comment; or an unfinished statement, which then fails


def _file_name(conn: Any) -> str:
    for _, name, path in conn.execute("PRAGMA database_list"):
        if name == "main":
            return os.path.basename(path) if path else "the in-memory database"
    return "the database"


class SerialDatabase:
    log = Logger()

    def __init__(self, path: str, reactor: Any, schema: Callable[[sqlite3.Connection], None],
                 expected_errors: tuple[type[Exception], ...] = (), name: str = "sqlite",
                 key: bytes | None = None) -> None:
        """`schema(conn)` creates or migrates the tables when the file opens.

        Exceptions of `expected_errors` are refusals the callers handle; any other
        failure of an operation is also logged. With a 32-byte `key` the file is
        SQLCipher (a plaintext file is encrypted in place when it opens); `start()`
        fails with `encrypted_sqlite.WrongDatabaseKey` if the key does not open it.
        """
        self._path = path
        self._key = key
        self._reactor: IReactorThreads & IReactorFromThreads = reactor
        self._schema = schema
        self._expected = expected_errors
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name=name)
        self._conn: sqlite3.Connection | None = None
        self._queue: list[_Op] = []
        self._running = False
        # Checkpoints happen on a second connection and thread, rather than inside
        # whichever commit crosses SQLite's default 1000-page threshold: copying the
        # WAL back (and its fsync) can take a while on a large database, and WAL lets
        # reads and writes go on meanwhile.
        self._checkpoint_pool = ThreadPool(minthreads=1, maxthreads=1, name=f"{name}-checkpoint")
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpointing: defer.Deferred[None] | None = None
        self._checkpoints = task.LoopingCall(self._checkpoint)
        self._checkpoints.clock = reactor

    def start(self) -> defer.Deferred[None]:
        # The pool runs jobs in order on its one thread, so every operation
        # queued from now on finds the connection open.
        self._pool.start()
        self._checkpoints.start(CHECKPOINT_INTERVAL, now=False)

        def failed(failure: Failure) -> Failure:
            if self._checkpoints.running:  # nothing opened: no threads left behind
                self._checkpoints.stop()
            self._pool.stop()
            return failure
        return threads.deferToThreadPool(self._reactor, self._pool, self._open).addErrback(
            failed)

    @defer.inlineCallbacks
    def stop(self) -> Any:
        if self._checkpoints.running:
            self._checkpoints.stop()
        if not self._pool.started:
            return  # never opened (start() failed, and stopped it)
        if self._checkpointing is not None:
            yield self._checkpointing
        if self._checkpoint_pool.started:
            yield threads.deferToThreadPool(self._reactor, self._checkpoint_pool,
                                            self._close_checkpointer)
            self._checkpoint_pool.stop()
        yield self.run(lambda conn: None)  # a barrier: everything queued before is done
        yield threads.deferToThreadPool(self._reactor, self._pool, self._close)
        self._pool.stop()

    def run(self, fn: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """Run `fn(conn, *args)` on the database thread inside a transaction."""
        d: defer.Deferred[T] = defer.Deferred()
        self._queue.append((fn, args, d))
        if not self._running:
            self._next_batch()
        return d

    # --- internals -----------------------------------------------------------------

    def _open(self) -> None:
        if encrypted_sqlite.prepare(self._path, self._key):
            self.log.info("encrypted the plaintext database {name}",
                          name=os.path.basename(self._path))
        conn = encrypted_sqlite.connect(self._path, self._key)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=20000")  # a safety net; see _checkpoint
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            self._schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _checkpoint(self) -> None:
        if self._checkpointing is not None or self._conn is None:
            return  # one at a time; not before the database is open
        if not self._checkpoint_pool.started:
            self._checkpoint_pool.start()

        def done(result: Any) -> None:
            self._checkpointing = None
            if isinstance(result, Failure):
                self.log.failure("a WAL checkpoint failed", result)
        self._checkpointing = threads.deferToThreadPool(
            self._reactor, self._checkpoint_pool, self._checkpoint_now)
        self._checkpointing.addBoth(done)

    def _checkpoint_now(self) -> None:
        """On the checkpoint thread, with its own connection (PASSIVE: never waits on,
        nor blocks, the database thread's readers and writers)."""
        if self._checkpoint_conn is None:
            self._checkpoint_conn = encrypted_sqlite.connect(self._path, self._key)
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_checkpointer(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None

    def _next_batch(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            self._running = True
            self._pool.callInThreadWithCallback(
                lambda ok, results: self._reactor.callFromThread(self._batch_done, batch, results),
                self._execute,
                batch,
            )

    def _execute(self, batch: list[_Op]) -> list[tuple[bool, Any]]:
        """Runs on the database thread: the whole batch in one transaction."""
        conn = self._conn
        if conn is None:
            return [(False, DatabaseClosed(self._path))] * len(batch)
        results = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for fn, args, _ in batch:
                conn.execute("SAVEPOINT op")
                try:
                    ok, value = True, fn(conn, *args)
                except Exception as e:
                    ok, value = False, e
                    conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                results.append((ok, value))
            conn.execute("COMMIT")
        except encrypted_sqlite.ERRORS as e:  # the commit itself failed: nothing was written
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, e)] * len(batch)
        return results

    def _batch_done(self, batch: list[_Op], results: Any) -> None:
        self._running = False
        if isinstance(results, BaseException | Failure):  # the pool itself failed
            results = [(False, results)] * len(batch)
        for (_, _, d), (ok, value) in zip(batch, results, strict=True):
            if ok:
                d.callback(value)
                continue
            if not isinstance(value, self._expected):
                self.log.failure("database operation failed", Failure(value))
            d.errback(value)
        self._next_batch()
