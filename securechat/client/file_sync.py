"""Shared files on every device of both accounts, those linked later included (issue 12's
blob store meets issue 13's account sync).

A file's blob is readable by the devices its uploader named (`sc.blob.create`): the
two accounts' devices of that day. Two things follow a device linked later:

* **The file itself, as a reference.** MANIFEST message entries of shared files carry
  their FILE_INFO (storage.media_sync): a history for a new device of mine, a push to
  my other devices, and the missed messages pushed to a contact. The merged media row
  shows with a download button; the blob is fetched on demand (`client.files.download`)
  — or, for a contact's missed message, by itself within `auto_download_bytes`, as if
  its FILE_INFO had come. The file key and read token are inside the MANIFEST, so inside
  Olm, like FILE_INFO.
* **The right to read the blob** (`sc.blob.grant`, docs/protocol.md §3.21). My device
  that answers a new device's history request first lets it read every file I received
  (files of my own account it reads anyway); a device that sees a contact's new device
  lets it read the files I sent that contact. Grants are queued in the database
  (`media_grants`) and made when online, one blob at a time: a dropped connection or a
  restart loses none; what the relay refuses for good (the blob expired, the device is
  gone, too many readers) is dropped and logged, without a secret.
"""

from __future__ import annotations

from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task
from twisted.logger import Logger

import securechat.client.events as ev
import securechat.client.storage.media as media_db
import securechat.client.storage.media_sync as media_sync
from securechat.client.context import ClientContext
from securechat.client.files import FileTransfers
from securechat.client.manifest import AccountSync
from securechat.protocol import uris

BATCH = 50  # files read from the database per round of grants
WINDOW = 8  # grant calls in flight
# What the relay refuses for good: the grant is dropped, not tried again.
_FINAL_REFUSALS = frozenset({uris.ERR_NO_SUCH_BLOB, uris.ERR_NO_SUCH_DEVICE,
                             uris.ERR_BLOB_READERS, uris.ERR_INVALID_ARGUMENT})


class FileSync:
    """`client.file_sync`: merged files offered, grants for devices linked later."""

    log = Logger()

    def __init__(self, ctx: ClientContext, files: FileTransfers,
                 account_sync: AccountSync) -> None:
        self._ctx = ctx
        self._files = files
        self._lock = defer.DeferredLock()  # one round of grants at a time
        account_sync.files_merged = self._merged
        account_sync.history_requested = self._history_requested
        ctx.events.subscribe(self._device_added, ev.DeviceAdded)
        ctx.events.subscribe(lambda _e: self._quietly(self.grant_pending()), ev.CaughtUp)

    # --- files that came in a MANIFEST ---------------------------------------------------

    def _merged(self, rows: list[media_db.MediaRow], from_peer: bool) -> defer.Deferred[None]:
        for row in rows:
            self._ctx.events.emit(ev.FileOffered(row.item, row.peer))
            # A contact's missed message is as if its FILE_INFO came; a history's or my
            # other device's files are downloaded on demand.
            if from_peer and row.item.file_size <= self._files.auto_download_bytes:
                self._files.download(row.item.message_id).addErrback(lambda _f: None)
        return defer.succeed(None)

    # --- grants ------------------------------------------------------------------------

    def _history_requested(self, device: str) -> defer.Deferred[None]:
        """A new device of mine asked for the history: it may read my received files
        before their messages reach it."""
        d = self._ctx.store.run(media_sync.grant_received_to, device)
        d.addCallback(lambda _: self.grant_pending())
        return self._quietly(d)

    def _device_added(self, event: ev.DeviceAdded) -> None:
        ctx = self._ctx
        if event.own and event.device_id != ctx.me.device_id:
            d = ctx.store.run(media_sync.grant_received_to, event.device_id)
        elif not event.own and event.user_id in ctx.contacts:
            d = ctx.store.run(media_sync.grant_sent_to, event.user_id, event.device_id)
        else:
            return
        self._quietly(d.addCallback(lambda queued: self.grant_pending() if queued else None))

    def grant_pending(self) -> defer.Deferred[None]:
        """Make the grants still to make, as far as the connection allows (the rest at
        the next catch-up)."""
        return self._lock.run(self._grant_all)

    @defer.inlineCallbacks
    def _grant_all(self) -> Any:
        ctx = self._ctx
        if ctx.closed:
            return
        yield ctx.store.run(media_sync.drop_orphan_grants)
        while not ctx.closed and ctx.session is not None:
            batch = yield ctx.store.run(media_sync.pending_grants, BATCH)
            if not batch:
                return
            window = defer.DeferredSemaphore(WINDOW)
            made = yield defer.gatherResults(
                [window.run(self._grant_file, *grant) for grant in batch])
            if not all(made):
                return  # offline: the rest waits for the next catch-up

    @defer.inlineCallbacks
    def _grant_file(self, message_id: str, blob_id: str, token: bytes,
                    devices: list[str]) -> Any:
        """Grant one file to its devices; False if it could not be asked (offline)."""
        # One call for the blob; if refused, device by device (one removed device must
        # not keep the others out).
        done = yield self._grant(blob_id, token, devices)
        if done is None:
            return False
        if not done and len(devices) > 1:
            for device in devices:
                if (yield self._grant(blob_id, token, [device])) is None:
                    return False
        yield self._ctx.store.run(media_sync.grants_done, message_id, devices)
        return True

    @defer.inlineCallbacks
    def _grant(self, blob_id: str, token: bytes, devices: list[str]) -> Any:
        """True if granted, False if refused for good, None if it could not be asked."""
        while True:
            session = self._ctx.session
            if session is None or self._ctx.closed:
                return None
            try:
                yield session.call(uris.BLOB_GRANT, blob_id, token, devices)
                return True
            except ApplicationError as e:
                if e.error != uris.ERR_RATE_LIMITED:
                    return self._refused(e, len(devices))
                wait = float(e.kwargs.get("retry_after") or 1.0)
            except Exception as e:  # the connection went (TransportLost, Disconnected...)
                self.log.info("a file grant waits for the next catch-up: {error}",
                              error=type(e).__name__)
                return None
            yield task.deferLater(self._ctx.reactor, min(wait, 30.0), lambda: None)

    def _refused(self, e: ApplicationError, count: int) -> bool | None:
        if e.error not in _FINAL_REFUSALS:
            self.log.info("a file grant waits for the next catch-up: {error}", error=e.error)
            return None
        self.log.info("the relay refused to share a file with {count} new device(s): "
                      "{error}", count=count, error=e.error)
        return False

    def _quietly(self, d: defer.Deferred[Any]) -> defer.Deferred[None]:
        """Never fails: what went wrong is logged (unless the client stopped under it)."""
        def failed(failure: Any) -> None:
            if not self._ctx.closed:
                self.log.failure("sharing files with a new device failed", failure)
        return d.addCallbacks(lambda _: None, failed)
