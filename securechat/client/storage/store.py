"""`AccountStore`: every read and write of one account's local database, as Deferreds
(see securechat.client.storage). It owns the database's lifecycle, the expiry of what
strangers made it keep, `me` and the Olm state; every other operation is a function of
the module for its concern, run on the database's thread."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger

import securechat.client.retention as retention
import securechat.client.storage.contacts as contacts
import securechat.client.storage.inbox as inbox
import securechat.client.storage.messages as messages
import securechat.client.storage.outbox as outbox
import securechat.client.storage.requests as requests
from securechat.client.errors import DatabaseFromNewerVersion, UnreadableDatabase
from securechat.client.model import Contact, DeviceNotice, Me, Request, StoredMessage
from securechat.client.olm import SessionRow
from securechat.client.storage.schema import migrate_schema
from securechat.encrypted_sqlite import WrongDatabaseKey
from securechat.sqlite import DatabaseTooNew, SerialDatabase

PRUNE_INTERVAL = 3600.0  # seconds between drops of expired rows (also once at open)


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class AccountStore:
    """Every read and write of one account's local state, as Deferreds."""

    log = Logger()

    def __init__(self, path: str, reactor: Any, key: bytes) -> None:
        """`key`: the database key (`database_key` of the device's local key)."""
        self._db = SerialDatabase(path, reactor, migrate_schema, name="client-sqlite", key=key)
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

    def save_sessions(self, sessions: Sequence[SessionRow]) -> defer.Deferred[None]:
        return self.run(lambda c: c.executemany(
            "INSERT OR REPLACE INTO olm_peer_sessions VALUES (?,?,?,?,?)", sessions) and None)

    # --- devices of other users (storage.contacts) -------------------------------------

    def known_devices(self) -> defer.Deferred[list[tuple[str, str, str, str]]]:
        return self.run(contacts.known_devices)

    def replace_devices(self, user_id: str,
                        devices: Sequence[tuple[str, str, str]]) -> defer.Deferred[None]:
        return self.run(contacts.replace_devices, user_id, devices)

    def identity_keys(self) -> defer.Deferred[dict[str, str]]:
        return self.run(contacts.identity_keys)

    def pin_identity_key(self, user_id: str, key: str) -> defer.Deferred[None]:
        return self.run(contacts.pin_identity_key, user_id, key)

    # --- contacts (storage.contacts) ----------------------------------------------------

    def contacts(self) -> defer.Deferred[list[Contact]]:
        return self.run(contacts.contacts)

    def add_contact(self, sid: str, user_id: str, email: str, name: str, identity_key: str,
                    now: int) -> defer.Deferred[None]:
        return self.run(contacts.add_contact, sid, user_id, email, name, identity_key, now)

    def set_changed_identity_key(self, user_id: str, key: str | None) -> defer.Deferred[None]:
        return self.run(contacts.set_changed_identity_key, user_id, key)

    def accept_identity_key(self, user_id: str) -> defer.Deferred[None]:
        return self.run(contacts.accept_identity_key, user_id)

    def set_alias(self, user_id: str, alias: str | None, now: int) -> defer.Deferred[None]:
        return self.run(contacts.set_alias, user_id, alias, now)

    def set_verified(self, user_id: str, verified: bool) -> defer.Deferred[None]:
        return self.run(contacts.set_verified, user_id, verified, _wall_clock_ms())

    def set_notes(self, user_id: str, notes: str | None, now: int) -> defer.Deferred[None]:
        return self.run(contacts.set_notes, user_id, notes, now)

    def notes(self, user_id: str) -> defer.Deferred[str | None]:
        return self.run(contacts.notes, user_id)

    def devices_changed(self, user_id: str) -> defer.Deferred[bool]:
        return self.run(contacts.devices_changed, user_id)

    # --- new devices of my own account (storage.contacts) --------------------------------

    def add_device_notice(self, notice: DeviceNotice) -> defer.Deferred[None]:
        return self.run(contacts.add_device_notice, notice)

    def device_notices(self) -> defer.Deferred[list[DeviceNotice]]:
        return self.run(contacts.device_notices)

    def drop_device_notice(self, device_id: str) -> defer.Deferred[bool]:
        return self.run(contacts.drop_device_notice, device_id)

    # --- requests and blocks (storage.requests) ------------------------------------------

    def set_request(self, r: Request) -> defer.Deferred[None]:
        return self.run(requests.set_request, r)

    def requests(self) -> defer.Deferred[list[Request]]:
        return self.run(requests.requests)

    def mark_request_key_changed(self, user_id: str) -> defer.Deferred[Request | None]:
        return self.run(requests.mark_request_key_changed, user_id)

    def set_blocked(self, user_id: str, email: str, blocked: bool,
                    now: int) -> defer.Deferred[None]:
        return self.run(requests.set_blocked, user_id, email, blocked, now)

    def blocked(self) -> defer.Deferred[set[str]]:
        return self.run(requests.blocked)

    # --- messages (storage.messages) -----------------------------------------------------

    def messages(self, sid: str, limit: int = 50, before: tuple[int, str] | None = None,
                 after: tuple[int, str] | None = None) -> defer.Deferred[list[StoredMessage]]:
        return self.run(messages.messages, sid, limit, before, after)

    def message(self, message_id: str) -> defer.Deferred[StoredMessage | None]:
        return self.run(messages.message, message_id)

    def unread_count(self, sid: str) -> defer.Deferred[int]:
        return self.run(messages.unread_count, sid)

    def summaries(self) -> defer.Deferred[dict[str, tuple[StoredMessage | None, int]]]:
        return self.run(messages.summaries)

    def summary(self, sid: str) -> defer.Deferred[tuple[StoredMessage | None, int]]:
        return self.run(messages.summary, sid)

    def mark_read(self, sid: str) -> defer.Deferred[list[str]]:
        return self.run(messages.mark_read, sid)

    def mark_ids_read(self, sid: str, ids: Sequence[str]) -> defer.Deferred[list[str]]:
        return self.run(messages.mark_ids_read, sid, ids)

    def raise_status(self, sid: str, ids: Sequence[str],
                     status: int) -> defer.Deferred[list[str]]:
        return self.run(messages.raise_status, sid, ids, status)

    def delete_message(self, message_id: str, sid: str,
                       sender: str) -> defer.Deferred[bool]:
        return self.run(messages.delete_message, message_id, sid, sender, self.clock())

    def unsend_message(self, message_id: str, sid: str,
                       sender: str) -> defer.Deferred[StoredMessage | None]:
        return self.run(messages.unsend_message, message_id, sid, sender, self.clock())

    def add_message(self, message: StoredMessage) -> defer.Deferred[bool]:
        """Store a message unless one with its id is stored; returns whether it was new."""
        return self.run(messages.insert_message, message)

    # --- the receive path: one transaction per envelope (storage.inbox) ------------------

    def receive(self, envelope_id: str, now: int, session_pickle: SessionRow | None,
                account_pickle: str | None, message: StoredMessage | None,
                effect: Callable[[sqlite3.Connection], Any] | None = None,
                ) -> defer.Deferred[bool]:
        return self.run(inbox.receive, envelope_id, now, session_pickle, account_pickle,
                        message, effect)

    def seen(self, envelope_id: str) -> defer.Deferred[bool]:
        return self.run(inbox.seen, envelope_id)

    # --- the send path (storage.outbox) --------------------------------------------------

    def queue(self, recipient: str, frame: bytes, copy_to_own: bool,
              message: StoredMessage | None) -> defer.Deferred[int]:
        return self.run(outbox.queue, recipient, frame, copy_to_own, message)

    def outbox(self) -> defer.Deferred[list[tuple[int, str, bytes, str | None, bool]]]:
        return self.run(outbox.outbox)

    def sent(self, entries: Sequence[tuple[int, str | None]],
             sessions: Sequence[SessionRow]) -> defer.Deferred[list[str]]:
        return self.run(outbox.sent, entries, sessions)

    def drop_outbox(self, seq: int) -> defer.Deferred[None]:
        return self.run(outbox.drop_outbox, seq)

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
        return self.run(outbox.held_frames)

    def take_held(self, sender: str) -> defer.Deferred[list[bytes]]:
        return self.run(outbox.take_held, sender)
