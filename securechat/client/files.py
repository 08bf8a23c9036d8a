"""Encrypted file sharing (feature-spec: File Sharing), uploaded once to the relay's blob
store and downloaded by every device that got its FILE_INFO.

Sending: the file is encrypted here, chunk by chunk, under a random 256-bit key
(client.filecrypt) into `media/vault_<message id>` (kept: the file at rest here), and
the message shows at once. The ciphertext is then uploaded (`sc.blob.*`, a window of
chunks in flight; resumable: the relay says which chunks it lacks), and FILE_INFO (the
spec's fields plus the blob id and read token, the chunk layout, the key and the
plaintext's SHA-256) goes through the outbox inside Olm to every device of the peer and
copies to my own devices.

Receiving: FILE_INFO stores the message and its `media` row; images and small files
download by themselves (`auto_download_bytes`), others on `download()`. Downloading is
the spec's FILE_REQ_CHUNK/FILE_CHUNK exchange against the blob store: a sliding window
of chunk requests, each chunk verified (AES-GCM with its index and place bound) and a
bad one fetched again, at most `max_refetch` times; once all are in, the whole file's
SHA-256 must match or the file is rejected and removed. The verified chunks are the
file kept at rest; `save()` decrypts it on request.

A transfer that loses the connection (a relay restart, say) stops where it is and goes
on from the last verified chunk at the next catch-up; a client restart does the same
(`media.status` says what was under way). Bulk crypto and file I/O run in threads.
The steps overlap: the upload starts while send() is still encrypting
(client.upload_ahead), and a download verifies, writes and hashes each chunk in a thread
as it arrives (client.filecrypt.Vault: no second pass over the file). One transfer's
run (queued, running, retrying, paused, verifying, done, failed, canceled) is an Automat
machine, client.transfer. Lifecycle of one file, as `media.status`:

    mine:    uploading --uploaded--> sent         theirs:  pending --download--> downloading
                 |  \\--error--> failed                        downloading --verified--> done
                 \\--cancel--> canceled                         downloading --error--> failed
                                                              downloading --cancel--> canceled
                                                              failed/canceled --download--> ...

Size: one module for a transfer's whole life (sending, receiving, resuming, cancelling,
the FILE_INFO handler); its crypto is client.filecrypt, its rows client.storage.media.
"""

from __future__ import annotations

import base64
import collections
import json
import mimetypes
import os
import stat
from collections.abc import Callable
from typing import Any

import attrs
from autobahn.exception import Disconnected
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer, task, threads
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.events as ev
import securechat.client.filecrypt as filecrypt
import securechat.client.storage.media as media_db
from securechat.client.clock import message_timestamp
from securechat.client.context import ClientContext, now_ms
from securechat.client.directory import DeviceDirectory
from securechat.client.dispatch import FrameHandlers, Origin, Outcome
from securechat.client.errors import (
    ClientError,
    FileQuotaExceeded,
    FileReadError,
    FileRejected,
    FileTooLarge,
    FileUnavailable,
    TransferCanceled,
)
from securechat.client.model import (
    MediaItem,
    MediaStatus,
    MessageStatus,
    MessageType,
    Sender,
    StoredMessage,
    new_message_id,
)
from securechat.client.outbox import Outbox
from securechat.client.transfer import TransferMachine
from securechat.client.upload_ahead import UploadAhead
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame

MAX_FILE_BYTES = 2 * 1024 ** 3  # the relay's default maximum too
AUTO_DOWNLOAD_BYTES = 16 * 1024 * 1024
WINDOW = 8  # chunk requests in flight (8 x 512 KiB: a few MB of buffers at most)
MAX_REFETCH = 3  # times one chunk is fetched again after failing verification
OFFLINE_ERRORS = frozenset({uris.WAMP_CANCELED, uris.ERR_CONNECTION_LOST})


class FileTransfers:
    """`client.files`: send, download, save, cancel; progress as events."""

    log = Logger()

    def __init__(self, ctx: ClientContext, handlers: FrameHandlers, outbox: Outbox,
                 directory: DeviceDirectory) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._directory = directory
        self.max_bytes = MAX_FILE_BYTES
        # Received files up to this size download by themselves (0: none do).
        self.auto_download_bytes = AUTO_DOWNLOAD_BYTES
        self.window = WINDOW
        self.max_refetch = MAX_REFETCH
        self._active: dict[str, TransferMachine] = {}  # under way or paused
        self._waiters: dict[str, list[defer.Deferred[MediaItem]]] = {}
        handlers.register(frames.FILE_INFO, self._file_info)
        ctx.events.subscribe(lambda _e: self.resume(), ev.CaughtUp)

    # --- what the user does ---------------------------------------------------------

    @defer.inlineCallbacks
    def send(self, peer_user_id: str, path: str, text: str | None = None,
             thumbnail: str = "", mime_type: str | None = None) -> Any:
        """Deferred[StoredMessage]: the file encrypted here and its message stored (shown,
        pending); the upload goes on in the background (`wait()` for its end). Raises
        FileReadError or FileTooLarge at once."""
        contact = self._ctx.contact(peer_user_id)
        name = safe_name(os.path.basename(path))
        if text is not None and len(text) > frames.MAX_TEXT:
            raise ClientError("the message is too long")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise FileReadError(f"{name}: no such file") from None
        except OSError as e:
            raise FileReadError(f"cannot read {name}: {e.strerror or e}") from None
        if stat.S_ISDIR(info.st_mode):
            raise FileReadError(f"{name} is a folder, not a file")
        self._check_size(info.st_size)
        now = now_ms()
        message_id = new_message_id(now)
        key, token = os.urandom(filecrypt.KEY_BYTES), os.urandom(32)
        ahead = yield self._upload_ahead(peer_user_id, message_id, info.st_size, token)
        try:
            layout, sha256 = yield self._thread(
                filecrypt.encrypt_file, path, self._vault(message_id), key, message_id,
                self.max_bytes, filecrypt.CHUNK_SIZE,
                ahead.written_in_thread if ahead else None)
        except filecrypt.FileTooBig as e:
            yield ahead and ahead.finish(None)
            self._remove_vault(message_id)
            self._check_size(e.size)
            raise
        except OSError as e:
            yield ahead and ahead.finish(None)
            self._remove_vault(message_id)
            raise FileReadError(f"cannot read {name}: {e.strerror or e}") from None
        blob_id = (yield ahead.finish(layout)) if ahead else None
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        item = MediaItem(message_id, contact.sid, "out", name, layout.size, mime,
                         MediaStatus.UPLOADING, vault_name(message_id),
                         thumbnail if len(thumbnail) <= frames.MAX_THUMBNAIL else "", text,
                         None, now)
        message = StoredMessage(message_id, contact.sid, Sender.ME, _message_text(item),
                                _message_type(mime), now, MessageStatus.PENDING, True, None)
        row = media_db.MediaRow(item, peer_user_id, blob_id, token, key, layout.chunk_size,
                                sha256)
        yield self._ctx.store.run(media_db.insert_outgoing, row, message)
        self._ctx.events.emit(ev.MessageSent(message, peer_user_id))
        self._start(message_id)
        return message

    @defer.inlineCallbacks
    def _upload_ahead(self, peer: str, message_id: str, size: int, token: bytes) -> Any:
        """An UploadAhead under way for a file of `size` bytes, or None when offline."""
        if not self._ctx.online or self.window < 1:
            return None
        readers = yield self._ctx.outbound.run(self._readers, peer)
        ahead = UploadAhead(self._ctx.reactor, self._call, self._thread,
                            self._vault(message_id), filecrypt.Layout(size), self.window)
        ahead.start(readers, token)
        return ahead

    def download(self, message_id: str) -> defer.Deferred[MediaItem]:
        """Fetch and verify a received file (resuming what is here already); fires with
        its item once it is done, or fails (FileRejected, FileUnavailable...)."""
        d: defer.Deferred[MediaItem] = defer.Deferred()
        self._waiters.setdefault(message_id, []).append(d)
        self._ctx.store.run(media_db.get, message_id).addCallback(
            self._download_requested, message_id)
        return d

    def _download_requested(self, row: media_db.MediaRow | None, message_id: str) -> Any:
        if row is None or row.item.status in (MediaStatus.DONE, MediaStatus.SENT):
            return self._settled(row, message_id)
        if row.item.status == MediaStatus.UPLOADING or message_id in self._active:
            return self._start(message_id)
        return self._ctx.store.run(media_db.set_status, message_id,
                                   MediaStatus.DOWNLOADING).addCallback(
            lambda _: self._start(message_id))

    def wait(self, message_id: str) -> defer.Deferred[MediaItem]:
        """Fires with the item when this file's transfer ends well (at once if it has),
        or fails with why it did not. Waits across reconnections."""
        d: defer.Deferred[MediaItem] = defer.Deferred()
        self._waiters.setdefault(message_id, []).append(d)
        if message_id not in self._active:
            self._ctx.store.run(media_db.get, message_id).addCallback(self._settled, message_id)
        return d

    def _settled(self, row: media_db.MediaRow | None, message_id: str) -> None:
        """Fire the waiters of a file not under way, if its state is final."""
        if row is None:
            self._fire(message_id, None, FileUnavailable("no such file"))
        elif row.item.status in (MediaStatus.DONE, MediaStatus.SENT):
            self._fire(message_id, row.item)
        elif row.item.status == MediaStatus.FAILED:
            self._fire(message_id, None, FileRejected(row.item.error or "the transfer failed"))
        elif row.item.status == MediaStatus.CANCELED:
            self._fire(message_id, None, TransferCanceled("the transfer was canceled"))

    @defer.inlineCallbacks
    def cancel(self, message_id: str) -> Any:
        """Stop an upload (its blob is deleted from the relay) or a download (what was
        fetched is dropped; `download()` starts again)."""
        machine = self._active.get(message_id)
        if machine is not None:
            machine.cancel()
            yield machine.wait_idle()
            self._active.pop(message_id, None)
        row = yield self._ctx.store.run(media_db.get, message_id)
        if row is None or row.item.status not in (MediaStatus.UPLOADING,
                                                   MediaStatus.DOWNLOADING):
            return
        yield self._ctx.store.run(media_db.set_status, message_id, MediaStatus.CANCELED)
        if row.item.status == MediaStatus.DOWNLOADING:
            self._remove_vault(message_id)
        elif row.blob_id is not None and self._ctx.session is not None:
            yield self._ctx.session.call(uris.BLOB_DELETE, row.blob_id).addErrback(
                lambda f: self.log.info("the canceled upload's blob stays until it expires"))
        self._ctx.events.emit(ev.FileFailed(message_id, row.peer, row.item.direction,
                                            "canceled", canceled=True))
        self._fire(message_id, None, TransferCanceled("the transfer was canceled"))

    @defer.inlineCallbacks
    def save(self, message_id: str, target: str, exclusive: bool = False) -> Any:
        """Deferred[str]: decrypt a downloaded (or my own) file to `target`."""
        row = yield self._ctx.store.run(media_db.get, message_id)
        if row is None or not row.item.available:
            raise FileUnavailable("this file is not downloaded here yet")
        layout = filecrypt.Layout(row.item.file_size, row.chunk_size)
        try:
            yield self._thread(filecrypt.decrypt_file, self._vault(message_id), row.key,
                               message_id, layout, target, exclusive)
        except filecrypt.ChunkInvalid:
            raise FileRejected("the copy kept here is damaged") from None
        return target

    @defer.inlineCallbacks
    def save_into(self, message_id: str, directory: str) -> Any:
        """Deferred[str]: save under the file's own name in `directory`, with a numbered
        suffix ("name (1).ext") if that name is taken; returns the path."""
        row = yield self._ctx.store.run(media_db.get, message_id)
        if row is None:
            raise FileUnavailable("no such file")
        stem, ext = os.path.splitext(row.item.original_name)
        for n in range(10000):
            name = row.item.original_name if n == 0 else f"{stem} ({n}){ext}"
            try:
                return (yield self.save(message_id, os.path.join(directory, name), True))
            except FileExistsError:
                continue
        raise ClientError(f"too many files named like {row.item.original_name} in {directory}")

    def item(self, message_id: str) -> defer.Deferred[MediaItem | None]:
        return self._ctx.store.run(media_db.get, message_id).addCallback(
            lambda row: row.item if row else None)

    def shared_media(self, peer_user_id: str) -> defer.Deferred[list[MediaItem]]:
        """The conversation's shared files, newest first."""
        return self._ctx.store.run(media_db.by_session, self._ctx.contact(peer_user_id).sid)

    @defer.inlineCallbacks
    def resume(self) -> Any:
        """Take up every upload and download left unfinished (at each catch-up)."""
        if self._ctx.closed:
            return
        for message_id in (yield self._ctx.store.run(media_db.unfinished)):
            self._start(message_id)

    # --- one transfer ---------------------------------------------------------------

    def _start(self, message_id: str) -> None:
        machine = self._active.get(message_id)
        if machine is not None:
            machine.resume()  # paused: from the last verified chunk; under way: nothing
            return
        if self._ctx.closed:
            return
        machine = self._active[message_id] = TransferMachine(
            message_id, self._run, self._ended, lambda result: self._done(message_id, result),
            lambda failure: self._given_up(message_id, failure))
        machine.start()

    def transfer_state(self, message_id: str) -> str | None:
        """A TransferState while this file's transfer is under way or paused, else None
        (`media.status` then says how it ended)."""
        machine = self._active.get(message_id)
        return machine.state if machine is not None else None

    @defer.inlineCallbacks
    def _run(self, transfer: TransferMachine) -> Any:
        row = yield self._ctx.store.run(media_db.get, transfer.message_id)
        if row is None:
            return None
        if row.item.status == MediaStatus.UPLOADING:
            return (yield self._upload(row, transfer))
        if row.item.status == MediaStatus.DOWNLOADING:
            return (yield self._download(row, transfer))
        return row.item

    def _ended(self, machine: TransferMachine, result: Any) -> None:
        """Sort how a run ended into the machine's inputs."""
        if machine.canceled:
            return  # cancel() reports it
        if self._ctx.closed:
            # Stopped under it: resumed, from its verified chunks, at the next start.
            self._active.pop(machine.message_id, None)
            return
        if not isinstance(result, Failure):
            machine.verified(result)
        elif self._offline(result):
            self.log.info("file transfer paused (offline): {why}", why=result.value)
            machine.lost(result)
            # Goes on from the last verified chunk at the next catch-up (or now, if the
            # connection came back before this transfer noticed it dropped).
            if self._ctx.online and self._ctx.connection and self._ctx.connection.is_caught_up:
                self._ctx.reactor.callLater(0, self._start, machine.message_id)
        else:
            machine.failed_with(result)

    def _done(self, message_id: str, result: Any) -> None:
        self._active.pop(message_id, None)
        if result is not None:
            self._fire(message_id, result)

    def _given_up(self, message_id: str, failure: Failure) -> Any:
        self._active.pop(message_id, None)
        if failure.check(ClientError):
            reason = str(failure.value)
        else:
            self.log.failure("a file transfer failed", failure)
            reason = "the transfer failed (see the log)"
        return self._failed(message_id, reason, failure.value)

    @defer.inlineCallbacks
    def _failed(self, message_id: str, reason: str, error: BaseException) -> Any:
        row = yield self._ctx.store.run(media_db.get, message_id)
        yield self._ctx.store.run(media_db.set_status, message_id, MediaStatus.FAILED, reason)
        if row is not None and row.item.status == MediaStatus.DOWNLOADING:
            self._remove_vault(message_id)  # nothing of a rejected file is kept
        if row is not None:
            self._ctx.events.emit(ev.FileFailed(message_id, row.peer, row.item.direction,
                                                reason))
        self._fire(message_id, None, error)

    def _fire(self, message_id: str, item: MediaItem | None,
              error: BaseException | None = None) -> None:
        for d in self._waiters.pop(message_id, []):
            if error is None:
                d.callback(item)
            else:
                d.errback(Failure(error))

    @staticmethod
    def _offline(failure: Failure) -> bool:
        if failure.check(TransportLost, Disconnected):
            return True
        # The session ended under the call (the relay restarting, a replaced session...).
        return bool(failure.check(ApplicationError)) and (
            failure.value.error in OFFLINE_ERRORS
            or failure.value.error.startswith("wamp.close.")
            or failure.value.error.startswith("sc.close."))

    # --- uploading ------------------------------------------------------------------

    @defer.inlineCallbacks
    def _upload(self, row: media_db.MediaRow, transfer: TransferMachine) -> Any:
        item = row.item
        layout = filecrypt.Layout(item.file_size, row.chunk_size)
        blob_id = row.blob_id
        status = None
        if blob_id is not None:
            try:
                status = yield self._call(uris.BLOB_STATUS, blob_id)
            except ApplicationError as e:
                if e.error != uris.ERR_NO_SUCH_BLOB:
                    raise
                blob_id = None  # expired or purged before it was finished: upload again
        if blob_id is None:
            readers = yield self._ctx.outbound.run(self._readers, row.peer)
            try:
                created = yield self._call(uris.BLOB_CREATE, layout.sealed_size,
                                           layout.sealed_chunk, layout.chunk_count, readers,
                                           row.token)
            except ApplicationError as e:
                raise _upload_refusal(e, item.original_name) from None
            blob_id = created["blob_id"]
            yield self._ctx.store.run(media_db.set_blob, item.message_id, blob_id)
            status = {"missing": list(range(layout.chunk_count)), "finished": False}
        if not status["finished"]:
            missing = status["missing"]
            progress = _Progress(self._ctx, item, row.peer, layout,
                                 layout.chunk_count - len(missing))
            vault = self._vault(item.message_id)

            @defer.inlineCallbacks
            def put(index: int) -> Any:
                sealed = yield self._thread(filecrypt.read_sealed, vault, layout, index)
                yield self._call(uris.BLOB_PUT, blob_id, index, sealed)
                progress.chunk_done(index)

            yield self._pump(transfer, missing, put)
            transfer.all_chunks_in()
            progress.complete()  # also when every chunk went up ahead, during send()
            yield self._call(uris.BLOB_FINISH, blob_id)
        frame = Frame(frames.FILE_INFO, item.sid, {
            "messageId": item.message_id, "name": item.original_name, "size": item.file_size,
            "type": item.mime_type, "thumbnail": item.thumbnail, "blobId": blob_id,
            "chunkSize": layout.chunk_size, "chunkCount": layout.chunk_count,
            "key": base64.b64encode(row.key).decode(),
            "token": base64.b64encode(row.token).decode(), "sha256": row.sha256,
            "timestamp": item.created, "text": item.caption})
        yield self._ctx.store.run(media_db.uploaded, item.message_id, row.peer, frame.encode())
        self._outbox.flush()
        done = attrs.evolve(item, status=MediaStatus.SENT)
        self._ctx.events.emit(ev.FileTransferred(done, row.peer))
        return done

    @defer.inlineCallbacks
    def _readers(self, peer: str) -> Any:
        """The devices that may download: the peer's and mine (under ctx.outbound)."""
        theirs = yield self._directory.devices_of(peer)
        mine = yield self._directory.devices_of(self._ctx.me.user_id)
        return sorted({*theirs, *mine, self._ctx.me.device_id})

    # --- downloading ----------------------------------------------------------------

    @defer.inlineCallbacks
    def _download(self, row: media_db.MediaRow, transfer: TransferMachine) -> Any:
        item = row.item
        layout = filecrypt.Layout(item.file_size, row.chunk_size)
        have, vault = yield self._thread(_open_vault, self._vault(item.message_id), row.key,
                                         item.message_id, layout, self.window)
        try:
            yield self._fetch_all(row, transfer, layout, vault, have)
            transfer.all_chunks_in()
            try:
                yield self._thread(vault.check, row.sha256)
            except (filecrypt.HashMismatch, filecrypt.ChunkInvalid):
                vault.close()
                self._remove_vault(item.message_id)
                raise FileRejected(f"{item.original_name} was rejected: its content does not "
                                   "match the SHA-256 its sender announced") from None
        finally:
            vault.close()
        yield self._ctx.store.run(media_db.set_status, item.message_id, MediaStatus.DONE)
        done = attrs.evolve(item, status=MediaStatus.DONE)
        self._ctx.events.emit(ev.FileTransferred(done, row.peer))
        return done

    def _fetch_all(self, row: media_db.MediaRow, transfer: TransferMachine,
                   layout: filecrypt.Layout, vault: filecrypt.Vault,
                   have: set[int]) -> defer.Deferred[None]:
        """The chunks not here yet, a window of requests in flight, each verified (and
        hashed) in a thread as it comes; a bad one is fetched again."""
        item = row.item
        progress = _Progress(self._ctx, item, row.peer, layout, len(have))
        rejected: set[int] = set()  # chunks being fetched again

        @defer.inlineCallbacks
        def fetch(index: int) -> Any:
            for _attempt in range(self.max_refetch + 1):
                try:
                    sealed = yield self._call(uris.BLOB_GET, row.blob_id, row.token, index)
                except ApplicationError as e:
                    if e.error == uris.ERR_NO_SUCH_BLOB:
                        raise FileUnavailable(f"{item.original_name} is no longer on the "
                                              "relay (it expired, or its sender deleted it)"
                                              ) from None
                    raise
                try:
                    yield self._thread(vault.keep, index, sealed)
                except filecrypt.ChunkInvalid as e:
                    self.log.warn("a chunk of a file failed verification ({why}); fetching "
                                  "it again", why=str(e))
                    rejected.add(index)
                    transfer.chunk_rejected()
                    continue
                progress.chunk_done(index)
                if index in rejected:
                    rejected.discard(index)
                    if not rejected:
                        transfer.chunk_recovered()
                return
            raise FileRejected(
                f"{item.original_name} was rejected: part {index + 1} of "
                f"{layout.chunk_count} kept failing verification (the relay is not serving "
                "the file its sender uploaded)")

        return self._pump(transfer, [i for i in range(layout.chunk_count) if i not in have],
                          fetch)

    # --- FILE_INFO ------------------------------------------------------------------

    def _file_info(self, frame: Frame, origin: Origin) -> Outcome:
        data, contact = frame.data, origin.contact
        assert contact is not None  # dispatch: a contact's conversation
        from_me = origin.from_me
        item = MediaItem(data["messageId"], contact.sid, "out" if from_me else "in",
                         safe_name(data["name"]), data["size"], data["type"],
                         MediaStatus.PENDING, vault_name(data["messageId"]),
                         data["thumbnail"], data["text"], None, now_ms())
        message = StoredMessage(item.message_id, contact.sid,
                                Sender.ME if from_me else Sender.OTHER, _message_text(item),
                                _message_type(item.mime_type),
                                message_timestamp(data["timestamp"], origin.relay_ts),
                                MessageStatus.SENT if from_me else MessageStatus.DELIVERED,
                                from_me, None)
        row = media_db.MediaRow(item, contact.peer_user_id, data["blobId"],
                                base64.b64decode(data["token"]), base64.b64decode(data["key"]),
                                data["chunkSize"], data["sha256"])
        new: list[bool] = []
        # The message is stored by the effect, with the media row: it may be here already
        # (a MANIFEST of the sender's missed messages can bring its row first), and what
        # counts is whether the file is new here.
        return Outcome(effect=lambda c: new.append(media_db.insert_incoming(c, row, message)),
                       notify=lambda: self._offered(row, message) if any(new)
                       else defer.succeed(None))

    def _offered(self, row: media_db.MediaRow, message: StoredMessage) -> defer.Deferred[None]:
        events = self._ctx.events
        if message.from_me:
            events.emit(ev.MessageSent(message, row.peer))
        else:
            events.emit(ev.MessageReceived(message, row.peer))
        events.emit(ev.FileOffered(row.item, row.peer))
        if row.item.file_size <= self.auto_download_bytes:
            self.download(row.item.message_id).addErrback(lambda _f: None)  # FileFailed says
        return defer.succeed(None)

    # --- helpers --------------------------------------------------------------------

    def _pump(self, transfer: TransferMachine, indexes: list[int],
              work: Callable[[int], defer.Deferred[Any]]) -> defer.Deferred[None]:
        """`work(i)` for each index, at most `window` at once; fails with the first
        failure (once those in flight are done), or TransferCanceled."""
        result: defer.Deferred[None] = defer.Deferred()
        todo = collections.deque(indexes)
        running = 0
        failure: list[Failure] = []

        def more() -> None:
            nonlocal running
            while todo and running < self.window and not failure and not transfer.canceled:
                running += 1
                work(todo.popleft()).addBoth(one_done)
            if running == 0 and not result.called:
                if failure:
                    result.errback(failure[0])
                elif transfer.canceled:
                    result.errback(TransferCanceled("the transfer was canceled"))
                else:
                    result.callback(None)

        def one_done(outcome: Any) -> None:
            nonlocal running
            running -= 1
            if isinstance(outcome, Failure) and not failure:
                failure.append(outcome)
            more()

        more()
        return result

    @defer.inlineCallbacks
    def _call(self, uri: str, *args: Any) -> Any:
        """A blob-store call on the current session, waiting out rate limits."""
        while True:
            session = self._ctx.session
            if session is None:
                raise TransportLost()
            try:
                return (yield session.call(uri, *args))
            except ApplicationError as e:
                if e.error != uris.ERR_RATE_LIMITED:
                    raise
                wait = float(e.kwargs.get("retry_after") or 1.0)
                yield task.deferLater(self._ctx.reactor, min(wait, 30.0), lambda: None)

    def _check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise FileTooLarge(f"the file is too large to send: {_mb(size)} (at most "
                               f"{_mb(self.max_bytes)})", self.max_bytes)

    def _thread(self, fn: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        reactor = self._ctx.reactor
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

    def _vault(self, message_id: str) -> str:
        return os.path.join(self._ctx.account_dir, "media", vault_name(message_id))

    def _remove_vault(self, message_id: str) -> None:
        try:
            os.unlink(self._vault(message_id))
        except FileNotFoundError:
            pass


class _Progress:
    """FileProgress events of one transfer, at most one per 1% (and the last)."""

    def __init__(self, ctx: ClientContext, item: MediaItem, peer: str,
                 layout: filecrypt.Layout, chunks_done: int) -> None:
        self._ctx, self._item, self._peer, self._layout = ctx, item, peer, layout
        self._done = min(item.file_size, chunks_done * layout.chunk_size)
        self._step = max(1, item.file_size // 100)
        self._told = -1

    def complete(self) -> None:
        """Every chunk is there: the bar ends full (told once)."""
        if self._told != self._item.file_size:
            self._done = self._item.file_size
            self._tell()

    def chunk_done(self, index: int) -> None:
        self._done = min(self._item.file_size, self._done + self._layout.plain_length(index))
        if self._done - self._told >= self._step or self._done == self._item.file_size:
            self._tell()

    def _tell(self) -> None:
        self._told = self._done
        self._ctx.events.emit(ev.FileProgress(self._item.message_id, self._peer,
                                              self._item.direction, self._done,
                                              self._item.file_size))


def _open_vault(path: str, key: bytes, file_id: str, layout: filecrypt.Layout,
                hold: int) -> tuple[set[int], filecrypt.Vault]:
    """In a thread: the chunks already verified here (a resumed download), and the vault
    open to take the others."""
    have = filecrypt.verified_chunks(path, key, file_id, layout)
    vault = filecrypt.Vault(path, key, file_id, layout, hold)
    vault.already_here(have)
    return have, vault


def _upload_refusal(e: ApplicationError, name: str) -> Exception:
    if e.error == uris.ERR_FILE_TOO_LARGE:
        most = int(e.kwargs.get("max_bytes") or 0)
        return FileTooLarge(f"{name} is too large for this relay (at most {_mb(most)})", most)
    if e.error == uris.ERR_BLOB_QUOTA:
        return FileQuotaExceeded("Storage full: your files on the relay have used up your "
                                 "quota; delete some or wait until they expire")
    return e


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def vault_name(message_id: str) -> str:
    return f"vault_{message_id}"


def safe_name(name: str) -> str:
    """A file name a peer chose, made harmless to save under: no folders, no control
    characters, never '.', '..' or empty."""
    cleaned = "".join("_" if ch in "/\\" or ord(ch) < 32 or ch == "\x7f" else ch
                      for ch in name).strip()
    cleaned = cleaned.lstrip(".") or "file"
    return cleaned[:255]


def _message_type(mime: str) -> str:
    return MessageType.IMAGE if mime.startswith("image/") else MessageType.FILE


def _message_text(item: MediaItem) -> str:
    """The spec's `messages.text` of a file: {"filename", "size"} (and a caption)."""
    body: dict[str, Any] = {"filename": item.original_name, "size": item.file_size}
    if item.caption:
        body["caption"] = item.caption
    return json.dumps(body, ensure_ascii=False)
