"""An echo bot: accepts every friend request and answers each message with "echo: <text>".

    SECURECHAT_PASSWORD=... python examples/echo_bot.py --relay ws://127.0.0.1:8080 \\
        --email echo@example.org

The first run registers the account (or, if it exists, signs in as a new device);
later runs open it from the data directory. Stop it with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from twisted.internet import defer, task
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

from securechat.bot import DEFAULT_RELAY, default_data_dir, run_bot
from securechat.client import SecureChatClient, events

log = Logger()


def echo(client: SecureChatClient, event: events.MessageReceived) -> str:
    return f"echo: {event.message.text}"


@defer.inlineCallbacks
def main(reactor: Any, args: argparse.Namespace, password: str) -> Any:
    client = yield run_bot(reactor, args.data_dir, args.relay, args.email, password, echo)
    reactor.addSystemEventTrigger("before", "shutdown", client.stop)
    log.info("echo bot running as {email}", email=client.me.email)
    yield defer.Deferred()  # until Ctrl-C or SIGTERM stops the reactor (and the client)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", default=DEFAULT_RELAY)
    parser.add_argument("--email", required=True)
    parser.add_argument("--data-dir", default=default_data_dir())
    arguments = parser.parse_args()
    secret = os.environ.get("SECURECHAT_PASSWORD")
    if not secret:
        sys.exit("set SECURECHAT_PASSWORD to the bot account's password")
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)])
    task.react(main, [arguments, secret])
