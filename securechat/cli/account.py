"""Opening the account on this device, and what every command shares around it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from securechat.client import KdfCost, SecureChatClient

#: A command: run with the reactor and the parsed arguments, done when its Deferred fires.
Command = Callable[[Any, argparse.Namespace], defer.Deferred[Any]]


def kdf_cost(args: argparse.Namespace) -> KdfCost:
    """The Argon2id cost of a password key this command makes (--kdf-memory)."""
    return KdfCost(memory_kib=args.kdf_memory)


def open_account(reactor: Any, args: argparse.Namespace) -> defer.Deferred[SecureChatClient]:
    """The account of --email on this device, opened with its password (not started)."""
    return SecureChatClient.open(reactor, args.data_dir, args.relay, args.email, args.password,
                              ca_file=args.ca_file, insecure_ws=args.insecure_ws)


def forget(d: defer.Deferred[Any]) -> None:
    """Stop waiting on `d`, quietly."""
    if not d.called:
        d.addErrback(lambda _: None)
        d.cancel()
