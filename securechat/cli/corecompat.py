"""What the CLI does today that belongs to the client core (issue 10).

These helpers reach into the core: `catch_up` races CaughtUp against the connection
state with its own timeout, `send_queued`/`outbox_seqs` poll the store's outbox, and
`require_account` calls the relay's procedure through the connection's session. They
move to the core as `client.wait_caught_up(timeout)`, `client.handed_off()` and
`client.lookup_account(email)`; until then they live here, in one place, so that the
swap touches this module and its callers' few lines only.
"""

from __future__ import annotations

import argparse
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.bot import SyncingClient, next_event
from securechat.cli.account import forget
from securechat.cli.output import connection_problem, note
from securechat.client import events as ev
from securechat.client.core import ClientError
from securechat.protocol import uris
from securechat.protocol.keys import user_id_for_email


@defer.inlineCallbacks
def catch_up(reactor: Any, client: SyncingClient, args: argparse.Namespace,
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
                        f"{connection_problem(event.reason)}")
    finally:
        forget(caught_up)
        forget(trouble)
    if required:
        raise ClientError(problem)
    note(f"warning: {problem}; showing what this device has stored")


@defer.inlineCallbacks
def send_queued(reactor: Any, client: SyncingClient, args: argparse.Namespace,
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
def outbox_seqs(client: SyncingClient) -> Any:
    """What is queued in the outbox now (its seqs), for `send_queued`'s `before`."""
    return {seq for seq, *_ in (yield client.store.outbox())}


@defer.inlineCallbacks
def require_account(client: SyncingClient, email: str) -> Any:
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
