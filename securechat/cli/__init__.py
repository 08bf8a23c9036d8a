"""securechat-cli: one SecureChat account on this device, from the shell.

    securechat-cli register --email alice@example.org --name Alice
    securechat-cli add-friend --email alice@example.org --friend bob@example.org
    securechat-cli send --email alice@example.org --to bob@example.org --text "hi Bob"
    securechat-cli listen --email alice@example.org --json
    securechat-cli send --email alice@example.org --to bob@example.org --file photo.jpg
    securechat-cli listen --email bob@example.org --save-dir ~/Downloads
    securechat-cli link --email alice@example.org      (a new device, approved by another)
    securechat-cli approve --email alice@example.org   (on a device that has the account)
    securechat-cli vault add|list|get|mfa-setup --email alice@example.org ...
    securechat-cli backup create --email alice@example.org --out alice.bak
    securechat-cli backup restore --file alice.bak     (on a new device; see cli/vault.py)
    securechat-cli call --email A --to B --play IN.wav --record OUT.wav --seconds N
    securechat-cli answer --email B --play IN.wav --record OUT.wav --seconds N (cli/calls.py)

The password comes from $SECURECHAT_PASSWORD (for scripts) or a prompt; likewise the
recovery phrase (`login`, `reset-password`) from $SECURECHAT_RECOVERY_PHRASE and a new
password (`change-password`, `reset-password`) from $SECURECHAT_NEW_PASSWORD. A relay that
verifies emails mails a code at `register`, which asks for it; scripts run `request-code`
first and pass the mailed code in $SECURECHAT_EMAIL_CODE. Each command
opens the account, catches up with the relay (fetching what came while it was away),
does its work and stops; `listen` runs until Ctrl-C or SIGTERM. User errors are one
line on stderr and exit status 1; logs go to stderr only with --verbose.

This module is the command line itself (the parser, the exit status and one-line error
of every outcome, the reactor around a command); the commands are in cli/commands.py and
cli/linking.py, what they print in cli/output.py, the secrets they ask for in
cli/prompts.py.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any, NoReturn

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task
from twisted.internet.error import ConnectError
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from securechat.cli import assistant, calls, commands, vault
from securechat.cli.account import Command
from securechat.cli.linking import cmd_approve, cmd_link
from securechat.cli.output import PROG, connection_problem, note
from securechat.cli.prompts import EMAIL_CODE_ENV, read_secrets
from securechat.client import (
    DEFAULT_RELAY_URL,
    INSECURE_FLAG,
    MAX_PROFILE_NAME,
    ClientError,
    JoinRefused,
    check_relay_url,
    default_data_dir,
)
from securechat.protocol import scram, uris
from securechat.protocol.keys import normalise_email

EXIT_INTERRUPTED = 130

COMMANDS: dict[str, Command] = {
    "register": commands.cmd_register,
    "request-code": commands.cmd_request_code,
    "login": commands.cmd_login,
    "change-password": commands.cmd_change_password,
    "reset-password": commands.cmd_reset_password,
    "add-friend": commands.cmd_add_friend,
    "requests": commands.cmd_requests,
    "accept": commands.cmd_accept,
    "deny": commands.cmd_deny,
    "send": commands.cmd_send,
    "listen": commands.cmd_listen,
    "history": commands.cmd_history,
    "profile": commands.cmd_profile,
    "devices": commands.cmd_devices,
    "remove-device": commands.cmd_remove_device,
    "link": cmd_link,
    "approve": cmd_approve,
    "vault": vault.cmd_vault,
    "backup": vault.cmd_backup,
    "call": calls.cmd_call,  # calls (issue 15)
    "answer": calls.cmd_answer,
    "assistant": assistant.cmd_assistant,
}


# === the command line ====================================================================


def _add_global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    # Given on the top parser, or after the command: defaults only on the top one, so a
    # value before the command is not overwritten by the subcommand's default.
    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument("--relay", default=default(DEFAULT_RELAY_URL),
                        help=f"the relay's URL (default {DEFAULT_RELAY_URL})")
    parser.add_argument("--ca-file", default=default(None), metavar="PATH",
                        help="for a wss:// relay: trust this PEM certificate or CA (the "
                             "relay's development certificate, a private CA) instead of "
                             "the system's CAs")
    parser.add_argument("--data-dir", default=default(None),
                        help="where accounts are kept (default $SECURECHAT_DATA_DIR or "
                             "~/.local/share/securechat)")
    parser.add_argument("--kdf-memory", type=int, default=default(scram.DEFAULT_MEMORY_KIB),
                        metavar="KIB", help="Argon2id memory for new password keys "
                                            f"(default {scram.DEFAULT_MEMORY_KIB})")
    parser.add_argument(INSECURE_FLAG, dest="insecure_ws", action="store_true",
                        default=default(False),
                        help="allow a ws:// relay that is not on this machine: unencrypted, "
                             "anyone on the network can read and change the traffic")
    parser.add_argument("--timeout", type=float, default=default(30.0), metavar="SECONDS",
                        help="how long to wait for the relay (default 30)")
    parser.add_argument("--verbose", "-v", action="store_true", default=default(False),
                        help="log to stderr")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, 1 or more: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="SecureChat from the command line.")
    _add_global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, email: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--email", required=email, help="your account's email")
        _add_global_options(sub, top=False)
        return sub

    command("register", "create an account and this device").add_argument(
        "--name", default="", help="the name your friends see")
    command("request-code", "mail a registration code to the email (for scripts: pass it "
            f"to register in ${EMAIL_CODE_ENV})")
    command("login", "sign in to an existing account on this (new) device, with the password "
                     "and the recovery phrase").add_argument(
        "--history-days", type=_positive, metavar="N", default=None,
        help="bring only the last N days of messages from your other devices (default: all)")
    command("change-password", "change the master password (on the relay and this device)")
    command("reset-password", "forgot the password: set a new one with the recovery phrase")
    command("add-friend", "send a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    command("requests", "list pending friend requests")
    command("accept", "accept a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    command("deny", "decline a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    send = command("send", "send a message (or a file) and wait until the relay has it")
    send.add_argument("--to", required=True, metavar="EMAIL")
    send.add_argument("--text", help="the message (with --file: its caption)")
    send.add_argument("--file", metavar="PATH", help="a file to send, encrypted")
    listen = command("listen", "print messages and friend requests as they arrive")
    listen.add_argument("--json", action="store_true", help="one JSON object a line")
    listen.add_argument("--save-dir", metavar="DIR", help="download every file received, "
                        "verify it and save it here under its own name")
    history = command("history", "print the conversation with a contact")
    history.add_argument("--with", dest="peer", required=True, metavar="EMAIL")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--json", action="store_true", help="one JSON object a line")
    profile = command("profile", "set the display name (and avatar) your contacts see")
    profile.add_argument("--name", required=True, help=f"at most {MAX_PROFILE_NAME} characters")
    profile.add_argument("--avatar", metavar="PATH",
                         help="a PNG, JPEG, GIF, BMP or WebP picture: cropped to a square and "
                              "scaled to 256x256 at most")
    command("devices", "list the devices linked to your account").add_argument(
        "--json", action="store_true", help="one JSON object a line")
    command("remove-device", "remove a device from your account (your master password "
                             "confirms it)").add_argument("--device", required=True,
                                                          metavar="DEVICE_ID")
    command("link", "sign in on this (new) device by approving it on another device of the "
                    "account (compare a code on both)")
    command("approve", "wait for a new device of the account to ask, compare its code and "
                       "approve it")
    vault.add_arguments(
        command("vault", "the secure vault behind its MFA code: add, list, get, mfa-setup"),
        command("backup", "create an encrypted backup of the account (--email, --out), or "
                          "restore one onto this device (--file)", email=False))
    calls.add_arguments(  # calls (issue 15)
        command("call", "call a contact: send a WAV file, record what you hear"),
        command("answer", "answer the next incoming call: send a WAV file, record what "
                          "you hear"))
    assistant.add_arguments(commands, lambda sub: _add_global_options(sub, top=False))
    return parser


def _user_error(error: BaseException, args: argparse.Namespace) -> str | None:
    """The one line to show for an error the user can act on; None for a bug."""
    if isinstance(error, ClientError):
        return str(error)
    if isinstance(error, JoinRefused) and error.reason == uris.ERR_UNTRUSTED_CERTIFICATE:
        return f"{connection_problem(error.reason)}; it is {error.message}"
    if isinstance(error, JoinRefused):
        return f"the relay refused the connection: {error}"
    if isinstance(error, ConnectError):
        return f"could not reach the relay at {args.relay}: {error}"
    if isinstance(error, ApplicationError):
        return f"the relay refused the request: {error.error_message()}"
    return None


@defer.inlineCallbacks
def _run(reactor: Any, args: argparse.Namespace) -> Any:
    """Run the command; turn its outcome into an exit status (react exits with it)."""
    try:
        yield COMMANDS[args.command](reactor, args)
    except defer.CancelledError:
        raise SystemExit(0 if args.command == "listen" else EXIT_INTERRUPTED) from None
    except Exception as e:
        message = _user_error(e, args)
        if message is None:
            traceback.print_exception(e)
            message = f"internal error: {type(e).__name__}: {e}"
        note(f"error: {message}")
        raise SystemExit(1) from None


def _main(reactor: Any, args: argparse.Namespace) -> defer.Deferred[Any]:
    """The command, cancelled (and so cleaned up: the client stopped) by Ctrl-C or SIGTERM
    before the reactor stops."""
    running = _run(reactor, args)
    finished: defer.Deferred[None] = defer.Deferred()

    def on_shutdown() -> defer.Deferred[None] | None:
        if running.called:
            return None
        running.cancel()
        return finished

    def done(result: Any) -> Any:
        finished.callback(None)
        return result

    reactor.addSystemEventTrigger("before", "shutdown", on_shutdown)
    running.addBoth(done)
    return running


def _start_logging(verbose: bool) -> None:
    observers = []
    if verbose:
        observers.append(FilteringLogObserver(textFileLogObserver(sys.stderr),
                                              [LogLevelFilterPredicate(LogLevel.info)]))
    # With no observers, log events are dropped; stdout stays the command's alone.
    globalLogBeginner.beginLoggingTo(observers, redirectStandardIO=False)


def main(argv: list[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    args.data_dir = args.data_dir or default_data_dir()
    args.email = normalise_email(args.email) if args.email else None
    try:
        check_relay_url(args.relay, args.insecure_ws)  # before asking for the password
        read_secrets(args)
    except ClientError as e:
        note(f"error: {e}")
        sys.exit(1)
    except (KeyboardInterrupt, EOFError):
        sys.exit(EXIT_INTERRUPTED)
    _start_logging(args.verbose)
    if calls.uses_asyncio(args.command):  # aiortc: before anything imports the reactor
        from twisted.internet import asyncioreactor

        asyncioreactor.install()
    task.react(_main, [args])
