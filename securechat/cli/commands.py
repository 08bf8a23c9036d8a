"""The commands of securechat-cli (the device-link ones are in cli/linking.py).

Each is a `Command`: it opens (or creates) the account on this device, does its work,
says what it did, and stops the client before its Deferred fires.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

import securechat.cli.files as files
from securechat.cli.account import Command, forget, kdf_cost, open_account
from securechat.cli.history import HistoryWait
from securechat.cli.output import STATUS_NAMES, message_json, note, printable, say, when
from securechat.cli.prompts import EMAIL_CODE_ENV, email_code
from securechat.cli.waiting import catch_up, send_queued
from securechat.client import ClientError, MessageStatus, MessageType, SecureChatClient, Sender
from securechat.client import events as ev
from securechat.client.registration import request_email_code
from securechat.protocol.keys import normalise_email, user_id_for_email

#: A command's work once the account is open and caught up.
Work = Callable[[Any, SecureChatClient, argparse.Namespace], Any]


def with_account(required: bool = True) -> Callable[[Work], Command]:
    """Makes `work` a command that opens the account, catches up with the relay
    (`required`, or else a warning), runs `work` and stops the client."""
    def wrap(work: Work) -> Command:
        @defer.inlineCallbacks
        def command(reactor: Any, args: argparse.Namespace) -> Any:
            client = yield open_account(reactor, args)
            try:
                yield catch_up(reactor, client, args, required)
                yield work(reactor, client, args)
            finally:
                yield client.stop()
        return command
    return wrap


def contact_id(client: SecureChatClient, email: str) -> str:
    """The user id of `email`, who must be a contact of this account."""
    peer = user_id_for_email(email)
    if peer not in client.contacts:
        raise ClientError(f"{normalise_email(email)} is not a contact of {client.me.email}")
    return peer


@defer.inlineCallbacks
def signed_in(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    """A new device is set up: say so, fetch what waits for it (the contacts and history
    my other devices send: cli.history), and stop."""
    try:
        say(f"Signed in as {client.me.email} on this new device.")
        client.account_sync.history_days = getattr(args, "history_days", None)
        history = HistoryWait(client)
        yield catch_up(reactor, client, args, required=False)
        yield history.received(reactor, args)
    finally:
        yield client.stop()


# --- the account -----------------------------------------------------------------------


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
    code = yield email_code(reactor, args)
    client, mnemonic = yield SecureChatClient.register(
        reactor, args.data_dir, args.relay, args.email, args.password, args.name,
        kdf_cost(args), email_code=code, ca_file=args.ca_file, insecure_ws=args.insecure_ws)
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
        yield catch_up(reactor, client, args, required=False)
    finally:
        yield client.stop()


@defer.inlineCallbacks
def cmd_login(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    client = yield SecureChatClient.login(reactor, args.data_dir, args.relay, args.email,
                                       args.password, kdf_cost(args),
                                       recovery_phrase=args.recovery_phrase,
                                       ca_file=args.ca_file, insecure_ws=args.insecure_ws)
    yield signed_in(reactor, client, args)


@defer.inlineCallbacks
def cmd_change_password(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield open_account(reactor, args)  # checks the current password on this device
    try:
        yield client.change_password(args.password, args.new_password, kdf_cost(args))
    finally:
        yield client.stop()
    say(f"Changed the master password of {args.email}: the relay and this device take the "
        "new one. Your other devices keep opening with the password they had until you "
        "change it there too.")


@defer.inlineCallbacks
def cmd_reset_password(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    here = yield SecureChatClient.reset_password(reactor, args.data_dir, args.relay, args.email,
                                              args.recovery_phrase, args.new_password,
                                              kdf_cost(args))
    say(f"Reset the master password of {args.email}: sign in with the new one.")
    if here:
        say("The account on this device opens with the new password too.")
    elif here is False:
        say("The account on this device could not be re-sealed (it has no copy under the "
            "recovery phrase yet): remove it here and sign in again.")


# --- friends ---------------------------------------------------------------------------


@with_account()
@defer.inlineCallbacks
def cmd_add_friend(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    yield client.lookup_account(args.friend)
    before = yield client.outbox_entries()
    request = yield client.add_friend(args.friend)
    yield send_queued(reactor, client, args, before, "the friend request")
    say(f"Friend request sent to {request.email}.")


@with_account(required=False)
@defer.inlineCallbacks
def cmd_requests(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    pending = [r for r in (yield client.requests()) if r.action == "pending"]
    for r in pending:
        warning = ("  WARNING: their key changed since the request; make sure it is really "
                   "them" if r.key_changed else "")
        if r.direction == "in":
            name = f" ({printable(r.name)})" if r.name else ""
            say(f"from {r.email}{name}{warning}")
        else:
            say(f"to   {r.email} (waiting for an answer){warning}")
    if not pending:
        say("No pending friend requests.")


def _answer(accept: bool) -> Work:
    @defer.inlineCallbacks
    def answer(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
        before = yield client.outbox_entries()
        peer = user_id_for_email(args.friend)
        if accept:
            yield client.accept_friend(peer)
        else:
            yield client.deny_friend(peer)
        yield send_queued(reactor, client, args, before, "the answer")
        friend = normalise_email(args.friend)
        say(f"You and {friend} are now friends." if accept
            else f"Declined the friend request of {friend}.")
    return answer


cmd_accept = with_account()(_answer(accept=True))
cmd_deny = with_account()(_answer(accept=False))


# --- messages --------------------------------------------------------------------------


@with_account()
@defer.inlineCallbacks
def cmd_send(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    peer = contact_id(client, args.to)
    if args.file is not None:  # a file, with --text as its caption
        yield files.send_file(reactor, client, peer, args)
        return
    if args.text is None:
        raise ClientError("give --text, --file, or both")
    sending: list[str] = []
    sent = client.events.next(ev.MessageUpdated,
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
        forget(sent)
    say(f"Sent to {client.contacts[peer].peer_email}.")


@with_account(required=False)
@defer.inlineCallbacks
def cmd_history(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    peer = contact_id(client, args.peer)
    email = client.contacts[peer].peer_email
    for m in (yield client.messages(peer, args.limit)):
        if m.sender == Sender.SYSTEM:  # a line this device wrote, not a message
            what = {MessageType.DEVICE_ADDED: "signed in on a new device",
                    MessageType.DEVICE_REMOVED: "removed a device"}.get(m.type, m.type)
            say(json.dumps({"type": m.type, "account": email, "device_id": m.text,
                            "timestamp": m.timestamp}) if args.json
                else f"{when(m.timestamp)}  * {email} {what} ({m.text})")
            continue
        who = "me" if m.sender == "me" else email
        if args.json:
            say(message_json(m, who))
        else:
            status = f"  [{STATUS_NAMES.get(m.status, m.status)}]" if m.sender == "me" else ""
            say(f"{when(m.timestamp)}  {who}: {m.text}{status}")


# --- profile ---------------------------------------------------------------------------


@with_account()
@defer.inlineCallbacks
def cmd_profile(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    """Set my display name (and avatar: cropped square, at most 256x256), then wait until
    my contacts' and my other devices' notices are with the relay."""
    before = yield client.outbox_entries()
    profile = yield client.profiles.set(name=args.name, avatar_path=args.avatar)
    yield client.account_sync.settled()
    yield send_queued(reactor, client, args, before, "the profile change")
    avatar = "no avatar" if profile.avatar is None else \
        f"avatar of {len(profile.avatar)} bytes (version {profile.avatar_version})"
    say(f"Profile of {client.me.email}: name {printable(profile.name)!r} (version "
        f"{profile.name_version}), {avatar}.")


# --- devices ---------------------------------------------------------------------------


@with_account(required=False)
@defer.inlineCallbacks
def cmd_devices(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    linked = yield client.linked_devices()
    notices = {n.device_id for n in (yield client.device_notices())}
    for d in linked:
        if args.json:
            say(json.dumps({"type": "device", "device_id": d.device_id, "name": d.name,
                            "added_at": d.added_at, "last_seen": d.last_seen,
                            "this_device": d.this_device, "new": d.device_id in notices}))
            continue
        added = when(d.added_at) if d.added_at else "unknown"
        seen = when(d.last_seen) if d.last_seen else "never"
        marks = " (this device)" if d.this_device else ""
        marks += "  NEW: remove it with remove-device if it is not yours" \
            if d.device_id in notices else ""
        say(f"{d.name}  added {added}  last seen {seen}{marks}")


@with_account()
@defer.inlineCallbacks
def cmd_remove_device(reactor: Any, client: SecureChatClient, args: argparse.Namespace) -> Any:
    # The master password this command was given (it opened the account) confirms it.
    yield client.remove_device(args.device, args.password)
    say(f"Removed device {args.device} from {client.me.email}.")


# --- listening -----------------------------------------------------------------------


@defer.inlineCallbacks
def cmd_listen(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield open_account(reactor, args)
    stopped: defer.Deferred[None] = defer.Deferred()
    if args.save_dir is not None:
        try:
            files.FileSaver(client, args.save_dir, args.json)
        except ClientError:
            yield client.stop()
            raise

    def show(event: Any) -> None:
        if isinstance(event, ev.MessageReceived):
            contact = client.contacts.get(event.peer_user_id)
            who = contact.peer_email if contact else event.peer_user_id
            say(message_json(event.message, who) if args.json
                else f"[{when(event.message.timestamp)}] {who}: {event.message.text}")
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
