"""One account's local database: its contacts, messages, requests, devices, Olm state
and outbox.

One SQLCipher file per account (WAL), driven from its own thread by
`SerialDatabase`. All of it is encrypted at rest (messages, contacts, requests, the
WAL too) under a key derived from the device's local key (`database_key`), which is
kept sealed under the master password or the PIN; a plaintext file left by an older
version is encrypted in place when it opens. Olm pickles are also encrypted by
vodozemac with the local key itself. The schema is `MIGRATIONS`, run in order by
`securechat.sqlite.migrate` (PRAGMA user_version): to change it, append a step. What
strangers can make it keep is bounded (`client.retention`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from twisted.internet import defer, task
from twisted.logger import Logger

from securechat.client import retention
from securechat.client.errors import DatabaseFromNewerVersion, UnreadableDatabase
from securechat.client.model import (
    Contact,
    DeviceNotice,
    Me,
    MessageStatus,
    Request,
    StoredMessage,
)
from securechat.client.olm import SessionRow
from securechat.encrypted_sqlite import WrongDatabaseKey
from securechat.sqlite import DatabaseTooNew, SerialDatabase, Step, migrate

# Step N takes the schema to version N (securechat.sqlite.migrate). Never edit a step
# that has shipped: append one.
MIGRATIONS: list[Step] = [
    """
    CREATE TABLE me (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        email TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
        public_name TEXT NOT NULL DEFAULT '', name_version INTEGER NOT NULL DEFAULT 0,
        avatar_version INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        sid TEXT PRIMARY KEY,
        peer_user_id TEXT NOT NULL UNIQUE,
        peer_email TEXT NOT NULL,
        peer_name TEXT NOT NULL DEFAULT '',
        peer_name_ver INTEGER NOT NULL DEFAULT 0,
        alias_name TEXT, notes TEXT,
        alias_timestamp INTEGER NOT NULL DEFAULT 0,
        last_manifest_sync INTEGER NOT NULL DEFAULT 0,
        peer_identity_key TEXT NOT NULL,       -- pinned account key (base64)
        changed_identity_key TEXT,             -- a new key seen, not yet accepted
        created INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY, sid TEXT NOT NULL, sender TEXT NOT NULL,
        text TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'text',
        timestamp INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0,
        is_read INTEGER NOT NULL DEFAULT 0, reply_to TEXT
    );
    CREATE INDEX messages_by_session ON messages(sid, timestamp, id);
    CREATE TABLE blocked_users (
        user_id TEXT PRIMARY KEY, email TEXT NOT NULL,
        action TEXT NOT NULL DEFAULT 'block', timestamp INTEGER NOT NULL
    );
    CREATE TABLE pending_requests (
        user_id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
        direction TEXT NOT NULL, action TEXT NOT NULL DEFAULT 'pending',
        timestamp INTEGER NOT NULL
    );
    CREATE TABLE devices (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, identity_key TEXT NOT NULL,
        signing_key TEXT NOT NULL, PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE olm_account (id INTEGER PRIMARY KEY CHECK (id = 1), pickle TEXT NOT NULL);
    CREATE TABLE olm_sessions (
        device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, pickle TEXT NOT NULL
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL,
        frame BLOB NOT NULL, message_id TEXT
    );
    CREATE TABLE seen_envelopes (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    CREATE TABLE identity_keys (user_id TEXT PRIMARY KEY, identity_key TEXT NOT NULL);
    -- Frames from users this device does not know as contacts yet (a reinstalled
    -- device, say): kept, and replayed once the friendship is known here.
    CREATE TABLE held_frames (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, frame BLOB NOT NULL
    );
    """,
    # Unread counts without scanning a long conversation.
    """
    CREATE INDEX messages_unread ON messages(sid) WHERE sender = 'other' AND is_read = 0;
    """,
    # The user compared safety numbers with this contact (reset when their key changes).
    """
    ALTER TABLE sessions ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    """,
    # Olm sessions per (user, device) and bound to the peer identity key they were made
    # with (was: per device id alone, so a device of another account listed under a
    # known id shared its slot). Old rows keep the key we verified for that device.
    """
    CREATE TABLE olm_peer_sessions (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL,
        identity_key TEXT NOT NULL,            -- the peer's Curve25519 key, base64
        pickle TEXT NOT NULL,                  -- sessions, newline separated, newest first
        seen TEXT NOT NULL DEFAULT '[]',       -- ids of every session made (replay guard)
        PRIMARY KEY (user_id, device_id)
    );
    INSERT INTO olm_peer_sessions (user_id, device_id, identity_key, pickle)
        SELECT s.user_id, s.device_id, d.identity_key, s.pickle FROM olm_sessions s
        JOIN devices d ON d.user_id = s.user_id AND d.device_id = s.device_id;
    DROP TABLE olm_sessions;
    """,
    # The device set is visible: a verified contact whose devices changed is flagged for
    # re-checking; a pending request whose sender's key changed says so; new devices of
    # my own account wait for me to see them.
    """
    ALTER TABLE sessions ADD COLUMN devices_changed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pending_requests ADD COLUMN key_changed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE own_device_notices (
        device_id TEXT PRIMARY KEY, identity_key TEXT NOT NULL, noticed_at INTEGER NOT NULL
    );
    """,
    # Held frames and seen envelope ids expire (client.retention); frames held before
    # this count from now.
    """
    ALTER TABLE held_frames ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
    UPDATE held_frames SET at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
    CREATE INDEX held_frames_by_sender ON held_frames(sender);
    CREATE INDEX held_frames_by_time ON held_frames(at);
    """,
    # The SCRAM parameters this device registered or first logged in with: a password
    # login from this device accepts no others (client.scram_pinning).
    """
    CREATE TABLE scram_pin (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        kdf TEXT NOT NULL, salt TEXT NOT NULL,
        iterations INTEGER NOT NULL, memory INTEGER NOT NULL
    );
    """,
    # The outbox keeps a frame's own bytes and whether my other devices get a copy in
    # a column (was: both wrapped in a JSON object, parsed again at every send).
    """
    ALTER TABLE outbox ADD COLUMN own INTEGER NOT NULL DEFAULT 1;
    UPDATE outbox SET own = json_extract(CAST(frame AS TEXT), '$.own'),
                      frame = CAST(json_extract(CAST(frame AS TEXT), '$.frame') AS BLOB);
    """,
    # A deleted message leaves a tombstone (its id, conversation and sender), so a copy
    # that arrives later (the DELETE overtook it, a relay reordered them, a re-delivery)
    # does not bring it back. Tombstones expire like seen envelope ids.
    """
    CREATE TABLE deleted_messages (
        id TEXT NOT NULL, sid TEXT NOT NULL, sender TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (id, sid, sender)
    );
    CREATE INDEX deleted_messages_by_time ON deleted_messages(at);
    """,
    # The vault's TOTP gate (client.totp): one row. `secret` is the base32 secret, or
    # 'keychain:<slot>' where the OS keychain holds it; `recovery` the SHA-256 (hex) of
    # each unused recovery code; failures and the delay they earned survive a restart.
    """
    CREATE TABLE vault_mfa (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        secret TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 0,
        recovery TEXT NOT NULL DEFAULT '[]',
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        last_step INTEGER NOT NULL DEFAULT 0
    );
    """,
]
PRUNE_INTERVAL = 3600.0  # seconds between drops of expired rows (also once at open)
_DATABASE_KEY_LABEL = b"securechat account database v1"


def database_key(local_key: bytes) -> bytes:
    """The account database's SQLCipher key: derived from the device's local key under
    its own label, so it is not the key that encrypts the Olm pickles."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_DATABASE_KEY_LABEL).derive(local_key)


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


def _migrate(conn: sqlite3.Connection) -> None:
    migrate(conn, MIGRATIONS)


_CONTACT_COLUMNS = ("sid, peer_user_id, peer_email, peer_name, alias_name, peer_identity_key, "
                    "changed_identity_key, verified, devices_changed")
_REQUEST_COLUMNS = "user_id, email, name, direction, action, timestamp, key_changed"
_MESSAGE_COLUMNS = "id, sid, sender, text, type, timestamp, status, is_read, reply_to"


class AccountStore:
    """Every read and write of one account's local state, as Deferreds."""

    log = Logger()

    def __init__(self, path: str, reactor: Any, key: bytes) -> None:
        """`key`: the database key (`database_key` of the device's local key)."""
        self._db = SerialDatabase(path, reactor, _migrate, name="client-sqlite", key=key)
        self.run = self._db.run
        self.clock: Callable[[], int] = _wall_clock_ms  # ms; what expiry counts by
        self._pruning = task.LoopingCall(self.prune)
        self._pruning.clock = reactor
        self._stopping = False
        self._prune_waiters: list[defer.Deferred[None]] | None = None  # a pass under way

    @defer.inlineCallbacks
    def start(self) -> Any:
        try:
            yield self._db.start()
        except WrongDatabaseKey:
            raise UnreadableDatabase(
                "this account's local database does not open with this device's key (it "
                "is damaged, or not this account's): remove the account here and sign in "
                "again") from None
        except DatabaseTooNew as e:
            raise DatabaseFromNewerVersion(
                f"this account's local database was written by a newer version of "
                f"SecureChat (schema {e.found}; this one knows up to {e.known}): update "
                f"SecureChat to open it") from None
        self._pruning.start(PRUNE_INTERVAL, now=True).addErrback(
            lambda f: self.log.failure("dropping expired rows failed", f))

    @defer.inlineCallbacks
    def stop(self) -> Any:
        self._stopping = True
        if self._pruning.running:
            self._pruning.stop()
        yield self._db.stop()

    @defer.inlineCallbacks
    def prune(self) -> Any:
        """Drop expired held frames and seen envelope ids, a batch per transaction."""
        self._prune_waiters = waiters = self._prune_waiters or []
        try:
            while not self._stopping:
                if not (yield self.run(retention.prune_batch, self.clock())):
                    break
        finally:
            self._prune_waiters = None
            for d in waiters:
                d.callback(None)

    def pruned(self) -> defer.Deferred[None]:
        """Fires once no pass of `prune` is under way (the one at open, say)."""
        if self._prune_waiters is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._prune_waiters.append(d)
        return d

    # --- me ------------------------------------------------------------------------

    def set_me(self, email: str, user_id: str, device_id: str,
               public_name: str = "") -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO me (id, email, user_id, device_id, public_name) "
            "VALUES (1,?,?,?,?)", (email, user_id, device_id, public_name)) and None)

    def me(self) -> defer.Deferred[Me | None]:
        def q(c: sqlite3.Connection) -> Me | None:
            row = c.execute("SELECT email, user_id, device_id, public_name, name_version, "
                            "avatar_version FROM me").fetchone()
            return Me(*row) if row else None
        return self.run(q)

    # --- olm -----------------------------------------------------------------------

    def save_olm_account(self, pickle: str) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO olm_account VALUES (1, ?)", (pickle,)) and None)

    def olm_account(self) -> defer.Deferred[str | None]:
        def q(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT pickle FROM olm_account").fetchone()
            return row[0] if row else None
        return self.run(q)

    def olm_sessions(self) -> defer.Deferred[list[SessionRow]]:
        return self.run(lambda c: c.execute(
            "SELECT user_id, device_id, identity_key, pickle, seen FROM olm_peer_sessions"
        ).fetchall())

    # --- devices of other users -----------------------------------------------------

    def known_devices(self) -> defer.Deferred[list[tuple[str, str, str, str]]]:
        return self.run(lambda c: c.execute(
            "SELECT user_id, device_id, identity_key, signing_key FROM devices").fetchall())

    def replace_devices(self, user_id: str,
                        devices: Sequence[tuple[str, str, str]]) -> defer.Deferred[None]:
        """Set a user's verified devices; sessions with devices now gone, or made with a
        key that is no longer the device's, are dropped."""
        def q(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM devices WHERE user_id=?", (user_id,))
            c.executemany("INSERT INTO devices VALUES (?,?,?,?)",
                          [(user_id, d, ik, sk) for d, ik, sk in devices])
            keys = {d: ik for d, ik, _ in devices}
            for (device_id, identity_key) in c.execute(
                    "SELECT device_id, identity_key FROM olm_peer_sessions WHERE user_id=?",
                    (user_id,)).fetchall():
                if device_id not in keys:
                    # Gone from the list: its sessions go, the ids of the sessions made
                    # with it stay (a relay that lists it again cannot replay them).
                    c.execute("UPDATE olm_peer_sessions SET pickle='' WHERE user_id=? AND "
                              "device_id=?", (user_id, device_id))
                elif keys[device_id] != identity_key:
                    c.execute("DELETE FROM olm_peer_sessions WHERE user_id=? AND device_id=?",
                              (user_id, device_id))
        return self.run(q)

    def identity_keys(self) -> defer.Deferred[dict[str, str]]:
        """Account keys pinned on first use (TOFU), by user id."""
        return self.run(lambda c: dict(
            c.execute("SELECT user_id, identity_key FROM identity_keys")))

    def pin_identity_key(self, user_id: str, key: str) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO identity_keys VALUES (?,?)", (user_id, key)) and None)

    # --- contacts -----------------------------------------------------------------------

    def contacts(self) -> defer.Deferred[list[Contact]]:
        return self.run(lambda c: [
            Contact(*r[:-2], verified=bool(r[-2]), devices_changed=bool(r[-1])) for r in c.execute(
                f"SELECT {_CONTACT_COLUMNS} FROM sessions ORDER BY sid DESC")])  # noqa: S608

    def add_contact(self, sid: str, user_id: str, email: str, name: str, identity_key: str,
                    now: int) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR IGNORE INTO sessions (sid, peer_user_id, peer_email, peer_name, "
            "peer_identity_key, created) VALUES (?,?,?,?,?,?)",
            (sid, user_id, email, name, identity_key, now)) and None)

    def set_changed_identity_key(self, user_id: str, key: str | None) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "UPDATE sessions SET changed_identity_key=? WHERE peer_user_id=?",
            (key, user_id)) and None)

    def accept_identity_key(self, user_id: str) -> defer.Deferred[None]:
        """The new key replaces the pinned one; it has not been verified."""
        return self.run(lambda c: c.execute(
            "UPDATE sessions SET peer_identity_key=changed_identity_key, "
            "changed_identity_key=NULL, verified=0 WHERE peer_user_id=? "
            "AND changed_identity_key IS NOT NULL", (user_id,)) and None)

    def set_alias(self, user_id: str, alias: str | None, now: int) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "UPDATE sessions SET alias_name=?, alias_timestamp=? WHERE peer_user_id=?",
            (alias, now, user_id)) and None)

    def set_verified(self, user_id: str, verified: bool) -> defer.Deferred[None]:
        """Marked (or unmarked) by the user: any "devices changed" flag is settled."""
        return self.run(lambda c: c.execute(
            "UPDATE sessions SET verified=?, devices_changed=0 WHERE peer_user_id=?",
            (int(verified), user_id)) and None)

    def devices_changed(self, user_id: str) -> defer.Deferred[bool]:
        """A contact's device set changed: if they were verified, they no longer are, and
        are flagged for re-checking. Returns True if that changed anything."""
        return self.run(lambda c: bool(c.execute(
            "UPDATE sessions SET verified=0, devices_changed=1 WHERE peer_user_id=? "
            "AND verified=1", (user_id,)).rowcount))

    # --- new devices of my own account ---------------------------------------------------

    def add_device_notice(self, notice: DeviceNotice) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO own_device_notices VALUES (?,?,?)",
            attrs.astuple(notice)) and None)

    def device_notices(self) -> defer.Deferred[list[DeviceNotice]]:
        return self.run(lambda c: [DeviceNotice(*r) for r in c.execute(
            "SELECT device_id, identity_key, noticed_at FROM own_device_notices "
            "ORDER BY noticed_at, device_id")])

    def drop_device_notice(self, device_id: str) -> defer.Deferred[bool]:
        return self.run(lambda c: bool(c.execute(
            "DELETE FROM own_device_notices WHERE device_id=?", (device_id,)).rowcount))

    # --- requests and blocks ---------------------------------------------------------------

    def set_request(self, r: Request) -> defer.Deferred[None]:
        """Record a request; denying one drops what is held from its sender."""
        def q(c: sqlite3.Connection) -> None:
            c.execute(f"INSERT OR REPLACE INTO pending_requests ({_REQUEST_COLUMNS}) "  # noqa: S608
                      "VALUES (?,?,?,?,?,?,?)",
                      (r.user_id, r.email, r.name, r.direction, r.action, r.timestamp,
                       int(r.key_changed)))
            if r.direction == "in" and r.action == "denied":
                retention.forget(c, r.user_id)
        return self.run(q)

    def requests(self) -> defer.Deferred[list[Request]]:
        return self.run(lambda c: [Request(*r[:-1], key_changed=bool(r[-1])) for r in c.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM pending_requests "  # noqa: S608
            "ORDER BY timestamp")])

    def mark_request_key_changed(self, user_id: str) -> defer.Deferred[Request | None]:
        """The user's account key changed while a request with them is pending: say so on
        the request. Returns the request if it was not marked yet."""
        def q(c: sqlite3.Connection) -> Request | None:
            row = c.execute(f"SELECT {_REQUEST_COLUMNS} FROM pending_requests "  # noqa: S608
                            "WHERE user_id=? AND action='pending' AND key_changed=0",
                            (user_id,)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE pending_requests SET key_changed=1 WHERE user_id=?", (user_id,))
            return Request(*row[:-1], key_changed=True)
        return self.run(q)

    def set_blocked(self, user_id: str, email: str, blocked: bool,
                    now: int) -> defer.Deferred[None]:
        """Block or unblock; blocking drops what is held from the user."""
        def q(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO blocked_users VALUES (?,?,?,?)",
                      (user_id, email, "block" if blocked else "unblock", now))
            if blocked:
                retention.forget(c, user_id)
        return self.run(q)

    def blocked(self) -> defer.Deferred[set[str]]:
        return self.run(lambda c: {r[0] for r in c.execute(
            "SELECT user_id FROM blocked_users WHERE action='block'")})

    # --- messages ---------------------------------------------------------------------------

    def messages(self, sid: str, limit: int = 50, before: tuple[int, str] | None = None,
                 after: tuple[int, str] | None = None) -> defer.Deferred[list[StoredMessage]]:
        """Oldest first: the newest `limit` messages before `before` (timestamp, id), or
        with `after`, the oldest `limit` after it."""
        def q(c: sqlite3.Connection) -> list[StoredMessage]:
            if after is not None:
                ts, mid = after
                rows = c.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? AND "  # noqa: S608
                    "(timestamp > ? OR (timestamp = ? AND id > ?)) "
                    "ORDER BY timestamp, id LIMIT ?", (sid, ts, ts, mid, limit)).fetchall()
                return [StoredMessage(*r) for r in rows]
            ts, mid = before or (2**63 - 1, "")
            rows = c.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? AND "  # noqa: S608
                "(timestamp < ? OR (timestamp = ? AND id < ?)) "
                "ORDER BY timestamp DESC, id DESC LIMIT ?", (sid, ts, ts, mid, limit)).fetchall()
            return [StoredMessage(*r) for r in reversed(rows)]
        return self.run(q)

    def message(self, message_id: str) -> defer.Deferred[StoredMessage | None]:
        def q(c: sqlite3.Connection) -> StoredMessage | None:
            row = c.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id=?",  # noqa: S608
                            (message_id,)).fetchone()
            return StoredMessage(*row) if row else None
        return self.run(q)

    def unread_count(self, sid: str) -> defer.Deferred[int]:
        return self.run(_unread, sid)

    def summaries(self) -> defer.Deferred[dict[str, tuple[StoredMessage | None, int]]]:
        """Every session's newest message and unread count, in one trip to the database
        (the session list needs them all at once)."""
        def q(c: sqlite3.Connection) -> dict[str, tuple[StoredMessage | None, int]]:
            return {sid: _summary(c, sid)
                    for (sid,) in c.execute("SELECT sid FROM sessions").fetchall()}
        return self.run(q)

    def summary(self, sid: str) -> defer.Deferred[tuple[StoredMessage | None, int]]:
        """One session's newest message and unread count."""
        return self.run(_summary, sid)

    def mark_read(self, sid: str) -> defer.Deferred[list[str]]:
        """Mark the session's received messages read; returns the ids newly read."""
        def q(c: sqlite3.Connection) -> list[str]:
            ids = [r[0] for r in c.execute(
                "SELECT id FROM messages WHERE sid=? AND sender='other' AND is_read=0", (sid,))]
            c.execute("UPDATE messages SET is_read=1 WHERE sid=? AND sender='other' "
                      "AND is_read=0", (sid,))
            return ids
        return self.run(q)

    def mark_ids_read(self, sid: str, ids: Sequence[str]) -> defer.Deferred[list[str]]:
        return self.run(mark_ids_read, sid, ids)

    def raise_status(self, sid: str, ids: Sequence[str],
                     status: int) -> defer.Deferred[list[str]]:
        return self.run(raise_status, sid, ids, status)

    def delete_message(self, message_id: str, sid: str,
                       sender: str) -> defer.Deferred[bool]:
        return self.run(delete_message, message_id, sid, sender, self.clock())

    def add_message(self, message: StoredMessage) -> defer.Deferred[bool]:
        """Store a message unless one with its id is stored; returns whether it was new."""
        return self.run(_insert_message, message)

    # --- the receive path: one transaction per envelope -------------------------------------------

    def receive(self, envelope_id: str, now: int, session_pickle: SessionRow | None,
                account_pickle: str | None, message: StoredMessage | None,
                effect: Callable[[sqlite3.Connection], Any] | None = None,
                ) -> defer.Deferred[bool]:
        """Record an envelope as handled, with the Olm state it advanced, the message it
        carried and what else it changes here (`effect`: a receipt's ticks, say),
        atomically. Returns False if it was already handled (a replay), or its message is
        already stored (a copy sent again)."""
        def q(c: sqlite3.Connection) -> bool:
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
            return message is None or _insert_message(c, message)
        return self.run(q)

    def seen(self, envelope_id: str) -> defer.Deferred[bool]:
        return self.run(lambda c: c.execute(
            "SELECT 1 FROM seen_envelopes WHERE id=?", (envelope_id,)).fetchone() is not None)

    # --- the send path -----------------------------------------------------------------------

    def queue(self, recipient: str, frame: bytes, copy_to_own: bool,
              message: StoredMessage | None) -> defer.Deferred[int]:
        """Store a message (optimistically) and its encoded frame in the outbox,
        atomically; fires with the entry's seq."""
        def q(c: sqlite3.Connection) -> int:
            if message is not None:
                _insert_message(c, message)
            return int(c.execute(
                "INSERT INTO outbox (recipient, frame, message_id, own) VALUES (?,?,?,?)",
                (recipient, frame, message.id if message else None, copy_to_own)).lastrowid
                or 0)
        return self.run(q)

    def outbox(self) -> defer.Deferred[list[tuple[int, str, bytes, str | None, bool]]]:
        """(seq, recipient, frame, message id, copy to my devices), oldest first."""
        return self.run(lambda c: [
            (seq, recipient, bytes(frame), message_id, bool(own))
            for seq, recipient, frame, message_id, own in c.execute(
                "SELECT seq, recipient, frame, message_id, own FROM outbox ORDER BY seq")])

    def sent(self, entries: Sequence[tuple[int, str | None]],
             sessions: Sequence[SessionRow]) -> defer.Deferred[list[str]]:
        """The relay accepted these outbox entries (seq, message id): drop them, keep the
        ratchets they advanced, all at once. Returns the ids of the messages whose tick
        moved to "sent" (not one a receipt moved further meanwhile)."""
        def q(c: sqlite3.Connection) -> list[str]:
            c.executemany("DELETE FROM outbox WHERE seq=?", [(seq,) for seq, _ in entries])
            c.executemany("INSERT OR REPLACE INTO olm_peer_sessions VALUES (?,?,?,?,?)", sessions)
            return [mid for _, mid in entries if mid is not None and c.execute(
                "UPDATE messages SET status=? WHERE id=? AND status<?",
                (MessageStatus.SENT, mid, MessageStatus.SENT)).rowcount]
        return self.run(q)

    def hold(self, sender: str, frame: bytes) -> defer.Deferred[bool]:
        """Keep a frame from a user not known here as a contact (yet), within the limits
        of client.retention; fires False if it was dropped."""
        def logged(kept: bool) -> bool:
            if not kept:
                self.log.info("dropped a frame from a non-contact (over the holding limits, "
                              "or their request was denied)")
            return kept
        return self.run(retention.hold, sender, frame, self.clock()).addCallback(logged)

    def held_frames(self) -> defer.Deferred[list[tuple[str, int, int]]]:
        """(sender, count, bytes) of what is held, per sender."""
        return self.run(lambda c: c.execute(
            "SELECT sender, COUNT(*), SUM(LENGTH(frame)) FROM held_frames GROUP BY sender "
            "ORDER BY sender").fetchall())

    def take_held(self, sender: str) -> defer.Deferred[list[bytes]]:
        def q(c: sqlite3.Connection) -> list[bytes]:
            frames = [r[0] for r in c.execute(
                "SELECT frame FROM held_frames WHERE sender=? ORDER BY seq", (sender,))]
            c.execute("DELETE FROM held_frames WHERE sender=?", (sender,))
            return frames
        return self.run(q)

    def save_sessions(self, sessions: Sequence[SessionRow]) -> defer.Deferred[None]:
        return self.run(lambda c: c.executemany(
            "INSERT OR REPLACE INTO olm_peer_sessions VALUES (?,?,?,?,?)", sessions) and None)

    def drop_outbox(self, seq: int) -> defer.Deferred[None]:
        return self.run(lambda c: c.execute("DELETE FROM outbox WHERE seq=?", (seq,)) and None)


# --- changes a received frame makes, also run inside its envelope's transaction ---------


def mark_ids_read(c: sqlite3.Connection, sid: str, ids: Sequence[str]) -> list[str]:
    """Received messages read on another of my devices; returns those newly read here."""
    return [mid for mid in ids if c.execute(
        "UPDATE messages SET is_read=1 WHERE id=? AND sid=? AND sender='other' "
        "AND is_read=0", (mid, sid)).rowcount]


def raise_status(c: sqlite3.Connection, sid: str, ids: Sequence[str], status: int) -> list[str]:
    """Move my messages' ticks forward (never back); returns the ids that changed."""
    return [mid for mid in ids if c.execute(
        "UPDATE messages SET status=? WHERE id=? AND sid=? AND sender='me' AND status<?",
        (status, mid, sid, status)).rowcount]


def delete_message(c: sqlite3.Connection, message_id: str, sid: str, sender: str,
                   now: int) -> bool:
    """Hard delete (no placeholder) of a message of this session and sender, leaving a
    tombstone (even if it has not arrived yet: it stays away); whether it was here."""
    c.execute("INSERT OR REPLACE INTO deleted_messages VALUES (?,?,?,?)",
              (message_id, sid, sender, now))
    return bool(c.execute("DELETE FROM messages WHERE id=? AND sid=? AND sender=?",
                          (message_id, sid, sender)).rowcount)


def _summary(c: sqlite3.Connection, sid: str) -> tuple[StoredMessage | None, int]:
    row = c.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE sid=? "  # noqa: S608
                    "ORDER BY timestamp DESC, id DESC LIMIT 1", (sid,)).fetchone()
    return StoredMessage(*row) if row else None, _unread(c, sid)


def _unread(c: sqlite3.Connection, sid: str) -> int:
    return int(c.execute("SELECT COUNT(*) FROM messages WHERE sid=? AND sender='other' "
                         "AND is_read=0", (sid,)).fetchone()[0])


def _insert_message(c: sqlite3.Connection, message: StoredMessage) -> bool:
    """Insert-or-ignore by id: receiving the same message twice stores it once, and a
    deleted one never again. Returns whether it was new."""
    if c.execute("SELECT 1 FROM deleted_messages WHERE id=? AND sid=? AND sender=?",
                 (message.id, message.sid, message.sender)).fetchone():
        return False
    return bool(c.execute(f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS}) "  # noqa: S608
                          "VALUES (?,?,?,?,?,?,?,?,?)", attrs.astuple(message)).rowcount)
