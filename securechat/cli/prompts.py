"""The secrets securechat-cli asks for: from the environment (scripts), else typed."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from twisted.internet import defer, threads

from securechat.cli.output import note
from securechat.client import ClientError, check_new_password, request_email_code

PASSWORD_ENV = "SECURECHAT_PASSWORD"  # noqa: S105 - the variable's name
NEW_PASSWORD_ENV = "SECURECHAT_NEW_PASSWORD"  # noqa: S105 - the variable's name
PHRASE_ENV = "SECURECHAT_RECOVERY_PHRASE"
EMAIL_CODE_ENV = "SECURECHAT_EMAIL_CODE"
BACKUP_PASSPHRASE_ENV = "SECURECHAT_BACKUP_PASSPHRASE"  # noqa: S105 - the variable's name
TOTP_ENV = "SECURECHAT_TOTP"
VAULT_SECRET_ENV = "SECURECHAT_VAULT_SECRET"  # noqa: S105 - the variable's name


def read_password(email: str, confirm: bool, variable: str = PASSWORD_ENV,
                  prompt: str = "Password", needs_terminal: bool = False) -> str:
    """A password from `variable` or a prompt; `confirm`: a new one, which must be long
    enough (and typed twice at the prompt)."""
    from_env = os.environ.get(variable)
    if from_env:
        password = from_env
    elif needs_terminal and not sys.stdin.isatty():
        raise ClientError(f"{prompt.lower()} needed: set {variable} or run in a terminal to "
                          "type it")
    else:
        password = getpass.getpass(f"{prompt} for {email}: ")
    if not password:
        raise ClientError(f"no password given (type it, or set {variable})")
    if confirm:
        check_new_password(password)
        if not from_env and getpass.getpass("Repeat the password: ") != password:
            raise ClientError("the passwords do not match")
    return password


def read_phrase() -> str:
    """The recovery phrase from the environment, else typed (not echoed) at a terminal."""
    phrase = os.environ.get(PHRASE_ENV, "").strip()
    if phrase:
        return phrase
    if not sys.stdin.isatty():
        raise ClientError(f"this needs the account's 12-word recovery phrase: set "
                          f"{PHRASE_ENV} or run in a terminal to type it")
    phrase = getpass.getpass("Recovery phrase (the 12 words shown at registration): ").strip()
    if not phrase:
        raise ClientError(f"no recovery phrase given (type it, or set {PHRASE_ENV})")
    return phrase


def read_secrets(args: argparse.Namespace) -> None:
    """Everything the command needs typed or from the environment, before it starts."""
    if args.command == "request-code" or (args.command == "assistant" and not args.email):
        return  # assistant compose: no account
    if args.command == "backup":
        args.passphrase = read_backup_passphrase(confirm=args.action == "create")
    if args.command != "reset-password":  # which is for a forgotten password
        args.password = read_password(args.email or "the account in the backup",
                                      confirm=args.command == "register")
    if args.command in ("login", "reset-password"):
        args.recovery_phrase = read_phrase()
    if args.command in ("change-password", "reset-password"):
        args.new_password = read_password(args.email, True, NEW_PASSWORD_ENV,
                                          "New password", needs_terminal=True)


@defer.inlineCallbacks
def email_code(reactor: Any, args: argparse.Namespace) -> Any:
    """The code proving the email: from $SECURECHAT_EMAIL_CODE, else mailed now and typed
    in. None when the relay does not verify emails."""
    code = os.environ.get(EMAIL_CODE_ENV, "").strip()
    if code:
        return code
    mailed = yield request_email_code(reactor, args.relay, args.email, ca_file=args.ca_file)
    if not mailed:
        return None
    note(f"the relay mailed a code to {args.email} (valid for 15 minutes)")
    if not sys.stdin.isatty():
        raise ClientError(f"enter the mailed code: set {EMAIL_CODE_ENV} and run register again")
    try:
        code = yield threads.deferToThread(input, "Code from the mail: ")
    except EOFError:
        raise ClientError(f"no code given (type it, or set {EMAIL_CODE_ENV})") from None
    if not code.strip():
        raise ClientError(f"no code given (type it, or set {EMAIL_CODE_ENV})")
    return code.strip()


def _secret(variable: str, prompt: str, needed: str) -> tuple[str, bool]:
    """(the secret, whether it was typed): from `variable`, else typed at a terminal."""
    from_env = os.environ.get(variable)
    if from_env:
        return from_env, False
    if not sys.stdin.isatty():
        raise ClientError(f"{needed}: set {variable} or run in a terminal to type it")
    return getpass.getpass(f"{prompt}: "), True


def read_backup_passphrase(confirm: bool) -> str:
    """The backup passphrase: $SECURECHAT_BACKUP_PASSPHRASE, else typed (twice for a
    new backup)."""
    passphrase, typed = _secret(BACKUP_PASSPHRASE_ENV, "Backup passphrase",
                                "a backup passphrase is needed")
    if typed and confirm and getpass.getpass("Repeat the backup passphrase: ") != passphrase:
        raise ClientError("the passphrases do not match")
    return passphrase


@defer.inlineCallbacks
def read_code(prompt: str = "Code from your authenticator app") -> Any:
    """A TOTP code: $SECURECHAT_TOTP, else a line of standard input (a terminal, or a
    script that reads the printed setup first)."""
    code = os.environ.get(TOTP_ENV, "").strip()
    if code:
        return code
    try:
        line = yield threads.deferToThread(_read_line, f"{prompt}: ")
    except EOFError:
        raise ClientError(f"no code given (type it, or set {TOTP_ENV})") from None
    return line.strip()


def _read_line(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def read_vault_secret(title: str) -> str:
    """A password to keep in the vault: $SECURECHAT_VAULT_SECRET, else typed."""
    return _secret(VAULT_SECRET_ENV, f"Password to keep as {title!r}",
                   "the password to keep is needed (or pass --generate)")[0]
