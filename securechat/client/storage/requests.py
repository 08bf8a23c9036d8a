"""Friend requests and blocks in the account database: the operations, each run on the
database thread (see securechat.client.storage)."""

from __future__ import annotations

import sqlite3

import securechat.client.retention as retention
from securechat.client.model import Request

_REQUEST_COLUMNS = "user_id, email, name, direction, action, timestamp, key_changed"


def set_request(c: sqlite3.Connection, r: Request) -> None:
    """Record a request; denying one drops what is held from its sender."""
    c.execute(f"INSERT OR REPLACE INTO pending_requests ({_REQUEST_COLUMNS}) "  # noqa: S608
              "VALUES (?,?,?,?,?,?,?)",
              (r.user_id, r.email, r.name, r.direction, r.action, r.timestamp,
               int(r.key_changed)))
    if r.direction == "in" and r.action == "denied":
        retention.forget(c, r.user_id)


def requests(c: sqlite3.Connection) -> list[Request]:
    return [Request(*r[:-1], key_changed=bool(r[-1])) for r in c.execute(
        f"SELECT {_REQUEST_COLUMNS} FROM pending_requests "  # noqa: S608
        "ORDER BY timestamp")]


def mark_request_key_changed(c: sqlite3.Connection, user_id: str) -> Request | None:
    """The user's account key changed while a request with them is pending: say so on
    the request. Returns the request if it was not marked yet."""
    row = c.execute(f"SELECT {_REQUEST_COLUMNS} FROM pending_requests "  # noqa: S608
                    "WHERE user_id=? AND action='pending' AND key_changed=0",
                    (user_id,)).fetchone()
    if row is None:
        return None
    c.execute("UPDATE pending_requests SET key_changed=1 WHERE user_id=?", (user_id,))
    return Request(*row[:-1], key_changed=True)


def set_blocked(c: sqlite3.Connection, user_id: str, email: str, blocked: bool,
                now: int) -> None:
    """Block or unblock; blocking drops what is held from the user."""
    c.execute("INSERT OR REPLACE INTO blocked_users VALUES (?,?,?,?)",
              (user_id, email, "block" if blocked else "unblock", now))
    if blocked:
        retention.forget(c, user_id)


def blocked(c: sqlite3.Connection) -> set[str]:
    return {r[0] for r in c.execute("SELECT user_id FROM blocked_users WHERE action='block'")}
