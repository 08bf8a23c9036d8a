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

from securechat.client import events as ev
from securechat.client.core import AccountExists, KdfCost, NoSuchAccount, SecureChatClient
from securechat.client.keys import WrongPassword
from securechat.client.passwords import check_new_password
from securechat.client.registration import EmailCodeRequired
from securechat.protocol.keys import user_id_for_email

E = TypeVar("E")

DEFAULT_RELAY = "ws://127.0.0.1:8080"

log = Logger()

# What a message handler may return: a reply, or None for no reply (or a Deferred of either).
Reply = str | None | defer.Deferred[str | None]
OnMessage = Callable[[SecureChatClient, ev.MessageReceived], Reply]


def default_data_dir() -> str:
    """Where accounts live: $SECURECHAT_DATA_DIR, else ~/.local/share/securechat."""
    return os.environ.get("SECURECHAT_DATA_DIR") or os.path.expanduser(
        "~/.local/share/securechat")


class SyncingClient(SecureChatClient):
    """A `SecureChatClient` that knows whether it is caught up with the relay now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._caught_up_on: Any = None  # the connection that last caught up
        self.events.subscribe(self._caught_up, ev.CaughtUp)

    def _caught_up(self, event: ev.CaughtUp) -> None:
        self._caught_up_on = self.connection.session

    @property
    def is_caught_up(self) -> bool:
        """Online, and this connection has drained the mailbox and flushed the outbox."""
        session = self.connection.session
        return session is not None and session is self._caught_up_on

    def caught_up(self) -> defer.Deferred[Any]:
        """Fires at once if the client is caught up, else when the current or next
        connection is (start the client first, or soon). Cancellable."""
        if self.is_caught_up:
            return defer.succeed(None)
        return next_event(self, ev.CaughtUp)


def next_event(client: SecureChatClient, kind: type[E],
               match: Callable[[E], bool] | None = None) -> defer.Deferred[E]:
    """The client's next event of `kind` (that `match`es). Cancel it (or use `addTimeout`)
    to stop waiting."""
    def stop_waiting(_: object) -> None:
        client.events.unsubscribe(arrived)

    d: defer.Deferred[E] = defer.Deferred(stop_waiting)

    def arrived(event: E) -> None:
        if not d.called and (match is None or match(event)):
            client.events.unsubscribe(arrived)
            d.callback(event)

    client.events.subscribe(arrived, kind)
    return d


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
    if os.path.isdir(os.path.join(data_dir, user_id_for_email(email))):
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
            if request.direction == "in" and request.action == "pending":
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
