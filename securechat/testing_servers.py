"""Throw-away PostgreSQL and Redis servers for tests and benchmarks.

Debian's `postgresql` and `redis-server`, started in temporary directories on free
loopback ports and stopped by their PIDs. PostgreSQL's `initdb` refuses to run as
root: as root the cluster is made and run by the `postgres` user in a directory it
owns. `shared_postgres()` / `shared_redis()` start one server per process on first use
(a test module's classes then share it; each test gets its own schema or database
number) and stop it when the process exits.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any

import attrs


class ServerMissing(Exception):
    """PostgreSQL or Redis is not installed (scripts/setup installs them)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise ServerMissing(f"{name} not found: install Debian's postgresql (scripts/setup)")
    return path


def _wait_port(port: int, proc: subprocess.Popen[Any] | None, what: str,
               timeout: float = 30.0) -> None:
    """Block until the server accepts TCP connections (startup only, never in a test's
    reactor turn)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # startup polling, not test timing
    raise RuntimeError(f"{what} did not start listening on port {port}")


@attrs.define
class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, trust auth on 127.0.0.1."""

    port: int = attrs.field(factory=free_port)
    fsync: bool = False  # tests: no fsync; benchmarks measure with it on
    directory: str = attrs.field(factory=lambda: tempfile.mkdtemp(prefix="sc-pg-"))
    pid: int | None = None
    _user: str | None = None

    @property
    def data(self) -> str:
        return os.path.join(self.directory, "data")

    def dsn(self, database: str = "postgres", **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return (f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
                + (f"?{query}" if query else ""))

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run(_pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-N", "-E", "UTF8", "--locale=C")
        self._pg_ctl_start()
        _wait_port(self.port, None, "postgres")
        return self

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
                _wait_gone(self.pid)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def kill(self) -> None:
        """Stop the server now (fast shutdown), keeping its files for `restart`."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGINT)
            _wait_gone(self.pid)
            self.pid = None

    def restart(self) -> None:
        """Start it again on the same files and port (after `kill`)."""
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        settings = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                    "-c max_connections=200 -c shared_buffers=64MB")
        if not self.fsync:
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-o", settings, "-l",
                  os.path.join(self.directory, "log"), "-w", "start")
        with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as f:
            self.pid = int(f.readline())

    def execute(self, sql: str) -> None:
        """One statement as the superuser (setup only: blocking)."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def fresh_dsn(self, name: str) -> str:
        """A DSN whose tables live in a new, empty schema `name` of database postgres."""
        self.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.execute(f'CREATE SCHEMA "{name}"')
        return self.dsn(options=f"-csearch_path%3D{name}")


@attrs.define
class RedisServer:
    """redis-server on a loopback port, no persistence (`--save ''`)."""

    port: int = attrs.field(factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    directory: str = attrs.field(factory=lambda: tempfile.mkdtemp(prefix="sc-redis-"))

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise ServerMissing("redis-server not found: install Debian's redis-server "
                                "(scripts/setup)")
        self.proc = subprocess.Popen(  # noqa: S603 - our own arguments
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.directory, "--databases", "1024"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Kill it (everything in memory is lost) and start a new one on the same port."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)  # shutdown polling, not test timing


_shared: dict[str, Any] = {}


def _shared_server(name: str, start: Any, stop: str) -> Any:
    """This process's server `name`, started by `start()` on first use; its method
    `stop` runs at exit."""
    if name not in _shared:
        server = _shared[name] = start()
        atexit.register(getattr(server, stop))
    return _shared[name]


def shared_postgres() -> PostgresServer:
    """This process's PostgreSQL server, started on first use, stopped at exit."""
    server = _shared_server("pg", lambda: PostgresServer().start(), "stop")
    assert isinstance(server, PostgresServer)
    return server


def shared_redis() -> RedisServer:
    """This process's Redis server, started on first use, stopped at exit."""
    server = _shared_server("redis", lambda: RedisServer().start(), "close")
    assert isinstance(server, RedisServer)
    return server


_schemas: dict[str, str] = {}


def postgres_for(path: str) -> str:
    """A DSN on the shared server standing for the SQLite file `path`: a new schema the
    first time, the same one again after (a relay restarted on the same "file")."""
    if path not in _schemas:
        name = "t" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
        _schemas[path] = shared_postgres().fresh_dsn(name)
    return _schemas[path]


def test_database(path: str) -> str:
    """What a test relay opens for its file `path`: the file itself, or, when
    SECURECHAT_TEST_DB=postgresql (the relay suite run against PostgreSQL), a schema of
    the shared PostgreSQL server."""
    if os.environ.get("SECURECHAT_TEST_DB") == "postgresql" and path != ":memory:":
        return postgres_for(path)
    return path
