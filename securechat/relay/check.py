"""`securechat-relay-check`: can a relay node reach its database, Redis, blob directory?

    securechat-relay-check --db postgresql://securechat@db.internal/securechat \
        --redis redis://redis.internal:6379/0 --blob-dir /srv/securechat/blobs

Prints one line per service and one for the blob directory (which a cluster's nodes
share: it must exist and take a file), and exits 0 only if every one answers: what a
deployment runs before starting (or restarting) a node, and what monitoring may run
any time. It changes nothing (a probe file in the blob directory is removed at once):
the schema is read, not migrated (a node migrates when it starts).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from twisted.internet import defer, task, threads

from securechat.relay.blobstore import default_directory
from securechat.relay.storage.pg_schema import PG_MIGRATIONS
from securechat.relay.storage.schema import MIGRATIONS

TIMEOUT = 5  # seconds each service has to answer


def _check_postgres(dsn: str) -> str:
    import psycopg

    from securechat.relay.storage.pg_storage import redact

    try:
        with psycopg.connect(dsn, connect_timeout=TIMEOUT, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            found = conn.execute("SELECT to_regclass('schema_version')").fetchone()[0]
            schema = conn.execute("SELECT version FROM schema_version").fetchone()[0] \
                if found else 0
    except psycopg.Error as e:
        raise RuntimeError(f"{redact(dsn)}: {str(e).strip() or type(e).__name__}") from None
    known = len(PG_MIGRATIONS)
    if schema > known:
        raise RuntimeError(f"schema version {schema} is newer than the {known} this relay "
                           "knows: upgrade the relay")
    pending = "" if schema == known else f" ({known - schema} migration(s) to run at start)"
    return f"PostgreSQL {version} at {redact(dsn)}, schema {schema}/{known}{pending}"


def _check_sqlite(path: str) -> str:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT)
        (schema,) = conn.execute("PRAGMA user_version").fetchone()
        conn.close()
    except sqlite3.Error as e:
        raise RuntimeError(f"{path}: {e} (a new relay creates it at start)") from None
    return f"SQLite {path}, schema {schema}/{len(MIGRATIONS)}"


@defer.inlineCallbacks
def _check_redis(reactor: Any, url: str) -> Any:
    import txredisapi

    from securechat.relay.cluster import parse_redis_url

    host, port, db = parse_redis_url(url)
    try:
        conn = yield txredisapi.Connection(host, port, dbid=db, reconnect=False,
                                           connectTimeout=TIMEOUT, replyTimeout=TIMEOUT)
    except Exception as e:
        raise RuntimeError(f"{url}: {e}") from None
    try:
        info = yield conn.info("server")
        yield conn.publish(f"sc:{db}:check", b"")  # pub/sub is what the nodes need
    finally:
        yield conn.disconnect()
    version = info.get("redis_version", "?") if isinstance(info, dict) else "?"
    return f"Redis {version} at {url}"


def _check_blob_dir(directory: str | None, db: str, postgres: bool) -> str:
    """The blob directory exists and takes a file (written, synced, read back and
    removed). A SQLite relay's default one is made at the first upload; a cluster's
    must be there (a shared mount that is missing must not become a local folder)."""
    if directory is None:
        if postgres:
            raise RuntimeError("a relay on PostgreSQL needs --blob-dir (a directory every "
                               "node shares): give the one the nodes are started with")
        directory = default_directory(db)
        if not os.path.exists(directory):
            return f"{directory} (made beside the database at the first upload)"
    if not os.path.isdir(directory):
        raise RuntimeError(f"{directory} is not a directory: create it (on storage every "
                           "node of a cluster shares) or mount it")
    probe = os.path.join(directory, f".relay-check-{os.getpid()}-{os.urandom(4).hex()}")
    data = os.urandom(64)
    try:
        fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.pwrite(fd, data, 0)
            os.fsync(fd)
            back = os.pread(fd, len(data), 0)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise RuntimeError(f"{directory} is not writable by this user: "
                           f"{e.strerror or type(e).__name__}") from None
    if back != data:
        raise RuntimeError(f"{directory} did not give back what was written to it")
    free = shutil.disk_usage(directory).free
    return f"{directory}, writable, {free / (1 << 30):.1f} GiB free"


@defer.inlineCallbacks
def check(reactor: Any, db: str, redis: str | None, blob_dir: str | None = None) -> Any:
    """[(service, ok, what it said)] for the database, Redis (if given) and the blob
    directory."""
    results = []
    postgres = db.startswith(("postgresql://", "postgres://"))
    checks: list[tuple[str, Any]] = [
        ("database", threads.deferToThread(_check_postgres if postgres else _check_sqlite,
                                           db))]
    if redis is not None:
        checks.append(("redis", _check_redis(reactor, redis)))
    checks.append(("blobs", threads.deferToThread(_check_blob_dir, blob_dir, db, postgres)))
    for name, d in checks:
        try:
            results.append((name, True, (yield d)))
        except Exception as e:
            results.append((name, False, str(e)))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="securechat-relay-check", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("--db", required=True,
                        help="what the node's --db is: a PostgreSQL URL or a SQLite file")
    parser.add_argument("--redis", help="what the node's --redis is: redis://host:port/db")
    parser.add_argument("--blob-dir", help="what the node's --blob-dir is (required with a "
                        "PostgreSQL --db)")
    args = parser.parse_args(argv)

    @defer.inlineCallbacks
    def run(reactor: Any) -> Any:
        results = yield check(reactor, args.db, args.redis, args.blob_dir)
        for name, ok, what in results:
            print(f"{name}: {'ok' if ok else 'FAILED'}: {what}")
        if not all(ok for _, ok, _ in results):
            raise SystemExit(1)

    task.react(run)


if __name__ == "__main__":
    main(sys.argv[1:])
