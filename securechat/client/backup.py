"""Creating the encrypted backup of an account, in the spec's format.

The file (crypto.backup_format) is `salt ‖ iv ‖ AES-256-GCM(zip)` under a key
PBKDF2-HMAC-SHA256 (100,000 iterations) derives from the backup passphrase. The zip:

    metadata.json        {"format": 1, "app": "securechat", "email", "user_id",
                          "created_at" (ms), "schema_version", "vault_schema_version"}
    master_key.txt       the 12-word recovery phrase (the master key)
    identity_priv.json   {"identity_seed": hex}   the account's Ed25519 private key
    identity_pub.json    {"identity_public": hex, "user_id"}
    db_export.json       {"format": 1,
                          "account": {"schema_version": N, "tables": {name: [row, ...]}},
                          "vault":   {"schema_version": M, "tables": {name: [row, ...]}}}
                         every table of both databases, a row an object by column; a
                         BLOB is {"base64": "..."}
    media/vault/<id>     each vault file's content, still sealed under the vault key
    media/<filename>     each shared file kept here (client.files: `vault_<message id>`,
                         a `media` row's filename), still encrypted under its file key,
                         as it is in the account's media/ directory: those downloaded
                         or sent from here; the others stay references (their rows)

Not inside: this device's keys (its relay signing key, its Olm account and sessions
are in the export but sealed under the device's local key, which is not), the SCRAM
password parameters, any token. A restore is a new device of the account (restore.py).
Where the OS keychain holds the MFA secret, the export carries the secret itself in
the `vault_mfa` row, so that the authenticator app keeps working after a restore.

Streamed: the zip is written through the encrypting writer as it is made, media in
1 MiB pieces, so a backup of gigabytes of media needs a few MiB of memory (the
database export is held whole: its size is the messages', not the media's).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sqlite3
import time
import zipfile
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, threads
from twisted.python import threadable

from securechat.client.context import ClientContext
from securechat.client.errors import BackupError, ClientError
from securechat.client.keys import AccountSecrets
from securechat.client.model import MediaStatus
from securechat.client.secrets import SecretStore
from securechat.client.storage import MIGRATIONS
from securechat.client.totp import Mfa
from securechat.client.vault import Vault
from securechat.client.vault_store import MIGRATIONS as VAULT_MIGRATIONS
from securechat.client.vault_store import storage_full
from securechat.crypto.backup_format import CHUNK, EncryptingWriter
from securechat.writebehind import open_write_behind

FORMAT = 1
METADATA = "metadata.json"
MASTER_KEY = "master_key.txt"
IDENTITY_PRIVATE = "identity_priv.json"
IDENTITY_PUBLIC = "identity_pub.json"
DB_EXPORT = "db_export.json"
VAULT_MEDIA = "media/vault/"
SHARED_MEDIA = "media/"  # + a media row's filename
SHARED_DIR = "media"  # in the account directory (client.files)
# Shared files whose encrypted copy here is whole (client.files keeps it at rest).
KEPT_STATUSES = (MediaStatus.DONE, MediaStatus.SENT, MediaStatus.UPLOADING)
MIN_PASSPHRASE = 8
# (stage, done, total): "database", "media", "encrypting" while creating; see restore.py
Progress = Callable[[str, int, int], None]


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"a backup passphrase has at least {MIN_PASSPHRASE} characters")


def encode_value(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"base64"} or not isinstance(value["base64"], str):
            raise ValueError("a value is an object other than {\"base64\": ...}")
        return base64.b64decode(value["base64"], validate=True)
    if isinstance(value, list):
        raise ValueError("a value is a list")
    return value


def dump_tables(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every table of the database (SQLite's own bookkeeping aside), in one read."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND "
                        "name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    # A virtual table (the FTS5 message search) and its shadow tables are an index the
    # schema's triggers rebuild from the tables it indexes: not data to back up.
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL")]
    tables = [name for name, _ in rows
              if not any(name == v or name.startswith(v + "_") for v in virtual)]
    dump = {}
    for table in tables:
        cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
        columns = [d[0] for d in cursor.description]
        dump[table] = [{c: encode_value(v) for c, v in zip(columns, row, strict=True)}
                       for row in cursor]
    return dump


def _schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


@defer.inlineCallbacks
def create(ctx: ClientContext, vault: Vault, mfa: Mfa, path: str, passphrase: str,
           password: str | None, code: str | None = None,
           progress: Progress | None = None) -> Any:
    """Write the backup of this account to `path` (replaced only once complete). A
    backup holds the recovery phrase, so it takes what the vault takes and more: the
    master password, checked here (WrongPassword), and the vault's MFA code when MFA is
    on (a recovery code works too), whoever has the open app in hand. StorageFull if
    the disk fills up."""
    check_passphrase(passphrase)
    if not password:
        raise ClientError("a backup holds your recovery phrase: it needs your master password")
    keys = yield threads.deferToThread(
        SecretStore(ctx.account_dir, ctx.me.user_id, password).load)
    if (yield mfa.is_enabled()):
        yield mfa.verify(code)
    secrets = AccountSecrets(bytes.fromhex(keys["identity_seed"]), keys["mnemonic"])
    account = yield ctx.store.run(lambda c: (_schema_version(c), dump_tables(c)))
    mfa_secret = yield mfa.exported_secret()
    for row in account[1].get("vault_mfa", []):
        row["secret"] = mfa_secret
    vault_tables = yield vault.store.run(lambda c: (_schema_version(c), dump_tables(c)))
    export = {"format": FORMAT,
              "account": {"schema_version": account[0], "tables": account[1]},
              "vault": {"schema_version": vault_tables[0], "tables": vault_tables[1]}}
    files = [(VAULT_MEDIA + row["id"], os.path.join(vault.store.files_dir, row["id"]))
             for row in vault_tables[1].get("vault_items", []) if row["type"] == "file"]
    shared_dir = os.path.join(ctx.account_dir, SHARED_DIR)
    files += [(SHARED_MEDIA + row["filename"], os.path.join(shared_dir, row["filename"]))
              for row in account[1].get("media", []) if row["status"] in KEPT_STATUSES]
    metadata = {"format": FORMAT, "app": "securechat", "email": ctx.me.email,
                "user_id": ctx.me.user_id, "created_at": int(time.time() * 1000),
                "schema_version": len(MIGRATIONS), "vault_schema_version": len(VAULT_MIGRATIONS)}
    keys_files = {
        MASTER_KEY: secrets.mnemonic.encode(),
        IDENTITY_PRIVATE: json.dumps({"identity_seed": secrets.identity_seed.hex()}).encode(),
        IDENTITY_PUBLIC: json.dumps({"identity_public": secrets.identity_public.hex(),
                                     "user_id": ctx.me.user_id}).encode(),
    }
    report = reporter(ctx.reactor, progress)
    yield threads.deferToThread(_write, path, passphrase, metadata, keys_files, export,
                                files, report)


def reporter(reactor: Any, progress: Progress | None) -> Progress:
    """`progress` called on the reactor thread, from whichever thread reports."""
    def report(stage: str, done: int, total: int) -> None:
        if progress is None:
            return
        if threadable.isInIOThread():
            progress(stage, done, total)
        else:
            reactor.callFromThread(progress, stage, done, total)
    return report


def _write(path: str, passphrase: str, metadata: dict[str, Any], keys: dict[str, bytes],
           export: dict[str, Any], files: list[tuple[str, str]],
           progress: Progress) -> None:
    """On a thread: the zip, encrypted as it is written, into `path`.partial, then
    renamed; `files` the media, (name in the zip, path here). Nothing is left behind on
    failure. A shared file gone meanwhile (deleted with its conversation) is left out:
    its row, if still in the export, is restored as not downloaded."""
    partial = path + ".partial"
    buffer = bytearray(CHUNK)  # each media file read into it in turn: no copy per piece
    view = memoryview(buffer)
    sizes = {}
    for name, source in files:
        try:
            sizes[name] = os.path.getsize(source)
        except FileNotFoundError:
            if name.startswith(VAULT_MEDIA):
                raise
    total, done = sum(sizes.values()), 0
    try:
        # Not through a link someone planted; and 0600 even if the file was there.
        # Written behind (securechat.writebehind): a few MiB of page cache, not the
        # backup's size, and the disk busy while we encrypt.
        raw = open_write_behind(partial, os.O_NOFOLLOW)
        os.fchmod(raw.fileno(), 0o600)
        with raw, io.BufferedWriter(raw, CHUNK) as out:
            writer = EncryptingWriter(out, passphrase)
            with zipfile.ZipFile(writer, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(METADATA, json.dumps(metadata))
                for name, data in keys.items():
                    zf.writestr(name, data)
                progress("database", 0, 1)
                zf.writestr(DB_EXPORT, json.dumps(export))
                progress("database", 1, 1)
                for name, source in files:  # sealed already: stored, not compressed
                    if name not in sizes:
                        continue
                    try:
                        src = open(source, "rb", buffering=0)
                    except FileNotFoundError:
                        if name.startswith(VAULT_MEDIA):
                            raise
                        continue
                    info = zipfile.ZipInfo(name, time.localtime()[:6])
                    info.compress_type = zipfile.ZIP_STORED
                    with src, zf.open(info, "w", force_zip64=True) as dst:
                        while n := src.readinto(buffer):
                            dst.write(view[:n])
                            done += n
                            progress("media", done, total)
            writer.close()
            out.flush()
            raw.sync()
        os.replace(partial, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        full = storage_full(e, "free some space, or save the backup elsewhere")
        if full is not None:
            raise full from None
        if isinstance(e, OSError):
            raise BackupError(f"could not write the backup: {e.strerror}") from None
        raise

