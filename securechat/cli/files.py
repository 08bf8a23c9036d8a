"""Files from the command line: `send --file PATH` and `listen --save-dir DIR`."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from twisted.internet import defer

from securechat.cli.account import forget
from securechat.cli.output import note, printable, say
from securechat.client import ClientError, MessageStatus, SecureChatClient
from securechat.client import events as ev

AUTO_SAVE_ALL = 1 << 62  # listen --save-dir downloads every file offered


@defer.inlineCallbacks
def send_file(reactor: Any, client: SecureChatClient, peer: str,
              args: argparse.Namespace) -> Any:
    """Encrypt and upload the file, then wait until the relay has its FILE_INFO."""
    sending: list[str] = []
    sent = client.events.next(ev.MessageUpdated,
                              lambda e: e.message_id in sending and e.status >= MessageStatus.SENT)
    refused = client.events.next(ev.ConnectionStateChanged,
                                 lambda e: e.state == ev.ConnectionState.FAILED)
    try:
        message = yield client.files.send(peer, args.file, text=args.text)
        sending.append(message.id)
        # The upload goes on across reconnections; only a refused device ends it here.
        uploaded = defer.DeferredList([client.files.wait(message.id), refused],
                                      fireOnOneCallback=True, fireOnOneErrback=True,
                                      consumeErrors=True)
        try:
            _, index = yield uploaded
        except defer.FirstError as e:
            raise e.subFailure.value from None
        if index == 1:
            raise ClientError("the relay refused this device; the upload goes on the next "
                              "time this account is online")
        yield sent.addTimeout(args.timeout, reactor)
    except defer.TimeoutError:
        raise ClientError(f"the file is uploaded but the relay did not take its message "
                          f"within {args.timeout:g}s; it stays queued and goes out the next "
                          "time this account is online") from None
    finally:
        forget(sent)
        forget(refused)
    say(f"Sent {printable(os.path.basename(args.file))} to "
        f"{client.contacts[peer].peer_email}.")


class FileSaver:
    """`listen --save-dir`: every file received is downloaded, verified and saved into the
    folder under its own name (a numbered suffix if taken), one line each."""

    def __init__(self, client: SecureChatClient, directory: str, as_json: bool) -> None:
        if not os.path.isdir(directory):
            raise ClientError(f"--save-dir {directory}: no such folder")
        if not os.access(directory, os.W_OK):
            raise ClientError(f"--save-dir {directory}: cannot write there")
        self._client = client
        self._directory = directory
        self._json = as_json
        client.files.auto_download_bytes = AUTO_SAVE_ALL
        client.events.subscribe(self._downloaded, ev.FileTransferred)
        client.events.subscribe(self._failed, ev.FileFailed)

    def _who(self, peer: str) -> str:
        contact = self._client.contacts.get(peer)
        return contact.peer_email if contact else peer

    def _downloaded(self, event: ev.FileTransferred) -> None:
        if event.item.direction != "in":
            return
        d = self._client.files.save_into(event.item.message_id, self._directory)
        d.addCallbacks(self._saved, self._not_saved, callbackArgs=(event,),
                       errbackArgs=(event,))

    def _saved(self, path: str, event: ev.FileTransferred) -> None:
        who = self._who(event.peer_user_id)
        if self._json:
            say(json.dumps({"type": "file", "id": event.item.message_id, "from": who,
                            "name": event.item.original_name, "size": event.item.file_size,
                            "path": path}))
        else:
            say(f"Saved {printable(os.path.basename(path))} ({event.item.file_size} bytes) "
                f"from {who} to {printable(path)}")

    def _not_saved(self, failure: Any, event: ev.FileTransferred) -> None:
        note(f"error: could not save {printable(event.item.original_name)}: "
             f"{failure.getErrorMessage()}")

    def _failed(self, event: ev.FileFailed) -> None:
        if event.direction == "in" and not event.canceled:
            note(f"error: a file from {self._who(event.peer_user_id)} was not saved: "
                 f"{printable(event.reason)}")
