"""Shared files on every device of both accounts, those linked later included (issue 12's
blob store meets issue 13's account sync).

A file's blob is readable by the devices its uploader named (`sc.blob.create`), and by
every other device of the accounts party to it, those linked later or restored from a
backup included (the relay keeps those accounts; docs/protocol.md §3.21). What follows a
device linked later is the file itself, as a reference: MANIFEST message entries of
shared files carry their FILE_INFO (storage.media_sync): a history for a new device of
mine, a push to my other devices, and the missed messages pushed to a contact. The
merged media row shows with a download button; the blob is fetched on demand
(`client.files.download`) — or, for a contact's missed message, by itself within
`auto_download_bytes`, as if its FILE_INFO had come. The file key and read token are
inside the MANIFEST, so inside Olm, like FILE_INFO.
"""

from __future__ import annotations

from twisted.internet import defer

import securechat.client.events as ev
import securechat.client.storage.media as media_db
from securechat.client.context import ClientContext
from securechat.client.files import FileTransfers
from securechat.client.manifest import AccountSync


class FileSync:
    """`client.file_sync`: files merged from a MANIFEST offered (and fetched, for a
    contact's missed message within `auto_download_bytes`)."""

    def __init__(self, ctx: ClientContext, files: FileTransfers,
                 account_sync: AccountSync) -> None:
        self._ctx = ctx
        self._files = files
        account_sync.files_merged = self._merged

    def _merged(self, rows: list[media_db.MediaRow], from_peer: bool) -> defer.Deferred[None]:
        for row in rows:
            self._ctx.events.emit(ev.FileOffered(row.item, row.peer))
            # A contact's missed message is as if its FILE_INFO came; a history's or my
            # other device's files are downloaded on demand.
            if from_peer and row.item.file_size <= self._files.auto_download_bytes:
                self._files.download(row.item.message_id).addErrback(lambda _f: None)
        return defer.succeed(None)
