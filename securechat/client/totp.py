"""The vault's second factor: a local TOTP code (RFC 6238), checked on this device only.

The relay never hears of it. Per the spec: HMAC-SHA1, 6 digits, 30-second steps, and
a code of the step before or after is accepted too (a clock a little off). A code is
accepted once: a step at or before the last one accepted is refused (no replay of a
code seen over a shoulder).

- `provision` makes a 160-bit secret, its `otpauth://` URI (for the QR code) and ten
  recovery codes, shown once; nothing is enabled until `confirm` gets a first right
  code (so a badly scanned QR cannot lock the vault).
- `verify` is the gate `Vault.unlock` asks. After 5 wrong codes in a row each further
  try waits: 30 s, then doubling, at most an hour (`delay_after`); the count and the
  wait are stored, so quitting does not reset them. A recovery code works instead of
  a code, once.
- `disable` needs a right code (or a recovery code).

Where the secret is kept: in the OS keychain where there is one (the row names the
entry), else in the account's database, which is SQLCipher-encrypted under a key that
only the master password or the PIN unseals (the sealed fallback). Recovery codes are
stored as SHA-256 hashes (each has 50 random bits, so no slow hash is needed), and
compared in constant time, as are codes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets as random
import sqlite3
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import keyring
import keyring.errors
import pyotp
from twisted.internet import defer, threads

from securechat.client.context import ClientContext
from securechat.client.errors import ClientError, InvalidCode, MfaLockedOut
from securechat.client.model import MfaSetup
from securechat.client.secrets import SERVICE, keychain_available

ISSUER = "SecureChat"
DIGITS = 6
PERIOD = 30  # seconds
WINDOW = 1  # steps either side
FREE_TRIES = 5  # wrong codes before any delay
FIRST_DELAY = 30.0  # seconds, doubled for each further wrong code
MAX_DELAY = 3600.0
RECOVERY_CODES = 10
_KEYCHAIN = "keychain:"
_CODE = re.compile(r"[0-9]{6}")
_RECOVERY = re.compile(r"[A-Z2-7]{10}")


def code_at(secret: str, for_time: float, digits: int = DIGITS) -> str:
    """The code for `for_time` (Unix seconds): RFC 6238 with HMAC-SHA1 (pyotp)."""
    return pyotp.TOTP(secret, digits=digits, interval=PERIOD).at(int(for_time))


def delay_after(failures: int) -> float:
    """Seconds the next try waits after `failures` wrong codes in a row."""
    if failures < FREE_TRIES:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - FREE_TRIES))


def _hash(recovery_code: str) -> str:
    return hashlib.sha256(recovery_code.encode()).hexdigest()


def _normalise_recovery(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


class Mfa:
    """The TOTP gate of one account's vault. `clock` (Unix seconds) may be replaced
    (tests: a clock a step off, or past a delay)."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self.clock: Callable[[], float] = time.time

    # --- state ----------------------------------------------------------------------

    def is_enabled(self) -> defer.Deferred[bool]:
        return self._ctx.store.run(lambda c: bool((c.execute(
            "SELECT enabled FROM vault_mfa").fetchone() or (0,))[0]))

    # --- provisioning -----------------------------------------------------------------

    @defer.inlineCallbacks
    def provision(self) -> Any:
        """Deferred[MfaSetup]: a new secret (replacing one not yet confirmed). Refused
        while MFA is on: disable it first."""
        if (yield self.is_enabled()):
            raise ClientError("MFA is already on for this vault: turn it off first")
        yield self._forget_secret()
        secret = pyotp.random_base32()  # 32 characters: 160 bits, RFC 4226's advice
        codes = tuple(f"{c[:5]}-{c[5:]}" for c in (
            "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(10))
            for _ in range(RECOVERY_CODES)))
        stored = yield threads.deferToThread(self.keep_secret, secret)
        hashes = json.dumps([_hash(_normalise_recovery(c)) for c in codes])
        yield self._ctx.store.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO vault_mfa (id, secret, enabled, recovery) "
            "VALUES (1, ?, 0, ?)", (stored, hashes)) and None)
        email = self._ctx.me.email
        uri = (f"otpauth://totp/{quote(ISSUER)}:{quote(email)}?secret={secret}"
               f"&issuer={quote(ISSUER)}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}")
        return MfaSetup(secret, uri, codes)

    def confirm(self, code: str) -> defer.Deferred[None]:
        """The first right code turns MFA on (InvalidCode, MfaLockedOut otherwise)."""
        return self._check(code, lambda c: c.execute(
            "UPDATE vault_mfa SET enabled = 1"), need_enabled=False, recovery=False)

    def verify(self, code: str | None) -> defer.Deferred[None]:
        """Fires if MFA is off, or `code` (a TOTP or recovery code) is right; else
        InvalidCode or MfaLockedOut."""
        return self.is_enabled().addCallback(
            lambda on: self._check(code or "", lambda c: None) if on else None)

    @defer.inlineCallbacks
    def disable(self, code: str) -> Any:
        """Turn MFA off: takes a right code (or a recovery code)."""
        if not (yield self.is_enabled()):
            raise ClientError("MFA is not on for this vault")
        yield self._check(code, lambda c: None)
        yield self._forget_secret()

    @defer.inlineCallbacks
    def retry_after(self) -> Any:
        """Deferred[float]: seconds before a code is taken again after wrong ones (0
        when one is taken now), by `clock`; the UI counts them down."""
        row = yield self._ctx.store.run(lambda c: c.execute(
            "SELECT locked_until FROM vault_mfa").fetchone())
        return max(0.0, float(row[0]) - self.clock()) if row else 0.0

    # --- backup ---------------------------------------------------------------------

    @defer.inlineCallbacks
    def exported_secret(self) -> Any:
        """Deferred[str | None]: the secret itself (for an encrypted backup)."""
        stored = yield self._stored()
        if stored is None:
            return None
        secret = yield threads.deferToThread(self._read_secret, stored[0])
        return secret

    # --- internals ------------------------------------------------------------------

    def _stored(self) -> defer.Deferred[tuple[str, int] | None]:
        return self._ctx.store.run(lambda c: c.execute(
            "SELECT secret, enabled FROM vault_mfa").fetchone())

    @defer.inlineCallbacks
    def _check(self, code: str, on_success: Callable[[sqlite3.Connection], Any],
               need_enabled: bool = True, recovery: bool = True) -> Any:
        code = code.strip()
        kind = ("code" if _CODE.fullmatch(code) else
                "recovery" if recovery and _RECOVERY.fullmatch(_normalise_recovery(code))
                else None)
        if kind is None:  # a typo, not a guess: not counted
            raise InvalidCode("a code is the 6 digits your authenticator app shows")
        stored = yield self._stored()
        if stored is None or (need_enabled and not stored[1]):
            raise ClientError("MFA is not set up for this vault")
        secret = ((yield threads.deferToThread(self._read_secret, stored[0]))
                  if kind == "code" else "")
        now = self.clock()
        outcome = yield self._ctx.store.run(self._decide, secret, code, kind, now, on_success)
        if outcome is not None:
            raise outcome

    @staticmethod
    def _decide(c: sqlite3.Connection, secret: str, code: str, kind: str, now: float,
                on_success: Callable[[sqlite3.Connection], Any]) -> Exception | None:
        """On the database thread, in one transaction: the check and its bookkeeping."""
        failures, locked_until, last_step, recovery = c.execute(
            "SELECT failures, locked_until, last_step, recovery FROM vault_mfa").fetchone()
        if now < locked_until:
            return MfaLockedOut(locked_until - now)
        if kind == "code":
            totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
            step = int(now) // PERIOD
            matched = [s for s in range(step - WINDOW, step + WINDOW + 1)
                       if hmac.compare_digest(totp.generate_otp(s), code)]
            ok = bool(matched) and matched[0] > last_step
            if ok:
                c.execute("UPDATE vault_mfa SET last_step = ?", (matched[0],))
        else:
            wanted = _hash(_normalise_recovery(code))
            hashes = json.loads(recovery)
            left = [h for h in hashes if not hmac.compare_digest(h, wanted)]
            ok = len(left) < len(hashes)
            if ok:
                c.execute("UPDATE vault_mfa SET recovery = ?", (json.dumps(left),))
        if ok:
            c.execute("UPDATE vault_mfa SET failures = 0, locked_until = 0")
            on_success(c)
            return None
        failures += 1
        c.execute("UPDATE vault_mfa SET failures = ?, locked_until = ?",
                  (failures, now + delay_after(failures) if delay_after(failures) else 0))
        return InvalidCode()

    def _entry(self, slot: str) -> str:
        return f"{self._ctx.me.user_id}/totp/{slot}"

    def keep_secret(self, secret: str) -> str:
        """What the row stores: a keychain reference where there is a keychain (the
        secret then only there), else the secret, in the SQLCipher database (the sealed
        fallback). For a new secret, and for one a restore brings. Blocking: call
        from a thread."""
        if not keychain_available():
            return secret
        slot = os.urandom(8).hex()
        try:
            keyring.set_password(SERVICE, self._entry(slot), secret)
        except keyring.errors.KeyringError:
            return secret  # the sealed fallback
        return _KEYCHAIN + slot

    def _read_secret(self, stored: str) -> str:
        if not stored.startswith(_KEYCHAIN):
            return stored
        try:
            secret = keyring.get_password(SERVICE, self._entry(stored[len(_KEYCHAIN):]))
        except keyring.errors.KeyringError as e:
            raise ClientError(f"the system keychain did not give the MFA secret "
                              f"({type(e).__name__}): unlock it and try again") from None
        if secret is None:
            raise ClientError("the MFA secret is gone from the system keychain: use a "
                              "recovery code")
        return secret

    def forget_kept(self, stored: str) -> None:
        """Undo `keep_secret` (a restore that failed): its keychain entry, if any, goes.
        Blocking: call from a thread."""
        if stored.startswith(_KEYCHAIN):
            with contextlib.suppress(keyring.errors.KeyringError):
                keyring.delete_password(SERVICE, self._entry(stored[len(_KEYCHAIN):]))

    @defer.inlineCallbacks
    def _forget_secret(self) -> Any:
        stored = yield self._stored()
        yield self._ctx.store.run(lambda c: c.execute("DELETE FROM vault_mfa") and None)
        if stored is not None and stored[0].startswith(_KEYCHAIN):
            entry = self._entry(stored[0][len(_KEYCHAIN):])
            with contextlib.suppress(keyring.errors.KeyringError):
                yield threads.deferToThread(keyring.delete_password, SERVICE, entry)
