"""A new device's history, as `login` and `link` wait for it: my other devices send the
contacts and messages once this device asks (client.manifest). An answer starts within
FIRST_PAGE_WAIT seconds if another device of the account is online; otherwise the
request waits for them on the relay, and a later command receives the history."""

from __future__ import annotations

import argparse
from typing import Any

from twisted.internet import defer

from securechat.cli.output import note, say
from securechat.client import SecureChatClient
from securechat.client import events as ev

FIRST_PAGE_WAIT = 5.0  # seconds


class HistoryWait:
    """Made before the client starts (so no page is missed); `received()` after it
    caught up waits for the history and says how much came, or notes it did not (yet)."""

    def __init__(self, client: SecureChatClient) -> None:
        self._client = client
        self._first = client.events.next(ev.HistoryProgress)
        self._done = client.events.next(ev.HistoryProgress, lambda e: e.done)

    @defer.inlineCallbacks
    def received(self, reactor: Any, args: argparse.Namespace) -> Any:
        try:
            if (yield self._client.account_sync.history_complete()) and not self._done.called:
                return  # not asked: the account's only device, or not a new one
            try:
                yield self._first.addTimeout(FIRST_PAGE_WAIT, reactor)
                progress = yield self._done.addTimeout(args.timeout, reactor)
            except defer.TimeoutError:
                note("warning: the history from your other devices has not come (yet); it "
                     "arrives when they and this device are online")
                return
        finally:
            self._first.cancel()
            self._done.cancel()
        say(f"Received the history from your other devices: {progress.received} messages.")
