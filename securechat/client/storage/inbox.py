"""The receive path in the account database: one transaction per envelope, and the ids
of the envelopes handled (see securechat.client.storage)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from securechat.client.model import StoredMessage
from securechat.client.olm import SessionRow
from securechat.client.storage.messages import insert_message


def receive(c: sqlite3.Connection, envelope_id: str, now: int,
            session_pickle: SessionRow | None, account_pickle: str | None,
            message: StoredMessage | None,
            effect: Callable[[sqlite3.Connection], Any] | None) -> bool:
    """Record an envelope as handled, with the Olm state it advanced, the message it
    carried and what else it changes here (`effect`: a receipt's ticks, say),
    atomically. Returns False if it was already handled (a replay), or its message is
    already stored (a copy sent again)."""
    if c.execute("INSERT OR IGNORE INTO seen_envelopes VALUES (?,?)",
                 (envelope_id, now)).rowcount == 0:
        return False
    if session_pickle is not None:
        c.execute("INSERT OR REPLACE INTO olm_peer_sessions VALUES (?,?,?,?,?)",
                  session_pickle)
    if account_pickle is not None:
        c.execute("INSERT OR REPLACE INTO olm_account VALUES (1, ?)", (account_pickle,))
    if effect is not None:
        effect(c)
    # A message this device has (sent again after a crash, in another envelope)
    # is shown once: only a new one counts as stored.
    return message is None or insert_message(c, message)


def seen(c: sqlite3.Connection, envelope_id: str) -> bool:
    return c.execute(
        "SELECT 1 FROM seen_envelopes WHERE id=?", (envelope_id,)).fetchone() is not None
