"""`link` and `approve`: a new device joins the account, approved on one that has it.

Both devices show a short code; the user compares them and types "yes" on each (see
securechat/client/linking.py for the exchange behind it).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from twisted.internet import defer

from securechat.cli.account import forget, kdf_cost, open_account
from securechat.cli.commands import signed_in
from securechat.cli.output import say
from securechat.cli.waiting import catch_up
from securechat.client import LinkCode, SecureChatClient
from securechat.client import events as ev


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
        forget(typed)
    return str(answer).strip().lower() == "yes"


@defer.inlineCallbacks
def cmd_link(reactor: Any, args: argparse.Namespace) -> Any:
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    link = yield SecureChatClient.link(reactor, args.data_dir, args.relay, args.email,
                                    args.password, kdf_cost(args), ca_file=args.ca_file)
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
    yield signed_in(reactor, client, args)


@defer.inlineCallbacks
def cmd_approve(reactor: Any, args: argparse.Namespace) -> Any:
    client = yield open_account(reactor, args)
    requested = client.events.next(ev.DeviceApprovalRequested)
    try:
        yield catch_up(reactor, client, args)
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
        forget(requested)
        yield client.stop()
