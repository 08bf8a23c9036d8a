"""Proof that whoever registers an email can read its mail (H1).

`sc.account.verify_email(user_id, email)` mails a one-time code to the address;
`sc.account.register(..., email_code)` spends it. The relay learns the email
only for this step: it keeps the code under the user id (the email's hash),
never the email itself, and nothing of it once the code is spent or expired.

The answer to `verify_email` is the same whether or not the account exists
(the owner of an existing account is mailed a note instead of a code, and a
code nobody knows is kept all the same), so neither call is a cheap
"is this email registered?" oracle (L1). Codes are 8 random digits, last
`email_code_ttl`, work once, allow `email_code_attempts` wrong tries per email,
and are compared in constant time. Codes live in memory: a relay restart
means asking for a new one.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from typing import Any, Protocol

import attrs
from twisted.internet import defer
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.protocol.keys import normalise_email, user_id_for_email
from securechat.relay import arguments
from securechat.relay.connections import address_key
from securechat.relay.context import Caller, RelayContext
from securechat.relay.errors import invalid, refuse
from securechat.relay.mailer import MailFailed

CODE_DIGITS = 8
CODES_KEPT = 3  # the latest codes mailed to one address all work (mail can be slow)
MAX_PENDING = 100_000  # emails with codes outstanding, the oldest forgotten first
MAX_EMAIL = 254


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> defer.Deferred[None]: ...


@attrs.define
class _Pending:
    codes: list[tuple[str, float]]  # (code, expires)
    attempts_left: int


class EmailVerification:
    log = Logger()

    def __init__(self, ctx: RelayContext, mailer: Mailer | None) -> None:
        config = ctx.config
        self._ctx = ctx
        self._config = config
        self._clock = ctx.clock
        self._mailer = mailer
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._per_email = ctx.buckets("email", config.email_codes_per_email_rate,
                                       config.email_codes_per_email_burst)
        self._per_source = ctx.buckets("code-source", config.email_codes_per_source_rate,
                                        config.email_codes_per_source_burst)

    @property
    def required(self) -> bool:
        return self._config.email_verification

    def procedures(self) -> dict[str, Any]:
        return {uris.ACCOUNT_VERIFY_EMAIL: self.verify_email}

    @defer.inlineCallbacks
    def verify_email(self, caller: Caller, user_id: Any, email: Any) -> Any:
        """Mail a code that registers this email's account (or, if it has one, a note)."""
        arguments.user_id("user_id", user_id)
        arguments.text("email", email, MAX_EMAIL)
        address = normalise_email(email)
        if "@" not in address or any(c.isspace() or c in "<>,;\"" for c in address):
            invalid("email is not an email address")
        if user_id_for_email(address) != user_id:
            invalid("user_id is not the id of this email (SHA-256 of the normalised email)")
        if not self.required:
            return {"required": False}
        wait = yield self._per_source.take(address_key(caller.peer))
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "too many code requests from this address",
                   retry_after=round(wait, 3))
        wait = yield self._per_email.take(user_id)
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "too many codes were mailed to this address lately",
                   retry_after=round(wait, 3))
        account = yield self._ctx.directory.account(user_id)
        code = yield self._issue(user_id)
        ttl = self._config.email_code_ttl
        assert self._mailer is not None
        if account is None:
            subject, body = _code_mail(code, ttl)
        else:
            # The code issued above is mailed to nobody: the answer and what is kept
            # look the same as for a new account.
            subject, body = _exists_mail()
        try:
            yield self._mailer.send(address, subject, body)
        except MailFailed as e:
            self._withdraw(user_id, code)
            refuse(uris.ERR_MAIL_FAILED, f"{e}; try again later")
        self.log.info("mailed a verification code, asked from {peer}", peer=caller.peer)
        return {"required": True, "expires_in": int(ttl)}

    def spend(self, user_id: str, code: Any) -> None:
        """Use up the email's code, or refuse the registration with a clear error."""
        if not self.required:
            return
        given = self.given_code(code).encode("ascii", "replace")
        now = self._clock.seconds()
        pending = self._pending.get(user_id)
        if pending is not None:
            pending.codes = [(c, expires) for c, expires in pending.codes if expires > now]
        if pending is None or not pending.codes:
            self._pending.pop(user_id, None)
            self.refuse_expired()
        matched = False
        for c, _ in pending.codes:  # every code compared: the time says nothing
            matched |= hmac.compare_digest(c.encode("ascii"), given)
        if matched:
            del self._pending[user_id]
            return
        pending.attempts_left -= 1
        if pending.attempts_left <= 0:
            del self._pending[user_id]
        self.refuse_wrong(pending.attempts_left)

    # The refusals of `spend` (shared with cluster_codes, which keeps codes in Redis).

    @staticmethod
    def given_code(code: Any) -> str:
        """The code as typed, checked and without its separators."""
        if code is None:
            refuse(uris.ERR_EMAIL_CODE_REQUIRED,
                   "this relay registers an email only with the code it mails there: "
                   f"call {uris.ACCOUNT_VERIFY_EMAIL} first")
        if type(code) is not str or len(code) > 32:
            invalid("email_code must be a string")
        return "".join(c for c in code if c not in " -")

    def refuse_expired(self) -> None:
        refuse(uris.ERR_EMAIL_CODE_EXPIRED,
               "there is no valid code for this email (codes last "
               f"{int(self._config.email_code_ttl // 60)} minutes and work once): "
               "ask for a new one")

    @staticmethod
    def refuse_wrong(attempts_left: int) -> None:
        if attempts_left <= 0:
            refuse(uris.ERR_EMAIL_CODE_EXPIRED,
                   "too many wrong codes for this email: ask for a new one", attempts_left=0)
        refuse(uris.ERR_EMAIL_CODE_WRONG, "this is not the code that was mailed",
               attempts_left=attempts_left)

    def _issue(self, user_id: str) -> str:
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        expires = self._clock.seconds() + self._config.email_code_ttl
        pending = self._pending.pop(user_id, None)
        codes = [*(pending.codes if pending else [])[-(CODES_KEPT - 1):], (code, expires)]
        self._pending[user_id] = _Pending(codes, self._config.email_code_attempts)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        return code

    def _withdraw(self, user_id: str, code: str) -> None:
        pending = self._pending.get(user_id)
        if pending is not None:
            pending.codes = [(c, e) for c, e in pending.codes if c != code]


def _code_mail(code: str, ttl: float) -> tuple[str, str]:
    shown = f"{code[:4]} {code[4:]}"
    return (f"Your SecureChat code: {shown}",
            f"Your SecureChat verification code is\n\n    {shown}\n\n"
            f"Enter it where you are creating your account. It works once, for the next "
            f"{int(ttl // 60)} minutes.\n\n"
            "If you did not ask for it, someone typed your address: ignore this mail and no "
            "account is made.\n")


def _exists_mail() -> tuple[str, str]:
    return ("Your SecureChat account",
            "Someone asked to create a SecureChat account for this address, but you already "
            "have one, so no code was sent.\n\n"
            "If it was you: sign in with your email and master password instead (or recover "
            "the account with your recovery phrase).\n"
            "If it was not you: ignore this mail; nothing has changed.\n")
