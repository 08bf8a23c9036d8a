"""securechat-cli: one SecureChat account on this device, from the shell.

    securechat-cli register --email alice@example.org --name Alice
    securechat-cli add-friend --email alice@example.org --friend bob@example.org
    securechat-cli send --email alice@example.org --to bob@example.org --text "hi Bob"
    securechat-cli listen --email alice@example.org --json
    securechat-cli link --email alice@example.org      (a new device, approved by another)
    securechat-cli approve --email alice@example.org   (on a device that has the account)

The password comes from $SECURECHAT_PASSWORD (for scripts) or a prompt; likewise the
recovery phrase (`login`, `reset-password`) from $SECURECHAT_RECOVERY_PHRASE and a new
password (`change-password`, `reset-password`) from $SECURECHAT_NEW_PASSWORD. A relay that
verifies emails mails a code at `register`, which asks for it; scripts run `request-code`
first and pass the mailed code in $SECURECHAT_EMAIL_CODE. Each command
opens the account, catches up with the relay (fetching what came while it was away),
does its work and stops; `listen` runs until Ctrl-C or SIGTERM. User errors are one
line on stderr and exit status 1; logs go to stderr only with --verbose.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task, threads
from twisted.internet.error import ConnectError
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from securechat.bot import DEFAULT_RELAY, SyncingClient, next_event
from securechat.client import events as ev
from securechat.client.account import default_data_dir
from securechat.client.errors import ClientError, CorruptBlob, WrongPassword
from securechat.client.linking import LinkCode
from securechat.client.model import KdfCost, MessageStatus, MessageType, Sender, StoredMessage
from securechat.client.passwords import check_new_password
from securechat.client.registration import request_email_code
from securechat.client.relay_url import INSECURE_FLAG, check_relay_url
from securechat.client.wamp import JoinRefused
from securechat.protocol import scram, uris
from securechat.protocol.keys import normalise_email, user_id_for_email

PROG = "securechat-cli"
PASSWORD_ENV = "SECURECHAT_PASSWORD"  # noqa: S105 - the variable's name
NEW_PASSWORD_ENV = "SECURECHAT_NEW_PASSWORD"  # noqa: S105 - the variable's name
PHRASE_ENV = "SECURECHAT_RECOVERY_PHRASE"
EMAIL_CODE_ENV = "SECURECHAT_EMAIL_CODE"
STATUS_NAMES = {status: status.name.lower() for status in MessageStatus}
EXIT_INTERRUPTED = 130

log = Logger()

Command = Callable[[Any, argparse.Namespace], defer.Deferred[Any]]


# === output ============================================================================


def say(text: str = "") -> None:
    """User-facing output (stdout), flushed at once so pipes see it as it happens."""
    print(text, flush=True)


def note(text: str) -> None:
    """User-facing remarks that are not the command's output (stderr)."""
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _printable(text: str) -> str:
    """Text someone else chose, with control characters (a newline that would fake a
    line of output, terminal escapes) shown as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _when(timestamp_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ms / 1000))


# === opening the account and talking to the relay ========================================


def _cost(args: argparse.Namespace) -> KdfCost:
    return KdfCost(memory_kib=args.kdf_memory)


def _open(reactor: Any, args: argparse.Namespace) -> defer.Deferred[SyncingClient]:
    return SyncingClient.open(reactor, args.data_dir, args.relay, args.email, args.password,
                              ca_file=args.ca_file, insecure_ws=args.insecure_ws)


@defer.inlineCallbacks
def _catch_up(reactor: Any, client: SyncingClient, args: argparse.Namespace,
              required: bool = True) -> Any:
    """Start the client and wait until it has caught up with the relay. If it cannot
    (the relay is unreachable, refuses this device, or is too slow): an error when
    `required`, else a warning and carry on with what this device has stored."""
    caught_up = client.caught_up()
    trouble = next_event(client, ev.ConnectionStateChanged,
                         lambda e: e.state in ("offline", "failed") and e.reason != "stopped")
    outcome: defer.Deferred[ev.ConnectionStateChanged | None] = defer.Deferred()
    caught_up.addCallback(lambda _: outcome.called or outcome.callback(None))
    trouble.addCallback(lambda e: outcome.called or outcome.callback(e))
    client.start()
    problem = f"the relay at {args.relay} did not answer within {args.timeout:g}s"
    try:
        event = yield outcome.addTimeout(args.timeout, reactor)
    except defer.TimeoutError:
        pass
    else:
        if event is None:
            return
        problem = (f"the relay refused this device ({event.reason})" if event.state == "failed"
                   else f"could not reach the relay at {args.relay}: "
                        f"{_connection_problem(event.reason)}")
    finally:
        _forget(caught_up)
        _forget(trouble)
    if required:
        raise ClientError(problem)
    note(f"warning: {problem}; showing what this device has stored")


@defer.inlineCallbacks
def _send_queued(reactor: Any, client: SyncingClient, args: argparse.Namespace,
                 before: set[int], what: str) -> Any:
    """Wait until `what` was queued since `before` (outbox seqs) has gone to the relay."""
    deadline = reactor.seconds() + args.timeout
    while True:
        yield client.flush_outbox()
        left = [seq for seq, *_ in (yield client.store.outbox()) if seq not in before]
        if not left:
            return
        if client.online:  # the outbox is held up by something other than the connection
            raise ClientError(f"{what} could not be handed to the relay (--verbose says "
                              "why); it stays queued and goes out when this account is next "
                              "online")
        try:  # the connection dropped: the next catch-up flushes the outbox again
            yield client.caught_up().addTimeout(max(deadline - reactor.seconds(), 0), reactor)
        except defer.TimeoutError:
            raise ClientError(
                f"{what} could not be handed to the relay within {args.timeout:g}s; it "
                "stays queued and goes out when this account is next online") from None


@defer.inlineCallbacks
def _outbox_seqs(client: SyncingClient) -> Any:
    return {seq for seq, *_ in (yield client.store.outbox())}


@defer.inlineCallbacks
def _require_account(client: SyncingClient, email: str) -> Any:
    """Refuse early (and without storing anything) when the relay has no such account."""
    session = client.connection.session
    if session is None:
        return
    try:
        yield session.call(uris.ACCOUNT_PUBLIC, user_id_for_email(email))
    except ApplicationError as e:
        if e.error == uris.ERR_NO_SUCH_ACCOUNT:
            raise ClientError(f"there is no account for {email}") from None
        raise


def _forget(d: defer.Deferred[Any]) -> None:
    """Stop waiting on `d`, quietly."""
    if not d.called:
        d.addErrback(lambda _: None)
        d.cancel()


def _contact_id(client: SyncingClient, email: str) -> str:
    peer = user_id_for_email(email)
    if peer not in client.contacts:
        raise ClientError(f"{normalise_email(email)} is not a contact of {client.me.email}")
    return peer


def _with_account(work: Callable[[Any, SyncingClient, argparse.Namespace], Any],
                  required: bool = True) -> Command:
    """A command that opens the account, catches up with the relay (`required`, or else
    a warning), runs `work` and stops the client."""
    @defer.inlineCallbacks
    def command(reactor: Any, args: argparse.Namespace) -> Any:
        client = yield _open(reactor, args)
        try:
            yield _catch_up(reactor, client, args, required)
            yield work(reactor, client, args)
        finally:
            yield client.stop()
    return command


# === commands ============================================================================


@defer.inlineCallbacks
def _email_code(reactor: Any, args: argparse.Namespace) -> Any:
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


@defer.inlineCallbacks
def cmd_request_code(reactor: Any, args: argparse.Namespace) -> Any:
    if (yield request_email_code(reactor, args.relay, args.email, ca_file=args.ca_file)):
        say(f"A code was mailed to {args.email}; it is valid for 15 minutes. Register with")
        say(f"it in ${EMAIL_CODE_ENV}.")
    else:
        say("This relay does not verify emails: register without a code.")


@defer.inlineCallbacks
def cmd_register(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    code = yield _email_code(reactor, args)
    client, mnemonic = yield SyncingClient.register(
        reactor, args.data_dir, args.relay, args.email, args.password, args.name, _cost(args),
        email_code=code, ca_file=args.ca_file, insecure_ws=args.insecure_ws)
    try:
        say(f"Registered {client.me.email} on this device.")
        say()
        say("Your recovery phrase is below. WRITE THESE 12 WORDS DOWN and keep them somewhere")
        say("safe: they are the master key of your account, and this is the only time they")
        say("are shown.")
        say()
        say(f"    {mnemonic}")
        say()
        # Publishes this device's pre-keys, so that others can start sessions with it.
        yield _catch_up(reactor, client, args, required=False)
    finally:
        yield client.stop()


@defer.inlineCallbacks
def cmd_login(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    client = yield SyncingClient.login(reactor, args.data_dir, args.relay, args.email,
                                       args.password, _cost(args),
                                       recovery_phrase=args.recovery_phrase,
                                       ca_file=args.ca_file, insecure_ws=args.insecure_ws)
    yield _signed_in(reactor, client, args)


@defer.inlineCallbacks
def _signed_in(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    """A new device is set up: say so, fetch what waits for it, and stop."""
    try:
        say(f"Signed in as {client.me.email} on this new device.")
        yield _catch_up(reactor, client, args, required=False)
    finally:
        yield client.stop()


@defer.inlineCallbacks
def cmd_change_password(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield _open(reactor, args)  # checks the current password on this device
    try:
        yield client.change_password(args.password, args.new_password, _cost(args))
    finally:
        yield client.stop()
    say(f"Changed the master password of {args.email}: the relay and this device take the "
        "new one. Your other devices keep opening with the password they had until you "
        "change it there too.")


@defer.inlineCallbacks
def cmd_reset_password(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    here = yield SyncingClient.reset_password(reactor, args.data_dir, args.relay, args.email,
                                              args.recovery_phrase, args.new_password,
                                              _cost(args))
    say(f"Reset the master password of {args.email}: sign in with the new one.")
    if here:
        say("The account on this device opens with the new password too.")
    elif here is False:
        say("The account on this device could not be re-sealed (it has no copy under the "
            "recovery phrase yet): remove it here and sign in again.")


@defer.inlineCallbacks
def _add_friend(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    yield _require_account(client, args.friend)
    before = yield _outbox_seqs(client)
    request = yield client.add_friend(args.friend)
    yield _send_queued(reactor, client, args, before, "the friend request")
    say(f"Friend request sent to {request.email}.")


@defer.inlineCallbacks
def _requests(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    pending = [r for r in (yield client.requests()) if r.action == "pending"]
    for r in pending:
        warning = ("  WARNING: their key changed since the request; make sure it is really "
                   "them" if r.key_changed else "")
        if r.direction == "in":
            name = f" ({_printable(r.name)})" if r.name else ""
            say(f"from {r.email}{name}{warning}")
        else:
            say(f"to   {r.email} (waiting for an answer){warning}")
    if not pending:
        say("No pending friend requests.")


def _answer(accept: bool) -> Callable[[Any, SyncingClient, argparse.Namespace], Any]:
    @defer.inlineCallbacks
    def answer(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
        before = yield _outbox_seqs(client)
        peer = user_id_for_email(args.friend)
        if accept:
            yield client.accept_friend(peer)
        else:
            yield client.deny_friend(peer)
        yield _send_queued(reactor, client, args, before, "the answer")
        friend = normalise_email(args.friend)
        say(f"You and {friend} are now friends." if accept
            else f"Declined the friend request of {friend}.")
    return answer


@defer.inlineCallbacks
def _send(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    peer = _contact_id(client, args.to)
    sending: list[str] = []
    sent = next_event(client, ev.MessageUpdated,
                      lambda e: e.message_id in sending and e.status >= MessageStatus.SENT)
    try:
        # send_text fires (with the stored message) before the relay can have answered.
        message = yield client.send_text(peer, args.text)
        sending.append(message.id)
        yield sent.addTimeout(args.timeout, reactor)
    except defer.TimeoutError:
        raise ClientError(f"the relay did not take the message within {args.timeout:g}s; it "
                          "stays queued and goes out the next time this account is online"
                          ) from None
    finally:
        _forget(sent)
    say(f"Sent to {client.contacts[peer].peer_email}.")


def _message_json(message: StoredMessage, who: str) -> str:
    return json.dumps({"type": "message", "id": message.id, "from": who, "text": message.text,
                       "timestamp": message.timestamp, "reply_to": message.reply_to,
                       "status": STATUS_NAMES.get(message.status, str(message.status))})


@defer.inlineCallbacks
def _history(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    peer = _contact_id(client, args.peer)
    email = client.contacts[peer].peer_email
    for m in (yield client.messages(peer, args.limit)):
        if m.sender == Sender.SYSTEM:  # a line this device wrote, not a message
            what = {MessageType.DEVICE_ADDED: "signed in on a new device",
                    MessageType.DEVICE_REMOVED: "removed a device"}.get(m.type, m.type)
            say(json.dumps({"type": m.type, "account": email, "device_id": m.text,
                            "timestamp": m.timestamp}) if args.json
                else f"{_when(m.timestamp)}  * {email} {what} ({m.text})")
            continue
        who = "me" if m.sender == "me" else email
        if args.json:
            say(_message_json(m, who))
        else:
            status = f"  [{STATUS_NAMES.get(m.status, m.status)}]" if m.sender == "me" else ""
            say(f"{_when(m.timestamp)}  {who}: {m.text}{status}")


@defer.inlineCallbacks
def _devices(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    linked = yield client.linked_devices()
    notices = {n.device_id for n in (yield client.device_notices())}
    for d in linked:
        if args.json:
            say(json.dumps({"type": "device", "device_id": d.device_id, "name": d.name,
                            "added_at": d.added_at, "last_seen": d.last_seen,
                            "this_device": d.this_device, "new": d.device_id in notices}))
            continue
        added = _when(d.added_at) if d.added_at else "unknown"
        seen = _when(d.last_seen) if d.last_seen else "never"
        marks = " (this device)" if d.this_device else ""
        marks += "  NEW: remove it with remove-device if it is not yours" \
            if d.device_id in notices else ""
        say(f"{d.name}  added {added}  last seen {seen}{marks}")


@defer.inlineCallbacks
def _remove_device(reactor: Any, client: SyncingClient, args: argparse.Namespace) -> Any:
    # The master password this command was given (it opened the account) confirms it.
    yield client.remove_device(args.device, args.password)
    say(f"Removed device {args.device} from {client.me.email}.")


@defer.inlineCallbacks
def cmd_listen(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield _open(reactor, args)
    stopped: defer.Deferred[None] = defer.Deferred()

    def show(event: Any) -> None:
        if isinstance(event, ev.MessageReceived):
            contact = client.contacts.get(event.peer_user_id)
            who = contact.peer_email if contact else event.peer_user_id
            say(_message_json(event.message, who) if args.json
                else f"[{_when(event.message.timestamp)}] {who}: {event.message.text}")
        elif isinstance(event, ev.FriendRequestReceived):
            say(json.dumps({"type": "friend_request", "from": event.email, "name": event.name})
                if args.json else f"Friend request from {event.email}"
                + (f" ({event.name})" if event.name else ""))
        elif isinstance(event, ev.FriendRequestAnswered):
            say(json.dumps({"type": "friend_answer", "from": event.email,
                            "accepted": event.accepted}) if args.json
                else f"{event.email} {'accepted' if event.accepted else 'declined'} "
                     "your friend request")
        elif isinstance(event, ev.DeviceAdded | ev.DeviceRemoved):
            added = isinstance(event, ev.DeviceAdded)
            contact = client.contacts.get(event.user_id)
            who = "your account" if event.own else (
                contact.peer_email if contact else event.user_id)
            say(json.dumps({"type": "device_added" if added else "device_removed",
                            "account": "me" if event.own else who,
                            "device_id": event.device_id}) if args.json
                else f"A device was {'added to' if added else 'removed from'} {who}: "
                     f"{event.device_id}")
        elif (isinstance(event, ev.ConnectionStateChanged) and event.state == "failed"
              and not stopped.called):
            stopped.errback(ClientError(f"the relay refused this device ({event.reason})"))

    client.events.subscribe(show)
    client.caught_up().addCallback(lambda _: note(
        f"listening for {client.me.email} (Ctrl-C to stop)"))
    client.start()
    try:
        yield stopped  # until the relay refuses us, or Ctrl-C / SIGTERM cancels this
    except defer.CancelledError:
        pass
    finally:
        yield client.stop()


# --- approving a new device ------------------------------------------------------------


def _show_code(code: LinkCode) -> None:
    say("Compare this code with the one on your other device:")
    say()
    say(f"    {code.emoji_text}")
    say(f"    {code.decimal_text}")
    say()


def _read_answer(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline()


@defer.inlineCallbacks
def _codes_match(reactor: Any, ended: defer.Deferred[Any]) -> Any:
    """The user's own answer, typed after comparing: only "yes" confirms. If `ended`
    fails first (the other device cancelled), that error, without waiting for the answer."""
    typed: defer.Deferred[str] = defer.Deferred()

    def read() -> None:  # a daemon thread: an unanswered prompt does not keep us alive
        line = _read_answer("Do both devices show the same code? Type yes to confirm, "
                            "anything else if they differ: ")
        reactor.callFromThread(lambda: typed.called or typed.callback(line))

    threading.Thread(target=read, name="answer", daemon=True).start()
    try:
        answer, _ = yield defer.DeferredList([typed, ended], fireOnOneCallback=True,
                                             fireOnOneErrback=True, consumeErrors=True)
    except defer.FirstError as e:
        e.subFailure.raiseException()
    finally:
        _forget(typed)
    return str(answer).strip().lower() == "yes"


@defer.inlineCallbacks
def cmd_link(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    link = yield SyncingClient.link(reactor, args.data_dir, args.relay, args.email,
                                    args.password, _cost(args), ca_file=args.ca_file)
    try:
        say("Open SecureChat on your other device (or run `securechat-cli approve` there):")
        say(f"it asks you to approve this new device ({link.device_id}).")
        code = yield link.wait_code()
        _show_code(code)
        if (yield _codes_match(reactor, link.wait_result())):
            link.confirm()
            say("Waiting for your other device...")
        else:
            link.cancel()
        client = yield link.wait_result()
    except BaseException:
        link.cancel()  # removes this pending device from the account
        yield link.wait_result().addErrback(lambda _: None)
        raise
    yield _signed_in(reactor, client, args)


@defer.inlineCallbacks
def cmd_approve(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield _open(reactor, args)
    requested = next_event(client, ev.DeviceApprovalRequested)
    try:
        yield _catch_up(reactor, client, args)
        if not requested.called:
            say("Waiting for a new device to ask for approval (sign in on it with "
                "\"Approve from another device\", or `securechat-cli link`)...")
        request = yield requested
        say(f"A new device wants to join your account ({request.device_id}).")
        approval = client.approve_device(request.device_id)
        code = yield approval.wait_code()
        _show_code(code)
        if (yield _codes_match(reactor, approval.wait_done())):
            approval.confirm()
            say("Waiting for the new device...")
        else:
            approval.reject()
        yield approval.wait_done()
        say("Approved: the new device is signed in to your account.")
    finally:
        _forget(requested)
        yield client.stop()


COMMANDS: dict[str, Command] = {
    "register": cmd_register,
    "request-code": cmd_request_code,
    "login": cmd_login,
    "change-password": cmd_change_password,
    "reset-password": cmd_reset_password,
    "add-friend": _with_account(_add_friend),
    "requests": _with_account(_requests, required=False),
    "accept": _with_account(_answer(accept=True)),
    "deny": _with_account(_answer(accept=False)),
    "send": _with_account(_send),
    "listen": cmd_listen,
    "history": _with_account(_history, required=False),
    "devices": _with_account(_devices, required=False),
    "remove-device": _with_account(_remove_device),
    "link": cmd_link,
    "approve": cmd_approve,
}


# === the command line ====================================================================


def _add_global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    # Given on the top parser, or after the command: defaults only on the top one, so a
    # value before the command is not overwritten by the subcommand's default.
    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument("--relay", default=default(DEFAULT_RELAY),
                        help=f"the relay's URL (default {DEFAULT_RELAY})")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="SecureChat from the command line.")
    _add_global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--email", required=True, help="your account's email")
        _add_global_options(sub, top=False)
        return sub

    command("register", "create an account and this device").add_argument(
        "--name", default="", help="the name your friends see")
    command("request-code", "mail a registration code to the email (for scripts: pass it "
            f"to register in ${EMAIL_CODE_ENV})")
    command("login", "sign in to an existing account on this (new) device, with the password "
                     "and the recovery phrase")
    command("change-password", "change the master password (on the relay and this device)")
    command("reset-password", "forgot the password: set a new one with the recovery phrase")
    command("add-friend", "send a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    command("requests", "list pending friend requests")
    command("accept", "accept a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    command("deny", "decline a friend request").add_argument(
        "--friend", required=True, metavar="EMAIL")
    send = command("send", "send a message and wait until the relay has it")
    send.add_argument("--to", required=True, metavar="EMAIL")
    send.add_argument("--text", required=True)
    command("listen", "print messages and friend requests as they arrive").add_argument(
        "--json", action="store_true", help="one JSON object a line")
    history = command("history", "print the conversation with a contact")
    history.add_argument("--with", dest="peer", required=True, metavar="EMAIL")
    history.add_argument("--limit", type=int, default=50)
    history.add_argument("--json", action="store_true", help="one JSON object a line")
    command("devices", "list the devices linked to your account").add_argument(
        "--json", action="store_true", help="one JSON object a line")
    command("remove-device", "remove a device from your account (your master password "
                             "confirms it)").add_argument("--device", required=True,
                                                          metavar="DEVICE_ID")
    command("link", "sign in on this (new) device by approving it on another device of the "
                    "account (compare a code on both)")
    command("approve", "wait for a new device of the account to ask, compare its code and "
                       "approve it")
    return parser


def _read_password(email: str, confirm: bool, variable: str = PASSWORD_ENV,
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


def _read_phrase() -> str:
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


def _read_secrets(args: argparse.Namespace) -> None:
    """Everything the command needs typed or from the environment, before it starts."""
    if args.command == "request-code":
        return
    if args.command != "reset-password":  # which is for a forgotten password
        args.password = _read_password(args.email, confirm=args.command == "register")
    if args.command in ("login", "reset-password"):
        args.recovery_phrase = _read_phrase()
    if args.command in ("change-password", "reset-password"):
        args.new_password = _read_password(args.email, True, NEW_PASSWORD_ENV,
                                           "New password", needs_terminal=True)


def _connection_problem(reason: str) -> str:
    """A connection failure's reason (an error URI), said so the user knows what to do."""
    if reason == uris.ERR_UNTRUSTED_CERTIFICATE:
        return ("the relay's certificate is not trusted: pass --ca-file PATH (the relay's "
                "certificate or the CA that signed it)")
    return reason


def _user_error(error: BaseException, args: argparse.Namespace) -> str | None:
    """The one line to show for an error the user can act on; None for a bug."""
    if isinstance(error, ClientError | WrongPassword | CorruptBlob):
        return str(error)
    if isinstance(error, JoinRefused) and error.reason == uris.ERR_UNTRUSTED_CERTIFICATE:
        return f"{_connection_problem(error.reason)}; it is {error.message}"
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
    args.email = normalise_email(args.email)
    try:
        check_relay_url(args.relay, args.insecure_ws)  # before asking for the password
        _read_secrets(args)
    except ClientError as e:
        note(f"error: {e}")
        sys.exit(1)
    except (KeyboardInterrupt, EOFError):
        sys.exit(EXIT_INTERRUPTED)
    _start_logging(args.verbose)
    task.react(_main, [args])


if __name__ == "__main__":
    main()
