"""Uploading a file while it is still being encrypted (client.files.send).

`send()` encrypts the whole file into its vault copy before the message is stored (so a
message that shows always has its file here, whatever happens next). Uploading only
after that put encryption and upload one after the other on the way to the peer. This
overlaps them: the blob is created on the relay as encryption starts, and each chunk is
uploaded, a window at a time, as soon as the encrypting thread has written it to the
vault (read back from there: the page cache; nothing is held in memory but the window).

When encryption ends, the chunks in flight are let finish and the blob id goes into the
media row; the ordinary upload (client.files) then asks the relay which chunks it still
lacks and sends those. Anything wrong here (offline, a refusal, the file changing size
while it was read) just leaves the work to that ordinary upload: this is only a head
start. A blob made here for a send that never got stored is deleted (or expires on the
relay as an unfinished upload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.filecrypt as filecrypt
from securechat.protocol import uris


class UploadAhead:
    log = Logger()

    def __init__(self, reactor: Any, call: Callable[..., defer.Deferred[Any]],
                 thread: Callable[..., defer.Deferred[Any]], vault: str,
                 layout: filecrypt.Layout, window: int) -> None:
        self._reactor, self._call, self._thread = reactor, call, thread
        self._vault, self._layout, self._window = vault, layout, window
        self.blob_id: str | None = None
        self._ready = 0  # chunks written to the vault so far
        self._next = 0  # the next chunk to upload
        self._running = 0
        self._stopped = False
        self._idle: list[defer.Deferred[None]] = []
        self._creating: defer.Deferred[Any] | None = None

    def start(self, readers: list[str], token: bytes) -> None:
        layout = self._layout
        self._creating = self._call(uris.BLOB_CREATE, layout.sealed_size,
                                    layout.sealed_chunk, layout.chunk_count, readers, token)
        self._creating.addCallbacks(self._created, self._not_created)

    def _created(self, created: dict[str, Any]) -> None:
        self._creating = None
        self.blob_id = created["blob_id"]
        self._more()
        self._check_idle()  # encryption may have ended while the blob was being made

    def _not_created(self, failure: Any) -> None:
        # The ordinary upload will ask again and report the refusal (quota, size...).
        self._creating = None
        self._stopped = True
        self._check_idle()

    def written_in_thread(self, index: int) -> None:
        """Called by the encrypting thread once chunk `index` is in the vault."""
        self._reactor.callFromThread(self._written, index)

    def _written(self, index: int) -> None:
        self._ready = max(self._ready, index + 1)
        self._more()

    def _more(self) -> None:
        while (not self._stopped and self.blob_id is not None and self._running < self._window
               and self._next < min(self._ready, self._layout.chunk_count)):
            index, self._next = self._next, self._next + 1
            self._running += 1
            self._put(index).addBoth(self._put_done)

    @defer.inlineCallbacks
    def _put(self, index: int) -> Any:
        sealed = yield self._thread(filecrypt.read_sealed, self._vault, self._layout, index)
        yield self._call(uris.BLOB_PUT, self.blob_id, index, sealed)

    def _put_done(self, result: Any) -> None:
        self._running -= 1
        if isinstance(result, Failure):
            self.log.info("uploading ahead stopped ({why}); the upload goes on later",
                          why=result.getErrorMessage())
            self._stopped = True
        self._more()
        self._check_idle()

    def _check_idle(self) -> None:
        if self._running == 0 and self._creating is None:
            waiting, self._idle = self._idle, []
            for d in waiting:
                d.callback(None)

    def _wait_idle(self) -> defer.Deferred[None]:
        self._stopped = True
        d: defer.Deferred[None] = defer.Deferred()
        self._idle.append(d)
        self._check_idle()
        return d

    @defer.inlineCallbacks
    def finish(self, layout: filecrypt.Layout | None) -> Any:
        """Stop once the chunks in flight are stored: the blob id for a file encrypted
        as `layout`, or None (the blob, if any, deleted) when `layout` is not the one
        the blob was made for (None: the send failed)."""
        yield self._wait_idle()
        if self.blob_id is not None and layout == self._layout:
            return self.blob_id
        if self.blob_id is not None:
            yield self._call(uris.BLOB_DELETE, self.blob_id).addErrback(
                lambda _f: self.log.info("an unused blob stays until it expires"))
        return None
