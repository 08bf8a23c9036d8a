"""What encrypting the account database at rest costs: open, read, write, migrate.

Run from the repository root::

    .venv/bin/python -m bench.bench_storage [--messages 100000]

Builds an account database of ``--messages`` messages (in 20 conversations, 200
characters each) with the schema of ``securechat.client.storage``, as plain SQLite
(what versions before encryption wrote), copies it, and times on each copy, plain and
SQLCipher (keyed as the client keys it):

* **migrate**: ``encrypted_sqlite.encrypt_in_place`` of the plaintext file (what the
  first open after the upgrade does);
* **open**: connect, key check, the WAL pragmas and the schema check the client's
  database thread runs at start, then the newest page of 50 of one conversation (a
  new connection each time: its page cache is cold, the OS's is warm);
* **page**: the newest 50 rows of a conversation on an open connection (median);
* **scan**: ``COUNT(*)`` over every message's text (every page decrypted);
* **write**: 1000 messages inserted in one transaction.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from securechat import encrypted_sqlite
from securechat.client.storage import _migrate, database_key

PAGE = ("SELECT id, sid, sender, text, type, timestamp, status, is_read, reply_to FROM messages "
        "WHERE sid=? AND (timestamp < ? OR (timestamp = ? AND id < ?)) "
        "ORDER BY timestamp DESC, id DESC LIMIT 50")


def build(path: str, messages: int) -> None:
    conn = encrypted_sqlite.connect(path, None)
    conn.execute("PRAGMA journal_mode=WAL")
    _migrate(conn)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO messages (id, sid, sender, text, timestamp, status, is_read) "
        "VALUES (?,?,?,?,?,?,?)",
        ((f"{n:032x}", f"sid-{n % 20}", "me" if n % 2 else "other", f"message {n} " + "x" * 188,
          1_700_000_000_000 + n, 3, 1) for n in range(messages)))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def opened(path: str, key: bytes | None) -> Any:
    conn = encrypted_sqlite.connect(path, key)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    _migrate(conn)
    return conn


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(path: str, key: bytes | None) -> dict[str, float]:
    def open_and_page() -> None:
        conn = opened(path, key)
        conn.execute(PAGE, ("sid-3", 2**63 - 1, 2**63 - 1, "")).fetchall()
        conn.close()

    results = {"open": median_ms(open_and_page, 20)}
    conn = opened(path, key)
    results["page"] = median_ms(
        lambda: conn.execute(PAGE, ("sid-3", 2**63 - 1, 2**63 - 1, "")).fetchall(), 50)
    results["scan"] = median_ms(
        lambda: conn.execute("SELECT COUNT(*) FROM messages WHERE text LIKE '%y%'").fetchone(),
        5)

    def write() -> None:
        base = int(time.time() * 1e6)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (id, sid, sender, text, timestamp) VALUES (?,?,?,?,?)",
            ((f"w{base + n:031x}", "sid-1", "me", "y" * 200, base + n) for n in range(1000)))
        conn.execute("COMMIT")
    results["write"] = median_ms(write, 5)
    conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    key = database_key(os.urandom(32))
    with tempfile.TemporaryDirectory() as tmp:
        plain, encrypted = os.path.join(tmp, "plain.sqlite"), os.path.join(tmp, "enc.sqlite")
        build(plain, args.messages)
        shutil.copy(plain, encrypted)
        size = os.path.getsize(plain)
        started = time.perf_counter()
        encrypted_sqlite.encrypt_in_place(encrypted, key)
        migrate_s = time.perf_counter() - started
        print(f"{args.messages} messages, {size / 2**20:.1f} MiB plaintext, "
              f"{os.path.getsize(encrypted) / 2**20:.1f} MiB encrypted")
        print(f"migrate (encrypt in place): {migrate_s * 1000:.0f} ms")
        rows = {"plain SQLite": measure(plain, None), "SQLCipher": measure(encrypted, key)}
        print(f"{'':14}{'open+page':>12}{'page':>10}{'scan':>10}{'write 1000':>12}  (ms, median)")
        for name, r in rows.items():
            print(f"{name:14}{r['open']:12.2f}{r['page']:10.3f}{r['scan']:10.1f}"
                  f"{r['write']:12.1f}")


if __name__ == "__main__":
    main()
