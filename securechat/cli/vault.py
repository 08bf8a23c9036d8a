"""`securechat-cli vault` and `securechat-cli backup`: the vault behind its MFA code,
and the encrypted backup.

    securechat-cli vault mfa-setup --email A      (prints the otpauth:// URI and the
                                                   recovery codes, then asks a first code)
    securechat-cli vault add --email A --title Bank [--username U] [--generate]
    securechat-cli vault add --email A --type note --title T --text "..."
    securechat-cli vault add --email A --type file --title T --path FILE
    securechat-cli vault list --email A [--search TEXT]
    securechat-cli vault get --email A --title Bank [--out FILE]
    securechat-cli backup create --email A --out FILE
    securechat-cli backup restore --file FILE       (onto --data-dir; signs in)

The code comes from $SECURECHAT_TOTP or standard input, the backup passphrase from
$SECURECHAT_BACKUP_PASSPHRASE or a prompt, a password to keep from
$SECURECHAT_VAULT_SECRET, a prompt, or --generate. The vault needs no relay: these
commands do not connect (but `backup restore`, which signs in as a new device).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from twisted.internet import defer

from securechat.cli.account import kdf_cost, open_account
from securechat.cli.output import note, printable, say, when
from securechat.cli.prompts import read_code, read_vault_secret
from securechat.client import (
    ClientError,
    SecureChatClient,
    VaultItemType,
    generate_password,
)


def add_arguments(vault: argparse.ArgumentParser, backup: argparse.ArgumentParser) -> None:
    vault.add_argument("action", choices=("add", "list", "get", "mfa-setup"))
    vault.add_argument("--type", choices=[t.value for t in VaultItemType],
                       default=VaultItemType.PASSWORD.value, help="add: what to keep")
    vault.add_argument("--title", help="add, get: the item's title")
    vault.add_argument("--username", default="", help="add: a password item's user name")
    vault.add_argument("--url", default="", help="add: a password item's site")
    vault.add_argument("--generate", type=int, nargs="?", const=20, metavar="LENGTH",
                       help="add: a random password of LENGTH characters (default 20)")
    vault.add_argument("--text", help="add: a note's text")
    vault.add_argument("--path", help="add: the file to keep (encrypted in the vault)")
    vault.add_argument("--out", help="get: where to write a file item's content")
    vault.add_argument("--search", default="", help="list: titles containing this")
    backup.add_argument("action", choices=("create", "restore"))
    backup.add_argument("--out", help="create: the backup file to write")
    backup.add_argument("--file", help="restore: the backup file to read")


@defer.inlineCallbacks
def cmd_vault(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield open_account(reactor, args)
    try:
        if args.action == "mfa-setup":
            yield _mfa_setup(client)
            return
        yield client.vault.unlock((yield read_code()) if (yield client.mfa.is_enabled())
                                  else None)
        yield {"add": _add, "list": _list, "get": _get}[args.action](client, args)
    finally:
        yield client.stop()


@defer.inlineCallbacks
def _mfa_setup(client: SecureChatClient) -> Any:
    setup = yield client.mfa.provision()
    say("Add this to your authenticator app (or scan it as a QR code):")
    say(setup.uri)
    say("Recovery codes (each works once instead of a code; keep them safe, they are not "
        "shown again):")
    for code in setup.recovery_codes:
        say(f"  {code}")
    yield client.mfa.confirm((yield read_code("First code, to confirm")))
    say("MFA is on: the vault now asks for a code.")


@defer.inlineCallbacks
def _add(client: SecureChatClient, args: argparse.Namespace) -> Any:
    if not args.title:
        raise ClientError("vault add needs --title")
    kind = VaultItemType(args.type)
    if kind == VaultItemType.PASSWORD:
        generated = generate_password(args.generate) if args.generate else None
        secret = generated or read_vault_secret(args.title)
        item = yield client.vault.add_password(args.title, secret, args.username, args.url)
        if generated:
            say(f"Generated password: {generated}")
    elif kind == VaultItemType.NOTE:
        if args.text is None:
            raise ClientError("a note needs --text")
        item = yield client.vault.add_note(args.title, args.text)
    else:
        if not args.path:
            raise ClientError("a file item needs --path")
        item = yield client.vault.add_file(args.title, args.path)
    say(f"Added {item.type.value} {printable(item.title)!r} ({item.id}) to the vault.")


def _list(client: SecureChatClient, args: argparse.Namespace) -> None:
    for item in client.vault.search(args.search):
        size = f", {item.size} bytes" if item.type == VaultItemType.FILE else ""
        say(f"{item.id}  {item.type.value:8}  {printable(item.title)}  "
            f"(changed {when(item.updated_at)}{size})")


@defer.inlineCallbacks
def _get(client: SecureChatClient, args: argparse.Namespace) -> Any:
    if not args.title:
        raise ClientError("vault get needs --title")
    matches = [i for i in client.vault.items() if i.title == args.title]
    if not matches:
        raise ClientError(f"no vault item is titled {args.title!r}")
    item = matches[0]
    data = yield client.vault.get(item.id)
    if item.type == VaultItemType.FILE:
        if not args.out:
            raise ClientError("a file item is written to --out PATH")
        yield client.vault.export_file(item.id, args.out)
        say(f"Wrote {data['name']} ({data['size']} bytes) to {args.out}.")
        return
    for field, value in data.items():
        if field != "title":
            say(f"{field}: {printable(str(value))}")


@defer.inlineCallbacks
def cmd_backup(reactor: Any, args: argparse.Namespace) -> Any:
    if args.action == "create":
        if not args.email or not args.out:
            raise ClientError("backup create needs --email and --out")
        client = yield open_account(reactor, args)
        try:
            code = (yield read_code()) if (yield client.mfa.is_enabled()) else None
            yield client.create_backup(os.path.abspath(args.out), args.passphrase,
                                       args.password, code)
        finally:
            yield client.stop()
        say(f"Wrote the encrypted backup of {args.email} to {args.out}. Keep the passphrase: "
            "without it the backup cannot be opened.")
        return
    if not args.file:
        raise ClientError("backup restore needs --file")
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    email = yield SecureChatClient.restore_backup(
        reactor, args.data_dir, args.relay, args.file, args.passphrase, args.password,
        kdf_cost(args), ca_file=args.ca_file, insecure_ws=args.insecure_ws)
    say(f"Restored {email} on this device (as a new device of the account). Open it with "
        "your password.")
    for damaged in getattr(email, "damaged", ()):  # that file alone: shown, not downloaded
        note(f"warning: {printable(damaged)}; it was restored as not downloaded")
