"""securechat-cli assistant: the local AI assistant from the shell (llama.cpp, on this device).

    securechat-cli assistant --model PATH compose --text "can u send teh file"
    securechat-cli assistant --model PATH replies --email A --with B
    securechat-cli assistant --model PATH summary --email A --with B [--unread]

compose needs no account (the assistant belongs to the device); replies and summary open
A's account (its password as for every command), read the chat with B and nothing else,
stop the client, then run the model. compose and summary print the text as it is
generated; replies prints three lines, "positive: …", "negative: …", "question: …", once
the answer is complete (it is read into three labelled replies first). Without --model,
the model chosen in the desktop app's settings on this device is used. Nothing is ever
sent: the output is a suggestion. Ctrl-C stops the generation (exit status 130).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from securechat.cli.account import open_account
from securechat.cli.commands import contact_id
from securechat.cli.waiting import catch_up
from securechat.client import Assistant, AssistantSettings, Generation

ACTIONS = ("compose", "replies", "summary")


def add_arguments(commands: Any, global_options: Callable[[argparse.ArgumentParser], None]
                  ) -> None:
    parser = commands.add_parser(
        "assistant", help="the local AI assistant: polish a draft, suggest replies, "
                          "summarize a chat (on this device, with llama.cpp)",
        description=__doc__.split("\n\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", metavar="PATH",
                        help="a GGUF chat model file (default: the one chosen in the app)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for the model (default: all cores)")
    parser.add_argument("--max-seconds", type=float, default=120.0, metavar="SECONDS",
                        help="stop a generation that runs longer (default 120)")
    global_options(parser)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    compose = actions.add_parser("compose", help="polish a draft message")
    compose.add_argument("--text", required=True, help="the draft")
    compose.set_defaults(email=None)
    global_options(compose)
    for name, what in (("replies", "three quick replies to a chat"),
                       ("summary", "a bulleted summary of a chat")):
        sub = actions.add_parser(name, help=what)
        sub.add_argument("--email", required=True, help="your account's email")
        sub.add_argument("--with", dest="peer", required=True, metavar="EMAIL",
                         help="the contact whose chat is read")
        if name == "summary":
            sub.add_argument("--unread", action="store_true",
                             help="only the messages not read yet")
        global_options(sub)


def _assistant(reactor: Any, args: argparse.Namespace) -> Assistant:
    settings = AssistantSettings.saved(args.data_dir)
    if args.model:
        settings.model_path = os.path.abspath(args.model)
    settings.threads = args.threads or settings.threads
    settings.timeout_s = args.max_seconds
    return Assistant(reactor, settings=settings)  # not saved: this run only


def _terminal_safe(piece: str) -> str:
    """Model text (which peers' messages can steer) without terminal control characters."""
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode()
                   for c in piece)


def _stream(generation: Generation) -> None:
    def write(piece: str) -> None:
        sys.stdout.write(_terminal_safe(piece))
        sys.stdout.flush()
    generation.on_token(write)


@defer.inlineCallbacks
def _chat_generation(reactor: Any, assistant: Assistant, args: argparse.Namespace) -> Any:
    """The account is open only while the one chat is read."""
    client = yield open_account(reactor, args)
    try:
        yield catch_up(reactor, client, args, required=False)
        peer = contact_id(client, args.peer)
        if args.action == "replies":
            return (yield assistant.quick_replies(client, peer))
        return (yield assistant.summary(client, peer, args.unread))
    finally:
        yield client.stop()


@defer.inlineCallbacks
def cmd_assistant(reactor: Any, args: argparse.Namespace) -> Any:
    assistant = _assistant(reactor, args)
    try:
        if args.action == "compose":
            generation = assistant.compose(args.text)
        else:
            generation = yield _chat_generation(reactor, assistant, args)
        if args.action != "replies":
            _stream(generation)
        result = yield generation.done
        if args.action == "replies":
            for reply in result:
                sys.stdout.write(f"{reply.label}: {_terminal_safe(reply.text)}\n")
        elif not generation.text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    finally:
        yield assistant.close()
