"""Restoring an account from its encrypted backup (client.backup) onto this device.

The spec's steps, in order; any failure leaves the data directory as it was:

1. decrypt: the whole file's GCM tag is checked before anything in it is believed
   ("Decryption failed. Incorrect backup code."; a damaged zip is CorruptBackup), in
   the same single pass that unzips the media into the staging directory
   (crypto.backup_extract: no copy of the backup, no second decryption);
2. the account email from metadata.json ("Could not find account email in backup");
3. master key and identity keys: the master key (recovery phrase) from the backup
   signs this device into the account with the password, exactly as a sign-in on a
   new device does (client.account.login), and the identity key the relay's recovery
   blob gives must be the backup's. So the restored device is a new device of the
   account: it gets its own device and Olm keys (none are in a backup), its contacts
   see it announced, and it chats with them at once. A device clone would fork the
   old device's ratchets if that device ever came back;
4. every table repopulated in dependency order, an older schema first migrated: the
   rows go into an in-memory database at the backup's schema version, which the
   same migrations (`storage.MIGRATIONS`) then bring to this version;
5. the vault and its media files, and the shared files (client.restore_media), all
   still encrypted as they were on the old device;
6. the account entry (accounts.json), so the account is known at the next sign-in.

Atomic: all of it is built in `data_dir/.restoring-XXXX/` and moved into place by one
rename; a restore killed halfway leaves only that directory (removed by the next
restore), never a half account. The device the relay enrolled for a restore that
then fails is withdrawn; one a killed restore left is withdrawn by the next restore
of that account, before it enrolls its own (client.restore_orphans).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from typing import Any

import attrs
from twisted.internet import defer, threads
from twisted.logger import Logger

import securechat.client.account as account
import securechat.client.backup as backup
import securechat.client.restore_media as restore_media
import securechat.client.restore_orphans as orphans
from securechat import encrypted_sqlite
from securechat.client.accountlock import AccountLock
from securechat.client.endpoint import RelayEndpoint
from securechat.client.errors import (
    BackupDecryptionFailed,
    BackupError,
    BackupMissingEmail,
    ClientError,
    CorruptBackup,
    WrongRecoveryPhrase,
)
from securechat.client.local_accounts import is_set_up, remember
from securechat.client.model import KdfCost
from securechat.client.storage import MIGRATIONS
from securechat.client.vault_store import DATABASE, FILES_DIR, VAULT_DIR, storage_full
from securechat.client.vault_store import MIGRATIONS as VAULT_MIGRATIONS
from securechat.crypto import backup_extract
from securechat.crypto.backup_format import BackupFormatError, TruncatedBackup, WrongPassphrase
from securechat.protocol import uris
from securechat.protocol.keys import normalise_email, user_id_for_email
from securechat.sqlite import Step, migrate

STAGING_PREFIX = ".restoring-"
# Dependency order: who I am and my contacts before what refers to them. Tables not
# listed belong to the device that made the backup (its Olm account and sessions,
# sealed under its local key; the SCRAM parameters it pinned) and are not restored.
ACCOUNT_TABLES = ("sessions", "identity_keys", "devices", "blocked_users",
                  "pending_requests", "messages", "own_device_notices", "held_frames",
                  "seen_envelopes", "outbox", "vault_mfa", "deleted_messages",
                  "reactions", "message_edits",  # reactions and edits: issue 11
                  "media")  # shared files (issue 12): after their messages
ME_COLUMNS = ("public_name", "name_version", "avatar_version", "avatar")
VAULT_TABLES = ("vault_meta", "vault_items")
DECRYPTION_FAILED = "Decryption failed. Incorrect backup code."
MISSING_EMAIL = "Could not find account email in backup"
Tables = dict[str, tuple[list[str], list[tuple[Any, ...]]]]
log = Logger()


@attrs.define
class _Backup:
    """What a checked backup holds; its media are unzipped in the staging directory."""

    email: str
    mnemonic: str = attrs.field(repr=False)
    identity_seed: bytes = attrs.field(repr=False)
    account: Tables
    vault: Tables
    me: dict[str, Any]
    vault_media: list[tuple[str, str]]  # (vault item id, unzipped file)
    shared: list[tuple[str, str]]  # (media row filename, unzipped file)
    damaged: tuple[str, ...]  # shared files damaged in the backup, described


INCOMING = "incoming"  # in the staging directory: the media, unzipped during the check
MAX_SMALL_MEMBER = 1 << 20  # bytes: metadata.json, the key files
MAX_EXPORT_BYTES = 1 << 30  # bytes of db_export.json: far above any real account


class RestoreEntryPoint:
    """`SecureChatClient.restore_backup` (a classmethod, inherited)."""

    @classmethod
    def restore_backup(cls, reactor: Any, data_dir: str, url: str, path: str,
                       passphrase: str, password: str, cost: KdfCost | None = None,
                       serializer: str = "msgpack", ca_file: str | None = None,
                       floor: KdfCost | None = None, insecure_ws: bool = False,
                       progress: backup.Progress | None = None) -> defer.Deferred[str]:
        """Restore the backup at `path` into `data_dir` as a new device of its account,
        signed in with the account `password` (the relay must be reachable). Fires with
        the account's email (a str; its `.damaged` lists the shared files whose copy in
        the backup was damaged, restored as not downloaded); then `open` it. Refusals:
        BackupDecryptionFailed, CorruptBackup, BackupMissingEmail, StorageFull, WrongPassword,
        BackupError.
        `progress(stage, done, total)`: stages "checking", "signing in", "database",
        "media", "finishing"."""
        return restore(cls, RelayEndpoint(reactor, url, serializer, ca_file), data_dir,
                       path, passphrase, password, cost or KdfCost(), floor or KdfCost(),
                       insecure_ws, progress)


@defer.inlineCallbacks
def restore(make_client: Any, relay: RelayEndpoint, data_dir: str, path: str,
            passphrase: str, password: str, cost: KdfCost, floor: KdfCost,
            insecure_ws: bool, progress: backup.Progress | None) -> Any:
    report = backup.reporter(relay.reactor, progress)
    staging, lock = yield threads.deferToThread(_staging_dir, data_dir)
    try:
        contents = yield threads.deferToThread(_read, path, passphrase, report, staging)
        if is_set_up(data_dir, contents.email):
            raise BackupError("this account is already on this device: remove it "
                              "first to restore it from a backup")
        # Devices killed restores of this account left: gone before ours comes.
        yield orphans.withdraw(relay, data_dir, contents.email, password, floor)
        yield _restore_into(make_client, relay, data_dir, staging, contents, password,
                            cost, floor, insecure_ws, report)
    finally:
        # A device this restore enrolled and could not withdraw: the next one will.
        yield threads.deferToThread(orphans.collect, staging, data_dir)
        shutil.rmtree(staging, ignore_errors=True)
        lock.release()
    if contents.damaged:
        log.warn("restored {email}; damaged in the backup, so not restored: {damaged}",
                 email=contents.email, damaged="; ".join(contents.damaged))
    return restore_media.RestoredAccount(contents.email, contents.damaged)


@defer.inlineCallbacks
def _restore_into(make_client: Any, relay: RelayEndpoint, data_dir: str, staging: str,
                  contents: _Backup, password: str, cost: KdfCost, floor: KdfCost,
                  insecure_ws: bool, report: backup.Progress) -> Any:
    report("signing in", 0, 1)
    try:
        client = yield account.login(
            make_client, relay, staging, contents.email, password, cost, contents.mnemonic,
            floor, insecure_ws, lambda device: orphans.record(staging, contents.email, device))
    except WrongRecoveryPhrase:
        raise BackupError("the master key in this backup is no longer this account's "
                          "(the account was reset since)") from None
    report("signing in", 1, 1)
    credentials = kept = None
    try:
        credentials = yield client.password_credentials(password)
        if client._ctx.secrets.identity_seed != contents.identity_seed:
            raise BackupError("the identity key in this backup is not this account's")
        kept = yield _keep_mfa_secret(client, contents.account)
        yield client.store.run(_import_account, contents.account, contents.me)
        report("database", 1, 1)
        yield threads.deferToThread(_restore_vault, client.account_dir, contents, report)
        yield client.stop()
        report("finishing", 0, 1)
        user_id = client.me.user_id
        try:
            orphans.move_into_account(staging, user_id)
            os.rename(os.path.join(staging, user_id), os.path.join(data_dir, user_id))
        except OSError as e:
            raise _storage_error(e) from None
        orphans.forget_in_account(os.path.join(data_dir, user_id))
    except BaseException:
        if kept is not None:
            yield threads.deferToThread(client.mfa.forget_kept, kept)
        yield client.stop()  # nothing if stopped already
        if credentials is not None:
            yield relay.call_once(credentials, {}, uris.DEVICE_REMOVE,
                                  client.me.device_id).addCallbacks(
                lambda _: orphans.forget(staging), lambda _: None)
        raise
    remember(data_dir, contents.email)
    report("finishing", 1, 1)


@defer.inlineCallbacks
def _keep_mfa_secret(client: Any, tables: Tables) -> Any:
    """The vault's MFA secret, which the backup carries itself, goes where a new one
    goes (client.totp `keep_secret`: the OS keychain where there is one, else the
    sealed database); the row to import then holds what a provisioned one holds.
    Fires with that, or None without MFA."""
    columns, rows = tables["vault_mfa"]
    if not rows:
        return None
    at = columns.index("secret")
    secret = rows[0][at]
    if not isinstance(secret, str) or not secret:
        raise CorruptBackup(f"the backup's {backup.DB_EXPORT} is damaged (the MFA secret)")
    kept = yield threads.deferToThread(client.mfa.keep_secret, secret)
    tables["vault_mfa"] = (columns, [(*rows[0][:at], kept, *rows[0][at + 1:]), *rows[1:]])
    return kept


def _staging_dir(data_dir: str) -> str:
    """A new staging directory, locked while this restore runs (`flock`: the kernel
    lets go if the process dies), after removing those a killed restore left, never
    one another restore holds. Fires with (directory, its lock)."""
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        for name in os.listdir(data_dir):
            if name.startswith(STAGING_PREFIX):
                left = AccountLock(os.path.join(data_dir, name))
                if left.acquire():
                    orphans.collect(left.account_dir, data_dir)  # its device, withdrawn
                    shutil.rmtree(left.account_dir, ignore_errors=True)
                    left.release()
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir)
        lock = AccountLock(staging)
        lock.acquire()
        return staging, lock
    except OSError as e:
        raise _storage_error(e) from None


def _storage_error(e: OSError) -> ClientError:
    return storage_full(e, "free some space and restore again") or BackupError(
        f"could not write to the data directory: {e.strerror}")


# --- reading the backup (on a thread) ---------------------------------------------------


def _read(path: str, passphrase: str, report: backup.Progress, staging: str) -> _Backup:
    """The backup checked and unzipped in one pass (crypto.backup_extract): the small
    members into memory, the media into `staging`/incoming/ (moved into the account
    once it exists); then parsed."""
    incoming = os.path.join(staging, INCOMING)
    numbers = itertools.count()

    def choose(info: zipfile.ZipInfo) -> str | None:
        name = info.filename
        if name in (backup.METADATA, backup.MASTER_KEY, backup.IDENTITY_PRIVATE,
                    backup.IDENTITY_PUBLIC, backup.DB_EXPORT):
            limit = MAX_EXPORT_BYTES if name == backup.DB_EXPORT else MAX_SMALL_MEMBER
            if max(info.file_size, info.compress_size) > limit:
                raise CorruptBackup(f"the backup's {name} is larger than any backup writes")
            return backup_extract.KEEP
        if name.startswith(backup.SHARED_MEDIA) and not info.is_dir():
            return os.path.join(incoming, str(next(numbers)))
        return None

    try:
        os.makedirs(incoming, mode=0o700)
        found = backup_extract.extract(path, passphrase, choose,
                                       lambda done, total: report("checking", done, total))
    except WrongPassphrase:
        raise BackupDecryptionFailed(DECRYPTION_FAILED) from None
    except TruncatedBackup as e:
        raise CorruptBackup(f"the backup file is damaged: {e}") from None
    except BackupFormatError as e:
        raise CorruptBackup(f"the backup is damaged ({e})") from None
    except backup_extract.WriteFailed as e:
        raise _storage_error(e.error) from None
    except OSError as e:
        raise BackupError(f"cannot read the backup file: {e.strerror}") from None
    return _parse(found)


def _member(found: backup_extract.Extracted, name: str) -> bytes | None:
    if name in found.damaged:
        raise CorruptBackup(f"the backup is damaged (ZIP parse error in {name}: "
                            f"{found.damaged[name]})")
    return found.kept.get(name)


def _json(found: backup_extract.Extracted, name: str) -> Any:
    data = _member(found, name)
    if data is None:
        raise CorruptBackup(f"the backup has no {name}")
    try:
        return json.loads(data)
    except ValueError:
        raise CorruptBackup(f"the backup's {name} is damaged") from None


def _parse(found: backup_extract.Extracted) -> _Backup:
    metadata_bytes = _member(found, backup.METADATA)
    try:
        metadata = json.loads(metadata_bytes) if metadata_bytes is not None else None
        email = metadata.get("email") if isinstance(metadata, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise ValueError
        email = normalise_email(email)
    except ValueError:
        raise BackupMissingEmail(MISSING_EMAIL) from None
    mnemonic = (_member(found, backup.MASTER_KEY) or b"").decode("utf-8", "replace").strip()
    private = _json(found, backup.IDENTITY_PRIVATE)
    export = _json(found, backup.DB_EXPORT)
    try:
        seed = bytes.fromhex(private["identity_seed"])
        parts = export["account"], export.get("vault", {"schema_version": 0, "tables": {}})
        account_tables = _migrated(parts[0], MIGRATIONS, (*ACCOUNT_TABLES, "me"))
        vault_tables = _migrated(parts[1], VAULT_MIGRATIONS, VAULT_TABLES)
    except (KeyError, TypeError, ValueError, AttributeError, sqlite3.Error) as e:
        raise CorruptBackup(f"the backup's {backup.DB_EXPORT} is damaged "
                            f"({type(e).__name__}: {e})") from None
    if not mnemonic or len(seed) != 32:
        raise CorruptBackup("the backup's keys are missing or damaged")
    columns, rows = account_tables.pop("me")
    me = dict(zip(columns, rows[0], strict=True)) if rows else {}
    if user_id_for_email(email) != metadata.get("user_id", user_id_for_email(email)):
        raise CorruptBackup("the backup's metadata.json is damaged")
    vault_media = _vault_media(found, vault_tables)
    shared, damaged = restore_media.shared_files(found, account_tables)
    return _Backup(email, mnemonic, seed, account_tables, vault_tables, me,
                   vault_media, shared, damaged)


def _vault_media(found: backup_extract.Extracted, vault_tables: Tables) -> list[tuple[str, str]]:
    """(vault item id, the file its sealed content was unzipped to), every file item's."""
    file_ids = {row[0] for row in vault_tables["vault_items"][1] if row[1] == "file"}
    media = {}
    for info in found.members:
        if info.filename.startswith(backup.VAULT_MEDIA):
            item_id = info.filename[len(backup.VAULT_MEDIA):]
            if item_id not in file_ids or not item_id.isalnum():
                continue
            if info.filename in found.damaged:
                raise CorruptBackup(f"the backup's copy of a vault file ({info.filename}) is "
                                    f"damaged: {found.damaged[info.filename]}")
            media[item_id] = found.written[info.filename]
    if set(media) != file_ids:
        raise CorruptBackup("the backup lacks some of the vault's files")
    return sorted(media.items())


def _migrated(part: dict[str, Any], steps: list[Step], wanted: tuple[str, ...]) -> Tables:
    """The rows of `wanted` tables at this version's schema: inserted into an in-memory
    database at the backup's version, which the migrations then bring up to date."""
    version = part["schema_version"]
    tables = part["tables"]
    if not isinstance(version, int) or not isinstance(tables, dict) or version < 0:
        raise ValueError("no schema version")
    if version > len(steps):
        raise BackupError("this backup was made by a newer version of SecureChat: update "
                          "SecureChat to restore it")
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, steps[:version])
        conn.execute("BEGIN")
        for table, rows in tables.items():
            if not isinstance(table, str) or not isinstance(rows, list):
                raise ValueError("a table is not a list of rows")
            known = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            if not known:
                raise ValueError(f"no table {table!r} at schema version {version}")
            for row in rows:
                if not set(row) <= known:
                    raise ValueError(f"unknown columns in {table}")
                columns = list(row)
                conn.execute(
                    f'INSERT INTO "{table}" ({", ".join(columns)}) '  # noqa: S608 - checked names
                    f'VALUES ({", ".join("?" * len(columns))})',
                    [backup.decode_value(row[c]) for c in columns])
        conn.execute("COMMIT")
        migrate(conn, steps)
        result: Tables = {}
        for table in wanted:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our names
            result[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        return result
    finally:
        conn.close()


# --- writing it (database thread, then a thread) ---------------------------------------


def _import_account(conn: sqlite3.Connection, tables: Tables, me: dict[str, Any]) -> None:
    """On the new device's database thread: the backup's rows, in dependency order."""
    if me:
        conn.execute("UPDATE me SET public_name = ?, name_version = ?, avatar_version = ?, "
                     "avatar = ?", [me.get(c) for c in ME_COLUMNS])
    for table in ACCOUNT_TABLES:
        columns, rows = tables[table]
        conn.executemany(
            f'INSERT OR REPLACE INTO "{table}" ({", ".join(columns)}) '  # noqa: S608
            f'VALUES ({", ".join("?" * len(columns))})', rows)


def _restore_vault(account_dir: str, contents: _Backup, report: backup.Progress) -> None:
    vault_dir = os.path.join(account_dir, VAULT_DIR)
    files_dir = os.path.join(vault_dir, FILES_DIR)
    try:
        os.makedirs(files_dir, mode=0o700, exist_ok=True)
        path = os.path.join(vault_dir, DATABASE)
        encrypted_sqlite.prepare(path, None)  # created 0600
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            migrate(conn, VAULT_MIGRATIONS)
            conn.execute("BEGIN")
            for table in VAULT_TABLES:
                columns, rows = contents.vault[table]
                conn.executemany(
                    f'INSERT INTO "{table}" ({", ".join(columns)}) '  # noqa: S608
                    f'VALUES ({", ".join("?" * len(columns))})', rows)
            conn.execute("COMMIT")
        finally:
            conn.close()
        report("media", 0, 1)
        for item_id, unzipped in contents.vault_media:  # synced already: renames
            os.replace(unzipped, os.path.join(files_dir, item_id))
        restore_media.move_into(account_dir, contents.shared)
        report("media", 1, 1)
    except OSError as e:
        raise _storage_error(e) from None
