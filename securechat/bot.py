"""Helpers for bots and scripts on top of `SecureChatClient`, with a Deferred API.

    def echo(client, event):
        return f"echo: {event.message.text}"

    client = yield run_bot(reactor, data_dir, "wss://relay.example", "bot@example.org",
                           password, echo)

`run_bot` opens the account on this device, or signs in as a new device, or
registers it; starts the client; accepts friend requests (unless told not to)
and answers each incoming message with what the handler returns.

`SyncingClient.caught_up()` fires once the client is online and has fetched
its whole mailbox and flushed its outbox (at once if it already has).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.logger import Logger

from securechat.client import (
    DEFAULT_RELAY_URL,
    AccountExists,
    EmailCodeRequired,
    KdfCost,
    NoSuchAccount,
    SecureChatClient,
    WrongPassword,
    check_new_password,
    default_data_dir,
    is_set_up,
)
from securechat.client import events as ev

E = TypeVar("E")

DEFAULT_RELAY = DEFAULT_RELAY_URL

log = Logger()

# What a message handler may return: a reply, or None for no reply (or a Deferred of either).
Reply = str | None | defer.Deferred[str | None]
OnMessage = Callable[[SecureChatClient, ev.MessageReceived], Reply]


class SyncingClient(SecureChatClient):
    """The name bots were written against: catching up (`caught_up()`,
    `is_caught_up`) is part of every SecureChatClient now."""


def next_event(client: SecureChatClient, kind: type[E],
               match: Callable[[E], bool] | None = None) -> defer.Deferred[E]:
    """The client's next event of `kind` (that `match`es): `client.events.next`."""
    return client.events.next(kind, match)


@defer.inlineCallbacks
def open_client(reactor: Any, data_dir: str, url: str, email: str, password: str, *,
                register_if_missing: bool = True, name: str = "",
                cost: KdfCost | None = None, recovery_phrase: str | None = None,
                ca_file: str | None = None, floor: KdfCost | None = None,
                insecure_ws: bool = False) -> Any:
    """Deferred[SyncingClient], not started: the account as set up on this device, else
    signed in as a new device (which takes the `recovery_phrase`), else (if
    `register_if_missing`) a new account. `ca_file`: the PEM certificate or CA to trust
    for a wss:// relay (a development certificate, a private CA) instead of the system's
    CAs. `floor`: the cheapest password hashing a sign-in accepts (the default costs;
    only tests lower it). `insecure_ws`: allow a ws:// relay off loopback
    (client.relay_url)."""
    if is_set_up(data_dir, email):
        client = yield SyncingClient.open(reactor, data_dir, url, email, password,
                                          ca_file=ca_file, insecure_ws=insecure_ws)
        return client
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    try:
        client = yield SyncingClient.login(reactor, data_dir, url, email, password, cost,
                                           recovery_phrase=recovery_phrase, ca_file=ca_file,
                                           floor=floor, insecure_ws=insecure_ws)
    except (NoSuchAccount, WrongPassword):
        # The relay answers an unknown account as a wrong password (no existence oracle),
        # so registering is how to tell: it fails if the account exists.
        if not register_if_missing:
            raise
        check_new_password(password)
        try:
            client, _mnemonic = yield SyncingClient.register(reactor, data_dir, url, email,
                                                             password, name, cost,
                                                             ca_file=ca_file,
                                                             insecure_ws=insecure_ws)
        except AccountExists:
            raise WrongPassword("wrong password") from None
        except EmailCodeRequired:
            raise EmailCodeRequired(
                f"the relay verifies emails: register {email} first (securechat-cli register "
                "with the mailed code), then start the bot with the same password") from None
        # The mnemonic stays in this device's secret store; a bot has nobody to show it to.
        log.info("registered a new account for {email}", email=email)
        return client
    log.info("signed in to {email} as a new device", email=email)
    return client


class _Bot:
    """Answers messages with the handler's replies and accepts friend requests."""

    def __init__(self, client: SyncingClient, on_message: OnMessage) -> None:
        self._client = client
        self._on_message = on_message
        self._accepting: set[str] = set()

    def message_received(self, event: ev.MessageReceived) -> None:
        d = defer.maybeDeferred(self._on_message, self._client, event)
        d.addCallback(self._reply, event)
        d.addErrback(lambda f: log.failure("handling a message failed", f))

    @defer.inlineCallbacks
    def _reply(self, reply: str | None, event: ev.MessageReceived) -> Any:
        if reply is not None:
            yield self._client.send_text(event.peer_user_id, reply)
        yield self._client.mark_read(event.peer_user_id)

    def friend_request(self, event: ev.FriendRequestReceived) -> None:
        self.accept(event.peer_user_id, event.email)

    @defer.inlineCallbacks
    def accept_pending(self) -> Any:
        """Requests that came while nobody accepted them (auto-accept was off, say)."""
        for request in (yield self._client.requests()):
            if request.incoming_pending:
                self.accept(request.user_id, request.email)

    def accept(self, peer_user_id: str, email: str) -> None:
        if peer_user_id in self._accepting or peer_user_id in self._client.contacts:
            return
        self._accepting.add(peer_user_id)
        log.info("accepting the friend request of {email}", email=email)
        d = self._client.accept_friend(peer_user_id)
        d.addErrback(lambda f: log.failure("accepting a friend request failed", f))
        d.addBoth(lambda _: self._accepting.discard(peer_user_id))


@defer.inlineCallbacks
def run_bot(reactor: Any, data_dir: str, url: str, email: str, password: str,
            on_message: OnMessage, *, register_if_missing: bool = True,
            auto_accept_friends: bool = True, cost: KdfCost | None = None,
            recovery_phrase: str | None = None, ca_file: str | None = None,
            floor: KdfCost | None = None, insecure_ws: bool = False) -> Any:
    """Deferred[SyncingClient], started: open (or sign in, or register) the account and
    answer each incoming message with `on_message(client, event)`'s reply, if it returns
    a str (or a Deferred firing with one). Stop it with `client.stop()`. `ca_file`,
    `floor` and `insecure_ws` as for `open_client`."""
    client = yield open_client(reactor, data_dir, url, email, password,
                               register_if_missing=register_if_missing, cost=cost,
                               recovery_phrase=recovery_phrase, ca_file=ca_file,
                               floor=floor, insecure_ws=insecure_ws)
    bot = _Bot(client, on_message)
    client.events.subscribe(bot.message_received, ev.MessageReceived)
    if auto_accept_friends:
        client.events.subscribe(bot.friend_request, ev.FriendRequestReceived)
        client.caught_up().addCallback(lambda _: bot.accept_pending()).addErrback(
            lambda f: log.failure("accepting pending friend requests failed", f))
    client.start()
    return client


__all__ = ["DEFAULT_RELAY", "OnMessage", "Reply", "SyncingClient", "default_data_dir",
           "next_event", "open_client", "run_bot"]
