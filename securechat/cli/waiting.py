"""What a command waits for, with its deadline (`--timeout`) and the CLI's own words:
the client caught up with the relay, and what it queued handed to the relay."""

from __future__ import annotations

import argparse
from typing import Any

from twisted.internet import defer

from securechat.cli.output import connection_problem, note
from securechat.client import ClientError, NotCaughtUp, SecureChatClient, events


@defer.inlineCallbacks
def catch_up(reactor: Any, client: SecureChatClient, args: argparse.Namespace,
             required: bool = True) -> Any:
    """Start the client and wait until it has caught up with the relay. If it cannot
    (the relay is unreachable, refuses this device, or is too slow): an error when
    `required`, else a warning and carry on with what this device has stored."""
    waiting = client.wait_caught_up(args.timeout)
    client.start()
    try:
        yield waiting
        return
    except NotCaughtUp as e:
        if e.event is None:
            problem = f"the relay at {args.relay} did not answer within {args.timeout:g}s"
        elif e.event.state == events.ConnectionState.FAILED:
            problem = f"the relay refused this device ({e.event.reason})"
        else:
            problem = (f"could not reach the relay at {args.relay}: "
                       f"{connection_problem(e.event.reason)}")
    if required:
        raise ClientError(problem)
    note(f"warning: {problem}; showing what this device has stored")


@defer.inlineCallbacks
def send_queued(reactor: Any, client: SecureChatClient, args: argparse.Namespace,
                before: set[int], what: str) -> Any:
    """Wait until `what`, queued since `before` (`client.outbox_entries()`), has gone to
    the relay."""
    deadline = reactor.seconds() + args.timeout
    while not (yield client.handed_off(before)):
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
