"""Registering proves the email: the relay mails a code, registration hands it back.

    mailed = yield request_email_code(reactor, url, email)   # False: relay doesn't ask
    client, mnemonic = yield SecureChatClient.register(..., email_code=code)

The relay learns the email here (it has to, to mail it) and keeps only the user
id after. It answers the same whether or not the email already has an account:
the owner of an existing one gets a note instead of a code.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.client.errors import (
    ClientError,
    EmailCodeRejected,
    EmailCodeRequired,
    MailFailed,
    WeakVerifier,
)
from securechat.client.wamp import Anonymous, connect
from securechat.protocol import uris
from securechat.protocol.keys import normalise_email, user_id_for_email

# What sc.account.register's refusals mean to a user (see core.SecureChatClient.register).
REGISTER_ERRORS: dict[str, ClientError] = {
    uris.ERR_EMAIL_CODE_REQUIRED: EmailCodeRequired(
        "this relay checks that you own the email: ask for a code, then enter the code "
        "it mails you"),
    uris.ERR_EMAIL_CODE_WRONG: EmailCodeRejected(
        "that is not the code in the mail; check it and try again", expired=False),
    uris.ERR_EMAIL_CODE_EXPIRED: EmailCodeRejected(
        "that code is no longer valid (codes last 15 minutes, work once and allow a few "
        "tries): ask for a new one", expired=True),
    uris.ERR_WEAK_VERIFIER: WeakVerifier(
        "the relay asks for stronger password key settings than this app used: raise the "
        "Argon2id memory (--kdf-memory) or passes"),
}


@defer.inlineCallbacks
def request_email_code(reactor: Any, url: str, email: str,
                       serializer: str = "msgpack", ca_file: str | None = None) -> Any:
    """Ask the relay to mail a registration code to `email`. Deferred[bool]: True when a
    code is on its way (pass it to register as `email_code`), False when this relay does
    not verify emails (register without one)."""
    address = normalise_email(email)
    session = yield connect(reactor, url, Anonymous(), serializer, ca_file=ca_file)
    try:
        answer = yield session.call(uris.ACCOUNT_VERIFY_EMAIL, user_id_for_email(address),
                                    address)
    except ApplicationError as e:
        if e.error in (uris.WAMP_NO_SUCH_PROCEDURE, uris.WAMP_NOT_AUTHORIZED):
            return False  # a relay from before email verification
        if e.error == uris.ERR_MAIL_FAILED:
            raise MailFailed("the relay could not send the mail; try again later") from None
        if e.error == uris.ERR_RATE_LIMITED:
            raise ClientError("too many codes were asked for lately; wait a few minutes "
                              "and use the code already mailed, or ask again") from None
        raise
    finally:
        if session.is_attached():
            session.leave()
        yield session.disconnected
    return bool(answer.get("required", True)) if isinstance(answer, dict) else True
