"""The secure vault: passwords, notes and files, behind the local MFA code.

Unlocking follows the spec: the TOTP code first (client.totp; skipped if MFA is off),
then the master key (the 12-word recovery phrase), then the vault key:
PBKDF2-HMAC-SHA256(phrase, stored 16-byte salt, 100,000 iterations) → AES-256-GCM.
Each item's title and data are one JSON object sealed under that key (`SCV1`), bound
to the account, the item id and its type; a file item's content is sealed as its own
file, in chunks (client.vault_files). The vault is stored apart from the main
database (client.vault_store).

Where the key comes from when the account was opened with the PIN: the PIN unseals
only this device's keys, never the recovery phrase (client.pin). Rather than seal the
vault key under the PIN too — a 6-digit PIN that, without an OS keychain, can be
guessed offline from a copy of the account directory — unlocking then also asks the
master password, which opens the phrase (`VaultPasswordNeeded` says so). The price is
typing the password once per vault unlock on a PIN-opened account; the gain is that
the vault is never weaker than the master password plus the MFA code.

The key is held by `VaultLock` (locked / unlocking / unlocked) only while unlocked; it
is forgotten after `idle_seconds` without a vault operation, by `lock()`, and when the
client stops. Decrypted titles are kept while unlocked (search), never data.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from typing import Any

from twisted.internet import defer, threads

import securechat.client.vault_files as vault_files
from securechat.client.context import ClientContext
from securechat.client.errors import (
    ClientError,
    StorageFull,
    VaultCorrupted,
    VaultPasswordNeeded,
    WrongPassword,
)
from securechat.client.model import VaultItem, VaultItemType
from securechat.client.secrets import SecretStore
from securechat.client.totp import Mfa
from securechat.client.vault_lock import VaultLock
from securechat.client.vault_store import Row, VaultStore, storage_full
from securechat.crypto.backup_format import derive_key
from securechat.crypto.sealing import KeySealing, SealingError, WrongKey

DEFAULT_QUOTA = 1 << 30  # bytes of sealed items and files
RESET_CONFIRMATION = "RESET"  # what `reset` must be given: the user said yes, explicitly
MAX_TITLE = 200
_CHECK = KeySealing(b"SCV0")  # a known plaintext: this key is the vault's
_ITEM = KeySealing(b"SCV1")
_CHECK_TEXT = b"securechat vault v1"
_FIELDS = {
    VaultItemType.PASSWORD: ("username", "password", "url", "notes"),
    VaultItemType.NOTE: ("text",),
    VaultItemType.FILE: ("name", "mime", "size"),
}


def _now_ms() -> int:
    return int(time.time() * 1000)


class Vault:
    """One account's vault (see the module docstring); `client.vault`."""

    def __init__(self, ctx: ClientContext, mfa: Mfa, quota: int = DEFAULT_QUOTA) -> None:
        self._ctx = ctx
        self._mfa = mfa
        self.store = VaultStore(ctx.account_dir, ctx.reactor)
        self.lock_state = VaultLock(ctx.reactor)
        self.lock_state.on_lock.append(self._titles_gone)
        self.quota = quota
        self._titles: dict[str, VaultItem] = {}

    # --- locking ----------------------------------------------------------------------

    @property
    def is_unlocked(self) -> bool:
        return self.lock_state.is_unlocked

    @property
    def needs_password(self) -> bool:
        """Whether `unlock` needs the master password (the account was opened with the
        PIN)."""
        return self._ctx.secrets is None

    @property
    def idle_seconds(self) -> float:
        return self.lock_state.idle_seconds

    @idle_seconds.setter
    def idle_seconds(self, seconds: float) -> None:
        self.lock_state.idle_seconds = seconds

    @defer.inlineCallbacks
    def unlock(self, code: str | None = None, password: str | None = None) -> Any:
        """The MFA code (if MFA is on: InvalidCode, MfaLockedOut), then the master key
        (with `password` if the account was opened with the PIN: VaultPasswordNeeded,
        WrongPassword), then the vault key (VaultCorrupted if it does not fit)."""
        if self.is_unlocked:
            self.lock_state.touch()
            return
        self.lock_state.begin()
        try:
            yield self._mfa.verify(code)
            phrase = yield self._phrase(password)
            key = yield self._vault_key(phrase)
            titles = yield self._read_titles(key)
        except BaseException:
            self.lock_state.failed()
            raise
        self._titles = titles
        self.lock_state.opened(key)

    def lock(self) -> None:
        self.lock_state.lock()

    @defer.inlineCallbacks
    def close(self) -> Any:
        """The client stops: lock, and close the vault's database."""
        self.lock()
        yield self.store.close()

    # --- items ------------------------------------------------------------------------

    def items(self, query: str = "") -> list[VaultItem]:
        """The items whose title contains `query` (any case), by title."""
        self.lock_state.key()
        needle = query.casefold()
        return sorted((i for i in self._titles.values() if needle in i.title.casefold()),
                      key=lambda i: (i.title.casefold(), i.created_at))

    search = items

    def add_password(self, title: str, password: str, username: str = "", url: str = "",
                     notes: str = "") -> defer.Deferred[VaultItem]:
        return self._add(VaultItemType.PASSWORD, title, {
            "username": username, "password": password, "url": url, "notes": notes})

    def add_note(self, title: str, text: str) -> defer.Deferred[VaultItem]:
        return self._add(VaultItemType.NOTE, title, {"text": text})

    @defer.inlineCallbacks
    def add_file(self, title: str, path: str, mime: str = "application/octet-stream") -> Any:
        """Import the file at `path`, sealed (the original is left as it is)."""
        key = self.lock_state.key()
        item_id = uuid.uuid4().hex
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise ClientError(f"cannot read {os.path.basename(path)}: {e.strerror}") from None
        yield self._check_room(size)
        context = self._context(item_id, VaultItemType.FILE)

        def seal_and_write() -> None:
            try:
                src = open(path, "rb")
            except OSError as e:
                raise ClientError(f"cannot read {os.path.basename(path)}: "
                                  f"{e.strerror}") from None
            with src:  # streamed: a chunk in memory at a time, whatever the size
                self.store.write_file(item_id, lambda out: vault_files.seal(src, out, key,
                                                                            context))
        yield threads.deferToThread(seal_and_write)
        try:
            item = yield self._add(VaultItemType.FILE, title, {
                "name": os.path.basename(path), "mime": mime, "size": size},
                item_id=item_id, size=size)
        except BaseException:
            self.store.remove_file(item_id)
            raise
        return item

    @defer.inlineCallbacks
    def get(self, item_id: str) -> Any:
        """Deferred[dict]: the item's data (a password item: username, password, url,
        notes; a note: text; a file: name, mime, size) and its title."""
        key = self.lock_state.key()
        row = yield self._row(item_id)
        title, data = self._open_row(row, key)
        return {"title": title, **data}

    @defer.inlineCallbacks
    def edit(self, item_id: str, title: str | None = None, **fields: Any) -> Any:
        """Change the title and/or data fields (`password="..."`); Deferred[VaultItem]."""
        key = self.lock_state.key()
        row = yield self._row(item_id)
        old_title, data = self._open_row(row, key)
        kind = VaultItemType(row[1])
        unknown = set(fields) - set(_FIELDS[kind]) or (
            set(fields) & {"name", "mime", "size"} if kind == VaultItemType.FILE else set())
        if unknown:
            raise ClientError(f"a {kind.value} item has no field {sorted(unknown)[0]}")
        data.update({k: str(v) for k, v in fields.items()})
        item = yield self._write(row[0], kind, title if title is not None else old_title,
                                 data, row[2], row[4])
        return item

    @defer.inlineCallbacks
    def delete(self, item_id: str) -> Any:
        self.lock_state.key()
        row = yield self._row(item_id)
        yield self.store.delete(item_id)
        if row[1] == VaultItemType.FILE:
            self.store.remove_file(item_id)
        self._titles.pop(item_id, None)

    @defer.inlineCallbacks
    def export_file(self, item_id: str, path: str) -> Any:
        """Write a file item's content, decrypted, to `path` (created 0600)."""
        key = self.lock_state.key()
        row = yield self._row(item_id)
        if row[1] != VaultItemType.FILE:
            raise ClientError("this vault item is not a file")
        context = self._context(item_id, VaultItemType.FILE)

        def read_and_write() -> None:
            # Decrypted chunk by chunk into a private temporary file beside `path`,
            # renamed onto it only once every chunk authenticated: a damaged file
            # leaves nothing behind, and `path` as it was.
            partial = path + ".partial"
            try:
                with self.store.open_file(item_id) as src:
                    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                                 | os.O_NOFOLLOW, 0o600)
                    os.fchmod(fd, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        vault_files.open_sealed(src, out, key, context)
                os.replace(partial, path)  # replaces a link at `path`, never follows it
            except BaseException as e:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(partial)
                if isinstance(e, SealingError):
                    raise VaultCorrupted("this vault file is damaged: you may delete "
                                         "it") from None
                full = storage_full(e)
                if full is not None:
                    raise full from None
                raise
        yield threads.deferToThread(read_and_write)

    @defer.inlineCallbacks
    def reset(self, confirmation: str) -> Any:
        """Delete every item and start an empty vault (for a damaged one). Only with
        `confirmation` == RESET_CONFIRMATION: the user confirmed, explicitly."""
        if confirmation != RESET_CONFIRMATION:
            raise ClientError(f"resetting the vault deletes every item in it: confirm "
                              f"with {RESET_CONFIRMATION!r}")
        self.lock()
        yield self.store.wipe()

    # --- internals --------------------------------------------------------------------

    def _titles_gone(self) -> None:
        self._titles = {}

    @defer.inlineCallbacks
    def _phrase(self, password: str | None) -> Any:
        if self._ctx.secrets is not None:
            return self._ctx.secrets.mnemonic
        if password is None:
            raise VaultPasswordNeeded("this account was opened with the PIN: the vault "
                                      "also needs the master password")
        me = self._ctx.me
        try:
            keys = yield threads.deferToThread(
                SecretStore(self._ctx.account_dir, me.user_id, password).load)
        except WrongPassword:
            raise WrongPassword("Invalid passphrase: the master password is wrong") from None
        return keys["mnemonic"]

    @defer.inlineCallbacks
    def _vault_key(self, phrase: str) -> Any:
        meta = yield self.store.meta()
        context = self._context("check", "")
        if meta is None:  # the first unlock makes the vault
            salt = os.urandom(16)
            key = yield threads.deferToThread(derive_key, phrase, salt)
            yield self.store.set_meta(salt, _CHECK.seal(_CHECK_TEXT, key, context), _now_ms())
            return key
        salt, check = meta
        key = yield threads.deferToThread(derive_key, phrase, bytes(salt))
        try:
            ok = _CHECK.open(bytes(check), key, context) == _CHECK_TEXT
        except WrongKey:
            ok = False
        except SealingError:
            raise VaultCorrupted("the vault's key check is damaged: you may reset the "
                                 "vault") from None
        if not ok:
            raise VaultCorrupted("the vault does not open with this account's master key "
                                 "(damaged, or another account's): you may reset it")
        return key

    @defer.inlineCallbacks
    def _read_titles(self, key: bytes) -> Any:
        rows = yield self.store.rows()
        titles = {}
        for row in rows:
            title, _ = self._open_row(row, key)
            titles[row[0]] = VaultItem(row[0], VaultItemType(row[1]), title, row[2], row[3],
                                       row[4])
        return titles

    @defer.inlineCallbacks
    def _row(self, item_id: str) -> Any:
        row = yield self.store.row(item_id)
        if row is None:
            raise ClientError("no such vault item")
        return row

    def _open_row(self, row: Row, key: bytes) -> tuple[str, dict[str, Any]]:
        try:
            kind = VaultItemType(row[1])
            fields = json.loads(_ITEM.open(bytes(row[5]), key, self._context(row[0], kind)))
            return str(fields["title"]), dict(fields["data"])
        except (SealingError, ValueError, KeyError, TypeError):
            raise VaultCorrupted("a vault item is damaged: you may reset the vault") from None

    def _context(self, item_id: str, kind: str) -> bytes:
        return f"vault:{self._ctx.me.user_id}:{item_id}:{kind}".encode()

    @defer.inlineCallbacks
    def _check_room(self, more: int) -> Any:
        used = yield self.store.used_bytes()
        if used + more > self.quota:
            raise StorageFull("Storage full: the vault is at its size limit, delete some "
                              "items")

    def _add(self, kind: VaultItemType, title: str, data: dict[str, Any],
             item_id: str | None = None, size: int = 0) -> defer.Deferred[VaultItem]:
        self.lock_state.key()
        now = _now_ms()
        return self._write(item_id or uuid.uuid4().hex, kind, title, data, now, size)

    @defer.inlineCallbacks
    def _write(self, item_id: str, kind: VaultItemType, title: str, data: dict[str, Any],
               created: int, size: int) -> Any:
        title = title.strip()
        if not title or len(title) > MAX_TITLE:
            raise ClientError(f"a vault item needs a title of 1 to {MAX_TITLE} characters")
        key = self.lock_state.key()
        sealed = _ITEM.seal(json.dumps({"title": title, "data": data}).encode(), key,
                            self._context(item_id, kind))
        old = self._titles.get(item_id)
        yield self._check_room(len(sealed) + (0 if old is not None else size))
        now = max(_now_ms(), created)
        yield self.store.put((item_id, kind.value, created, now, size, sealed))
        item = VaultItem(item_id, kind, title, created, now, size)
        if self.is_unlocked:
            self._titles[item_id] = item
        return item

