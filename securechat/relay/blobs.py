"""The blob store (`sc.blob.*`): encrypted files uploaded once, downloaded by every
device the uploader named, and by any other device of the accounts party to it.

The relay holds ciphertext it cannot read (each file is encrypted by its sender under a
key that travels only inside Olm, in FILE_INFO), cut in chunks of a fixed size:

    create(size, chunk_size, chunk_count, readers, token) -> {blob_id, expires}
    put(blob_id, index, data)       the uploader's account, any order, again to resume
    status(blob_id)                 -> {missing: [index...], finished, expires}
    finish(blob_id)                 every chunk stored: readable from now on
    get(blob_id, token, index)      -> the chunk's bytes, to a named reader holding the token
    delete(blob_id)                 the uploader's account: gone, its quota freed

Chunks travel as bytes (binary serializers; never base64). Who may read a blob is two
capabilities: the device must be one of the `readers` the uploader listed (or of the
uploader's own account, or another device of an account party to the blob — the
accounts of the uploader and of its readers at `create`: one restored from a backup,
say), and it must present the `token` (32 random bytes, sent inside
FILE_INFO; the relay keeps only its SHA-256). A blob id alone reads nothing, and every
refusal of a read or a write looks the same as an unknown blob. Per account: a quota on
the bytes and the number of live blobs, a maximum file size and a byte rate; per
session: a bounded number of chunk reads on disk at once, on top of the router's
calls-in-flight and request-bytes bounds. Blobs expire with the mailbox TTL; an upload
left unfinished is dropped after `blob_upload_ttl`.

Devices linked later (a new phone of the receiver, or of the sender, or one restored
from a backup whose old devices are gone) were not named at `create`, and need not be:
the accounts party to the blob are stored at `create` (`parties`), so any device of
them that holds the token reads it, with no other device's help. A stranger who learnt
the token is of no such account, so he reads nothing; a reader can share the file with
a third person only the way he always could, by sending it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.relay import arguments
from securechat.relay.blobstore import IBlobStore
from securechat.relay.context import Caller, RelayContext
from securechat.relay.errors import invalid, refuse
from securechat.relay.limits import BucketsByKey
from securechat.relay.storage import BlobQuotaExceeded
from securechat.relay.storage.blobs import BlobRecord

BLOB_ID = re.compile(r"[0-9a-f]{32}")
TOKEN_BYTES = 32
MAX_REPORTED_MISSING = 100  # chunk indexes named in a blob_incomplete error


def _no_such_blob() -> Any:
    refuse(uris.ERR_NO_SUCH_BLOB, "no such blob (unknown, expired, or not for this device)")


class Blobs:
    log = Logger()

    def __init__(self, ctx: RelayContext, store: IBlobStore) -> None:
        self._ctx = ctx
        self._store = store
        config = ctx.config
        self._bytes = BucketsByKey(ctx.clock, config.blob_rate_bytes, config.blob_burst_bytes)
        self._reads: dict[int, defer.DeferredSemaphore] = {}  # session id -> its disk reads

    def procedures(self) -> dict[str, Any]:
        return {
            uris.BLOB_CREATE: self.create,
            uris.BLOB_PUT: self.put,
            uris.BLOB_STATUS: self.status,
            uris.BLOB_FINISH: self.finish,
            uris.BLOB_GET: self.get,
            uris.BLOB_DELETE: self.delete,
        }

    # --- the uploader ----------------------------------------------------------------

    @defer.inlineCallbacks
    def create(self, caller: Caller, size: Any, chunk_size: Any, chunk_count: Any,
               readers: Any, token: Any) -> Any:
        config = self._ctx.config
        if type(size) is int and size > config.blob_max_bytes:
            refuse(uris.ERR_FILE_TOO_LARGE, f"this relay stores files of at most "
                   f"{config.blob_max_bytes} bytes", max_bytes=config.blob_max_bytes)
        arguments.integer("size", size, 1, config.blob_max_bytes)
        arguments.integer("chunk_size", chunk_size, 1, config.blob_max_chunk_bytes)
        arguments.integer("chunk_count", chunk_count, 1, config.blob_max_bytes)
        if chunk_count != -(-size // chunk_size):
            invalid("chunk_count must be size / chunk_size, rounded up")
        arguments.listing("readers", readers, config.blob_max_readers)
        for reader in readers:
            arguments.device_id("readers[]", reader)
        if type(token) is not bytes or len(token) != TOKEN_BYTES:
            invalid(f"token must be {TOKEN_BYTES} bytes")
        principal = caller.principal
        assert principal.user_id is not None and principal.device_id is not None
        readers = tuple(dict.fromkeys(readers))
        parties = yield self._accounts_of(readers)
        now = self._ctx.now_ms()
        blob = BlobRecord(secrets.token_hex(16), principal.user_id, principal.device_id, size,
                          chunk_size, chunk_count, hashlib.sha256(token).digest(), readers,
                          now, now + int(config.mailbox_ttl * 1000),
                          parties=tuple(sorted(parties | {principal.user_id})))
        try:
            yield self._ctx.storage.create_blob(blob, config.blob_quota_bytes,
                                                config.blob_max_count, now)
        except BlobQuotaExceeded as full:
            refuse(uris.ERR_BLOB_QUOTA, "your files on this relay have used up your quota: "
                   "delete some or wait until they expire", used=full.used, quota=full.quota,
                   count=full.count, max_count=full.max_count)
        return {"blob_id": blob.blob_id, "expires": blob.expires}

    @defer.inlineCallbacks
    def put(self, caller: Caller, blob_id: Any, index: Any, data: Any) -> Any:
        blob = yield self._owned(caller, blob_id)
        if blob.finished:
            refuse(uris.ERR_INVALID_ARGUMENT, "this blob is finished: it cannot change")
        arguments.integer("index", index, 0, blob.chunk_count - 1)
        if type(data) is not bytes:
            invalid("data must be bytes (a binary serializer, or JSON's \\u0000+base64)")
        if len(data) != blob.chunk_length(index):
            invalid(f"chunk {index} must be {blob.chunk_length(index)} bytes")
        self._take_bytes(blob.owner, len(data))
        yield self._store.write(blob.blob_id, index * blob.chunk_size, data)
        yield self._ctx.storage.blob_chunk_stored(blob.blob_id, index, len(data))
        return None

    @defer.inlineCallbacks
    def status(self, caller: Caller, blob_id: Any) -> Any:
        blob = yield self._owned(caller, blob_id)
        missing = [] if blob.finished else (
            yield self._ctx.storage.blob_missing(blob.blob_id, blob.chunk_count))
        return {"missing": missing, "finished": blob.finished, "expires": blob.expires}

    @defer.inlineCallbacks
    def finish(self, caller: Caller, blob_id: Any) -> Any:
        blob = yield self._owned(caller, blob_id)
        if not blob.finished:
            missing = yield self._ctx.storage.blob_missing(blob.blob_id, blob.chunk_count)
            if missing:
                refuse(uris.ERR_BLOB_INCOMPLETE, f"{len(missing)} chunks are missing",
                       missing=missing[:MAX_REPORTED_MISSING])
            yield self._store.sync(blob.blob_id)  # durable before anyone is told of it
            yield self._ctx.storage.finish_blob(blob.blob_id, blob.chunk_count)
        return {"blob_id": blob.blob_id, "expires": blob.expires}

    @defer.inlineCallbacks
    def delete(self, caller: Caller, blob_id: Any) -> Any:
        blob = yield self._owned(caller, blob_id)
        yield self._ctx.storage.delete_blob(blob.blob_id)
        yield self._store.delete(blob.blob_id)
        return None

    # --- readers ---------------------------------------------------------------------

    @defer.inlineCallbacks
    def get(self, caller: Caller, blob_id: Any, token: Any, index: Any) -> Any:
        blob = yield self._readable(caller, blob_id, token)
        if not blob.finished:
            _no_such_blob()
        principal = caller.principal
        arguments.integer("index", index, 0, blob.chunk_count - 1)
        length = blob.chunk_length(index)
        self._take_bytes(principal.user_id or "", length)
        reads = self._reads.get(caller.session_id)
        if reads is None:
            reads = self._reads[caller.session_id] = defer.DeferredSemaphore(
                self._ctx.config.blob_gets_per_session)
        yield reads.acquire()
        try:
            data = yield self._store.read(blob.blob_id, index * blob.chunk_size, length)
        finally:
            reads.release()
            if reads.tokens == reads.limit and not reads.waiting:
                self._reads.pop(caller.session_id, None)
        if len(data) != length:
            self.log.error("blob {blob} is shorter on disk than recorded", blob=blob.blob_id)
            refuse(uris.ERR_INTERNAL, "this chunk cannot be read now")
        return data

    def _accounts_of(self, devices: tuple[str, ...]) -> defer.Deferred[set[str]]:
        """The accounts of these devices (those that exist)."""
        d = defer.gatherResults([self._ctx.storage.get_device(d) for d in devices])
        return d.addCallback(lambda found: {device.user_id for device in found if device})

    # --- housekeeping ------------------------------------------------------------------

    @defer.inlineCallbacks
    def purge(self) -> Any:
        """Drop expired blobs and stale unfinished uploads, with their files."""
        now = self._ctx.now_ms()
        stale = now - int(self._ctx.config.blob_upload_ttl * 1000)
        gone = 0
        while True:
            ids = yield self._ctx.storage.purge_blobs(now, stale)
            for blob_id in ids:
                yield self._store.delete(blob_id)
            gone += len(ids)
            if not ids:
                break
        if gone:
            self.log.info("purged {count} expired blobs", count=gone)
        return gone

    # --- checks ------------------------------------------------------------------------

    def _blob(self, blob_id: Any) -> defer.Deferred[BlobRecord | None]:
        if type(blob_id) is not str or not BLOB_ID.fullmatch(blob_id):
            _no_such_blob()
        d = self._ctx.storage.get_blob(blob_id)
        now = self._ctx.now_ms()
        return d.addCallback(lambda blob: blob if blob and blob.expires > now else None)

    @defer.inlineCallbacks
    def _readable(self, caller: Caller, blob_id: Any, token: Any) -> Any:
        """The blob, if the caller may read it: it holds the token and is a named reader,
        a device of the uploader's account, or another device of an account party to
        it (one restored from a backup, whose old device may be gone: it holds the token
        only if its account gave it) (finished or not: `get` checks that)."""
        blob = yield self._blob(blob_id)
        principal = caller.principal
        if (blob is None or type(token) is not bytes
                or not hmac.compare_digest(hashlib.sha256(token).digest(), blob.token_hash)
                or (principal.device_id not in blob.readers
                    and principal.user_id != blob.owner
                    and principal.user_id not in blob.parties)):
            _no_such_blob()
        return blob

    @defer.inlineCallbacks
    def _owned(self, caller: Caller, blob_id: Any) -> Any:
        blob = yield self._blob(blob_id)
        if blob is None or blob.owner != caller.principal.user_id:
            _no_such_blob()
        return blob

    def _take_bytes(self, user_id: str, count: int) -> None:
        wait = self._bytes.take(user_id, count)
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "this account is moving file data too fast",
                   retry_after=round(wait, 3))
