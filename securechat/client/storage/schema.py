"""The account database's schema (`MIGRATIONS`, run in order by
`securechat.sqlite.migrate`, PRAGMA user_version: to change it, append a step) and its
SQLCipher key (`database_key`)."""

from __future__ import annotations

import sqlite3

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from securechat.sqlite import Step, migrate

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
    # Account sync between my own devices (client.manifest): when each kind of MANIFEST
    # was last sent ('own': to my other devices) and whether this device asked them for
    # its history ('history'); every message row records when it last changed here
    # (stored, read, ticked), so a MANIFEST carries only what changed since the last one.
    # Rows merged from a MANIFEST are stored with changed = -1: they are not sent back;
    # so are the rows stored before this step (my other devices got copies of them).
    """
    CREATE TABLE manifest_sync (target TEXT PRIMARY KEY, at INTEGER NOT NULL);
    ALTER TABLE messages ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET changed = -1;
    CREATE INDEX messages_by_change ON messages(changed, id);
    CREATE INDEX messages_by_time ON messages(timestamp, id);
    CREATE TRIGGER messages_changed_on_insert AFTER INSERT ON messages
        WHEN NEW.changed = 0
    BEGIN
        UPDATE messages SET changed = CAST((julianday('now') - 2440587.5) * 86400000
                                           AS INTEGER) WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER messages_changed_on_update AFTER UPDATE OF is_read, status ON messages
    BEGIN
        UPDATE messages SET changed = CAST((julianday('now') - 2440587.5) * 86400000
                                           AS INTEGER) WHERE rowid = NEW.rowid;
    END;
    """,
    # Profiles (client.profiles): my avatar (PNG/JPEG bytes written by client.avatars) and
    # when my profile last changed here (a MANIFEST to my other devices carries it when
    # newer than the last one); each contact's avatar and its version (their name and its
    # version were there from the start: peer_name, peer_name_ver).
    """
    ALTER TABLE me ADD COLUMN avatar BLOB;
    ALTER TABLE me ADD COLUMN profile_changed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN peer_avatar BLOB;
    ALTER TABLE sessions ADD COLUMN peer_avatar_ver INTEGER NOT NULL DEFAULT 0;
    """,
    # History answers this device is sending to a new device of mine (client.manifest):
    # how far each got (the last message queued, newest first), so that one interrupted
    # by a restart goes on from there.
    """
    CREATE TABLE history_jobs (
        device_id TEXT PRIMARY KEY, since INTEGER NOT NULL,
        before_ts INTEGER, before_id TEXT
    );
    """,
    # Reactions and edits (client.message_actions): one reaction per person ('me' or
    # 'other') per message, '' once taken back, the newest `at` winning; every version
    # of an edited message, the original included (messages.text is the newest). Both go
    # with their message when it is deleted (hard delete: nothing of it stays).
    """
    CREATE TABLE reactions (
        message_id TEXT NOT NULL, sid TEXT NOT NULL, reactor TEXT NOT NULL,
        emoji TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (message_id, sid, reactor)
    );
    CREATE TABLE message_edits (
        message_id TEXT NOT NULL, sid TEXT NOT NULL, text TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (message_id, sid, at)
    );
    CREATE TRIGGER message_extras_deleted AFTER DELETE ON messages
    BEGIN
        DELETE FROM reactions WHERE message_id = OLD.id AND sid = OLD.sid;
        DELETE FROM message_edits WHERE message_id = OLD.id AND sid = OLD.sid;
    END;
    """,
    # Message search (client.search): an FTS5 index of what messages say, inside this
    # encrypted database, kept by triggers (a row per message, by the message's rowid;
    # the index keeps its own copy of the text rather than point into `messages`, so it
    # can never fall out of step with it). Accents and case are ignored ("cafe" finds
    # "Café"); lines the client wrote are not indexed.
    """
    CREATE VIRTUAL TABLE message_search USING fts5(
        text, tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO message_search(rowid, text)
        SELECT rowid, text FROM messages WHERE sender != 'system';
    CREATE TRIGGER message_search_insert AFTER INSERT ON messages
        WHEN NEW.sender != 'system'
    BEGIN
        INSERT INTO message_search(rowid, text) VALUES (NEW.rowid, NEW.text);
    END;
    CREATE TRIGGER message_search_delete AFTER DELETE ON messages
    BEGIN
        DELETE FROM message_search WHERE rowid = OLD.rowid;
    END;
    CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages
        WHEN NEW.sender != 'system'
    BEGIN
        UPDATE message_search SET text = NEW.text WHERE rowid = NEW.rowid;
    END;
    """,
    # Unsend leaves a marker (issue 11, docs/protocol.md §9.7): the row stays with
    # type 'deleted' and no text; its reactions, edit history and search entry go. A
    # tombstone records whether its message was unsent (a marker stays: a copy that
    # arrives later is stored as a marker) or deleted for me (nothing stays). A marker
    # is never indexed (the index deletes securely: see migrate_schema).
    """
    ALTER TABLE deleted_messages ADD COLUMN unsent INTEGER NOT NULL DEFAULT 0;
    DROP TRIGGER message_search_insert;
    CREATE TRIGGER message_search_insert AFTER INSERT ON messages
        WHEN NEW.sender != 'system' AND NEW.type != 'deleted'
    BEGIN
        INSERT INTO message_search(rowid, text) VALUES (NEW.rowid, NEW.text);
    END;
    DROP TRIGGER message_search_update;
    CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages
        WHEN NEW.sender != 'system' AND NEW.type != 'deleted'
    BEGIN
        UPDATE message_search SET text = NEW.text WHERE rowid = NEW.rowid;
    END;
    CREATE TRIGGER message_unsent AFTER UPDATE OF type ON messages
        WHEN NEW.type = 'deleted' AND OLD.type != 'deleted'
    BEGIN
        DELETE FROM message_search WHERE rowid = NEW.rowid;
        DELETE FROM reactions WHERE message_id = NEW.id AND sid = NEW.sid;
        DELETE FROM message_edits WHERE message_id = NEW.id AND sid = NEW.sid;
    END;
    """,
    # Shared files (client.files): the spec's `media` row, plus what the transfer needs
    # to resume (the relay blob and its read token, the chunk layout, the file key and
    # the plaintext's SHA-256). The file itself is kept encrypted in media/<filename>.
    """
    CREATE TABLE media (
        filename TEXT PRIMARY KEY,
        original_name TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        mime_type TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        thumbnail TEXT NOT NULL DEFAULT '',
        sid TEXT NOT NULL,
        peer TEXT NOT NULL,
        direction TEXT NOT NULL,
        caption TEXT,
        blob_id TEXT,
        token BLOB NOT NULL,
        file_key BLOB NOT NULL,
        chunk_size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        error TEXT,
        created INTEGER NOT NULL
    );
    CREATE INDEX media_by_session ON media(sid, created);
    CREATE INDEX media_by_status ON media(status);
    """,
    # Message search finds a file by its name and caption (issue 11 x 12): a file's
    # stored text is its JSON, whose keys ("filename", "size") matched every file.
    """
    DROP TRIGGER message_search_insert;
    CREATE TRIGGER message_search_insert AFTER INSERT ON messages
        WHEN NEW.sender != 'system' AND NEW.type != 'deleted'
    BEGIN
        INSERT INTO message_search(rowid, text) VALUES (NEW.rowid,
            CASE WHEN NEW.type IN ('file', 'image') AND json_valid(NEW.text)
            THEN coalesce(json_extract(NEW.text, '$.filename'), '') || ' ' ||
                 coalesce(json_extract(NEW.text, '$.caption'), '')
            ELSE NEW.text END);
    END;
    DROP TRIGGER message_search_update;
    CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages
        WHEN NEW.sender != 'system' AND NEW.type != 'deleted'
    BEGIN
        UPDATE message_search SET text =
            CASE WHEN NEW.type IN ('file', 'image') AND json_valid(NEW.text)
            THEN coalesce(json_extract(NEW.text, '$.filename'), '') || ' ' ||
                 coalesce(json_extract(NEW.text, '$.caption'), '')
            ELSE NEW.text END
            WHERE rowid = NEW.rowid;
    END;
    UPDATE message_search SET text = (SELECT
            CASE WHEN m.type IN ('file', 'image') AND json_valid(m.text)
            THEN coalesce(json_extract(m.text, '$.filename'), '') || ' ' ||
                 coalesce(json_extract(m.text, '$.caption'), '')
            ELSE m.text END
            FROM messages m WHERE m.rowid = message_search.rowid)
        WHERE rowid IN (SELECT rowid FROM messages WHERE type IN ('file', 'image'));
    """,
]
_DATABASE_KEY_LABEL = b"securechat account database v1"


def database_key(local_key: bytes) -> bytes:
    """The account database's SQLCipher key: derived from the device's local key under
    its own label, so it is not the key that encrypts the Olm pickles."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_DATABASE_KEY_LABEL).derive(local_key)


def migrate_schema(conn: sqlite3.Connection) -> None:
    migrate(conn, MIGRATIONS)
    # The search index deletes securely: an unsent message's words leave the index's
    # pages at once, not at its next merge. SQLCipher's SQLite has the option (3.42+);
    # an older plain SQLite (tests of the schema alone) goes without.
    try:
        conn.execute("INSERT INTO message_search(message_search, rank) "
                     "VALUES ('secure-delete', 1)")
    except sqlite3.OperationalError:
        pass
