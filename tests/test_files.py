"""Encrypted file sharing end to end: real clients, the real relay and its blob store."""

from __future__ import annotations

import os
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

import securechat.client.filecrypt as filecrypt
import securechat.client.storage.media as media_db
from securechat.client import (
    FileQuotaExceeded,
    FileReadError,
    FileRejected,
    FileTooLarge,
    FileUnavailable,
    MediaStatus,
    MessageType,
    TransferCanceled,
    events,
)
from securechat.client.transfer import TransferState
from securechat.protocol import uris
from securechat.relay.config import RelayConfig
from tests.clientsupport import ClientTestCase
from tests.hostile import HostileRelay

CHUNK = filecrypt.CHUNK_SIZE


class FileTestCase(ClientTestCase):
    def write_file(self, name: str, size: int) -> tuple[str, bytes]:
        content = os.urandom(size)
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(content)
        return path, content

    @defer.inlineCallbacks
    def saved(self, client: Any, message_id: str) -> Any:
        """The plaintext `client` keeps of a file, decrypted to a new file."""
        target = self.mktemp()
        yield client.files.save(message_id, target)
        with open(target, "rb") as f:
            return f.read()

    def offered(self, client: Any) -> defer.Deferred[Any]:
        return self.log(client).wait_for(events.FileOffered)

    def transferred(self, client: Any, message_id: str) -> defer.Deferred[Any]:
        return self.log(client).wait_for(events.FileTransferred,
                                         lambda e: e.item.message_id == message_id)


class SharingTest(FileTestCase):
    @defer.inlineCallbacks
    def test_a_file_reaches_two_devices_of_the_peer_and_my_other_device_byte_for_byte(
            self) -> Any:
        self.alice = yield self.register("alice", "alice@example.org")
        self.phone = yield self.login("phone", "alice@example.org")
        self.bob = yield self.register("bob", "bob@example.org")
        self.tablet = yield self.login("tablet", "bob@example.org")
        yield self.online(self.alice, self.phone, self.bob, self.tablet)
        yield self.befriend(self.alice, self.bob, self.phone)
        yield self.wait_until(self.tablet, lambda: self.alice.me.user_id in self.tablet.contacts)
        path, content = self.write_file("holiday.jpg", 3 * CHUNK + 12345)

        message = yield self.alice.files.send(self.bob.me.user_id, path, text="the beach")

        self.assertEqual(message.type, MessageType.IMAGE)
        sent = yield self.alice.files.wait(message.id)
        self.assertEqual(sent.status, MediaStatus.SENT)
        for device in (self.bob, self.tablet, self.phone):
            done = yield self.transferred(device, message.id)
            self.assertEqual((done.item.original_name, done.item.file_size,
                              done.item.mime_type, done.item.caption),
                             ("holiday.jpg", len(content), "image/jpeg", "the beach"))
            self.assertEqual((yield self.saved(device, message.id)), content)
        [shown] = yield self.bob.messages(self.alice.me.user_id)
        self.assertEqual((shown.id, shown.type), (message.id, MessageType.IMAGE))
        self.assertIn('"filename": "holiday.jpg"', shown.text)
        [listed] = yield self.bob.files.shared_media(self.alice.me.user_id)
        self.assertEqual((listed.message_id, listed.status), (message.id, MediaStatus.DONE))
        # The progress bar went to the end, on both sides.
        for device, direction in ((self.alice, "out"), (self.bob, "in")):
            last = self.log(device).of(events.FileProgress)[-1]
            self.assertEqual((last.direction, last.done, last.total),
                             (direction, len(content), len(content)))

    @defer.inlineCallbacks
    def test_the_receiver_downloads_while_the_sender_is_offline(self) -> Any:
        yield self.alice_and_bob()
        self.bob.files.auto_download_bytes = 0  # only when asked
        path, content = self.write_file("report.pdf", 2 * CHUNK + 1)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.alice.files.wait(message.id)
        offer = yield self.offered(self.bob)
        self.assertEqual(offer.item.status, MediaStatus.PENDING)
        yield self.alice.stop()
        self.clients.remove(self.alice)

        item = yield self.bob.files.download(message.id)

        self.assertEqual(item.status, MediaStatus.DONE)
        self.assertEqual((yield self.saved(self.bob, message.id)), content)

    @defer.inlineCallbacks
    def test_an_empty_file_and_a_name_with_folders_are_safe(self) -> Any:
        yield self.alice_and_bob()
        path, _ = self.write_file("empty.txt", 0)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        done = yield self.transferred(self.bob, message.id)
        self.assertEqual((done.item.file_size, (yield self.saved(self.bob, message.id))),
                         (0, b""))
        folder = self.mktemp()
        os.makedirs(folder)
        saved = yield self.bob.files.save_into(message.id, folder)
        again = yield self.bob.files.save_into(message.id, folder)
        self.assertEqual([os.path.basename(saved), os.path.basename(again)],
                         ["empty.txt", "empty (1).txt"])

    @defer.inlineCallbacks
    def test_what_cannot_be_read_or_is_too_large_is_refused_at_once(self) -> Any:
        yield self.alice_and_bob()
        with self.assertRaises(FileReadError) as missing:
            yield self.alice.files.send(self.bob.me.user_id, "/nonexistent/plan.txt")
        self.assertEqual(str(missing.exception), "plan.txt: no such file")
        with self.assertRaises(FileReadError):
            yield self.alice.files.send(self.bob.me.user_id, self.data)
        path, _ = self.write_file("big.bin", 5000)
        self.alice.files.max_bytes = 4096
        with self.assertRaises(FileTooLarge) as big:
            yield self.alice.files.send(self.bob.me.user_id, path)
        self.assertIn("too large", str(big.exception))
        self.assertEqual((yield self.alice.messages(self.bob.me.user_id)), [])


class CancelTest(FileTestCase):
    @defer.inlineCallbacks
    def test_a_canceled_download_keeps_nothing_and_can_start_again(self) -> Any:
        yield self.alice_and_bob()
        self.bob.files.auto_download_bytes = 0
        self.bob.files.window = 1
        path, content = self.write_file("movie.mkv", 4 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.alice.files.wait(message.id)
        yield self.offered(self.bob)
        download = self.bob.files.download(message.id)
        yield self.log(self.bob).wait_for(events.FileProgress, lambda e: e.done > 0)

        yield self.bob.files.cancel(message.id)

        with self.assertRaises(TransferCanceled):
            yield download
        item = yield self.bob.files.item(message.id)
        self.assertEqual(item.status, MediaStatus.CANCELED)
        self.assertFalse(os.path.exists(os.path.join(self.bob.account_dir, "media",
                                                     item.filename)))
        failed = yield self.log(self.bob).wait_for(events.FileFailed)
        self.assertTrue(failed.canceled)
        yield self.bob.files.download(message.id)
        self.assertEqual((yield self.saved(self.bob, message.id)), content)

    @defer.inlineCallbacks
    def test_a_canceled_upload_is_deleted_from_the_relay(self) -> Any:
        yield self.alice_and_bob()
        self.alice.files.window = 1
        path, _ = self.write_file("huge.iso", 4 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        upload = self.alice.files.wait(message.id)
        yield self.log(self.alice).wait_for(events.FileProgress, lambda e: e.done > 0)

        yield self.alice.files.cancel(message.id)

        with self.assertRaises(TransferCanceled):
            yield upload
        row = yield self.alice.store.run(media_db.get, message.id)
        self.assertEqual(row.item.status, MediaStatus.CANCELED)
        with self.assertRaises(ApplicationError) as gone:
            yield self.alice.connection.session.call(uris.BLOB_STATUS, row.blob_id)
        self.assertEqual(gone.exception.error, uris.ERR_NO_SUCH_BLOB)


class ResumeTest(FileTestCase):
    @defer.inlineCallbacks
    def test_an_upload_goes_on_after_a_relay_restart_from_where_it_was(self) -> Any:
        yield self.alice_and_bob()
        self.alice.files.window = 1
        path, content = self.write_file("video.mp4", 6 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.log(self.alice).wait_for(events.FileProgress, lambda e: e.done > 0)
        yield self.relay.stopService()
        yield self.start_relay_again(wait_online=False)
        puts = HostileRelay(self.relay).capture(uris.BLOB_PUT)

        done = yield self.transferred(self.bob, message.id)

        self.assertEqual((yield self.saved(self.bob, message.id)), content)
        self.assertLess(len(puts), 6)  # the chunks stored before the restart stayed
        self.assertEqual(done.item.status, MediaStatus.DONE)

    @defer.inlineCallbacks
    def test_an_upload_goes_on_after_the_sender_restarts(self) -> Any:
        yield self.alice_and_bob()
        self.alice.files.window = 1
        path, content = self.write_file("slides.key", 5 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.log(self.alice).wait_for(events.FileProgress, lambda e: e.done > 0)
        puts = HostileRelay(self.relay).capture(uris.BLOB_PUT)
        self.alice = yield self.reopen(self.alice, "alice")
        restarted = len(puts)
        self.alice.start()

        yield self.transferred(self.bob, message.id)

        self.assertEqual((yield self.saved(self.bob, message.id)), content)
        self.assertLessEqual(len(puts) - restarted, 4)  # what the relay had stayed there

    @defer.inlineCallbacks
    def test_a_download_goes_on_after_a_relay_restart_and_a_receiver_restart(self) -> Any:
        yield self.alice_and_bob()
        self.bob.files.window = 1
        path, content = self.write_file("album.zip", 6 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.alice.files.wait(message.id)
        yield self.log(self.bob).wait_for(events.FileProgress, lambda e: e.done > 0)
        yield self.relay.stopService()
        yield self.start_relay_again(wait_online=False)
        gets = HostileRelay(self.relay).capture(uris.BLOB_GET)
        yield self.log(self.bob).wait_for(
            events.FileProgress, lambda e: e.done >= 3 * CHUNK, since=self.log(self.bob).mark())
        self.bob = yield self.reopen(self.bob, "bob")
        before_reopen = len(gets)
        self.bob.start()

        yield self.transferred(self.bob, message.id)

        self.assertEqual((yield self.saved(self.bob, message.id)), content)
        # Each restart went on from the chunks verified before it (at most the one in
        # flight when it stopped is fetched again).
        self.assertLessEqual(len(gets), 6)
        after = {args[2] for _, args, _ in gets[before_reopen:]}
        self.assertLessEqual(len(after), 3)
        self.assertNotIn(0, after)


    @defer.inlineCallbacks
    def test_a_download_paused_by_the_relay_going_away_can_be_canceled_and_keeps_nothing(
            self) -> Any:
        yield self.alice_and_bob()
        self.bob.files.window = 1
        path, content = self.write_file("archive.tar", 6 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.alice.files.wait(message.id)
        yield self.log(self.bob).wait_for(events.FileProgress, lambda e: e.done > 0)
        self.assertIn(self.bob.files.transfer_state(message.id), (TransferState.RUNNING,
                                                                  TransferState.VERIFYING))
        download = self.bob.files.wait(message.id)
        yield self.relay.stopService()
        yield self.wait_until(self.bob, lambda: self.bob.files.transfer_state(message.id)
                              == TransferState.PAUSED)

        yield self.bob.files.cancel(message.id)

        with self.assertRaises(TransferCanceled):
            yield download
        self.assertIsNone(self.bob.files.transfer_state(message.id))
        item = yield self.bob.files.item(message.id)
        self.assertEqual(item.status, MediaStatus.CANCELED)
        self.assertFalse(os.path.exists(os.path.join(self.bob.account_dir, "media",
                                                     item.filename)))
        # Back online, a canceled download stays canceled until asked for again.
        yield self.start_relay_again()
        item = yield self.bob.files.item(message.id)
        self.assertEqual(item.status, MediaStatus.CANCELED)
        yield self.bob.files.download(message.id)
        self.assertEqual((yield self.saved(self.bob, message.id)), content)


class HostileBlobRelayTest(FileTestCase):
    @defer.inlineCallbacks
    def send_and_tamper(self, tamper: Any, chunks: int = 3, window: int = 8) -> Any:
        """Alice sends a file; the relay answers Bob's chunk reads through `tamper(index,
        answer, counts)`; returns (message, content, gets per index)."""
        yield self.alice_and_bob()
        self.bob.files.auto_download_bytes = 0
        self.bob.files.window = window
        path, content = self.write_file("secret.pdf", chunks * CHUNK - 7)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.alice.files.wait(message.id)
        yield self.offered(self.bob)
        counts: dict[int, int] = {}
        chunks_read: dict[int, bytes] = {}

        def change(caller: Any, answer: Any, blob_id: str, token: bytes, index: int) -> Any:
            counts[index] = counts.get(index, 0) + 1
            chunks_read.setdefault(index, answer)
            return tamper(index, answer, counts, chunks_read)
        HostileRelay(self.relay).rewrite(uris.BLOB_GET, change)
        return message, content, counts

    @defer.inlineCallbacks
    def test_a_chunk_swapped_once_is_fetched_again(self) -> Any:
        def swap_once(index: int, answer: bytes, counts: dict[int, int], read: Any) -> Any:
            if index == 1 and counts[1] == 1:
                return read.get(0, answer)  # chunk 0 in chunk 1's place
            return answer
        message, content, counts = yield self.send_and_tamper(swap_once, window=1)

        yield self.bob.files.download(message.id)

        self.assertEqual((yield self.saved(self.bob, message.id)), content)
        self.assertEqual(counts[1], 2)

    @defer.inlineCallbacks
    def test_a_relay_that_keeps_truncating_a_chunk_gets_the_file_rejected(self) -> Any:
        def truncate(index: int, answer: bytes, counts: dict[int, int], read: Any) -> Any:
            return answer[:-1] if index == 2 else answer
        message, _, counts = yield self.send_and_tamper(truncate)

        with self.assertRaises(FileRejected) as rejected:
            yield self.bob.files.download(message.id)

        self.assertIn("kept failing verification", str(rejected.exception))
        self.assertEqual(counts[2], 1 + self.bob.files.max_refetch)
        item = yield self.bob.files.item(message.id)
        self.assertEqual(item.status, MediaStatus.FAILED)
        failed = self.log(self.bob).of(events.FileFailed)[-1]
        self.assertEqual(failed.reason, str(rejected.exception))
        self.assertFalse(os.path.exists(os.path.join(self.bob.account_dir, "media",
                                                     item.filename)))  # nothing kept

    @defer.inlineCallbacks
    def test_reordered_or_last_chunk_dropped_is_rejected(self) -> Any:
        def reorder(index: int, answer: bytes, counts: dict[int, int], read: Any) -> Any:
            # Chunk 0 in place of the last one: a shorter file, "ending" early.
            return read.get(0, answer) if index == 2 else answer
        # One request at a time: chunk 0 has been read when chunk 2 is asked for.
        message, _, _ = yield self.send_and_tamper(reorder, window=1)
        with self.assertRaises(FileRejected):
            yield self.bob.files.download(message.id)

    @defer.inlineCallbacks
    def test_a_replaced_blob_is_rejected_by_its_hash(self) -> Any:
        # Someone with the file key (a dishonest sender, say) replaces the content with
        # chunks that verify: only the SHA-256 in FILE_INFO tells.
        replaced: dict[str, Any] = {}

        def replace(index: int, answer: bytes, counts: dict[int, int], read: Any) -> Any:
            row, layout = replaced["row"], replaced["layout"]
            return filecrypt.seal_chunk(row.key, row.item.message_id, index,
                                        index == layout.chunk_count - 1,
                                        b"\x00" * layout.plain_length(index))
        message, _, _ = yield self.send_and_tamper(replace)
        row = yield self.alice.store.run(media_db.get, message.id)
        replaced.update(row=row, layout=filecrypt.Layout(row.item.file_size, row.chunk_size))

        with self.assertRaises(FileRejected) as rejected:
            yield self.bob.files.download(message.id)

        self.assertIn("does not match the SHA-256", str(rejected.exception))
        with self.assertRaises(FileUnavailable):
            yield self.bob.files.save(message.id, self.mktemp())


class StrangerTest(FileTestCase):
    @defer.inlineCallbacks
    def test_a_stranger_who_learns_the_blob_id_and_token_cannot_download(self) -> Any:
        yield self.alice_and_bob()
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        created = HostileRelay(self.relay).capture(uris.BLOB_CREATE)
        path, _ = self.write_file("plans.txt", 1000)
        message = yield self.alice.files.send(self.bob.me.user_id, path)
        yield self.transferred(self.bob, message.id)
        row = yield self.alice.store.run(media_db.get, message.id)
        token = created[0][1][4]
        self.assertEqual(token, row.token)

        for client, secret in ((carol, token), (self.bob, os.urandom(32))):
            with self.assertRaises(ApplicationError) as refused:
                yield client.connection.session.call(uris.BLOB_GET, row.blob_id, secret, 0)
            self.assertEqual(refused.exception.error, uris.ERR_NO_SUCH_BLOB)
        # Nor can anyone but its owner change or delete it.
        for procedure, args in ((uris.BLOB_PUT, (0, b"x")), (uris.BLOB_DELETE, ()),
                                (uris.BLOB_STATUS, ())):
            with self.assertRaises(ApplicationError) as refused:
                yield self.bob.connection.session.call(procedure, row.blob_id, *args)
            self.assertEqual(refused.exception.error, uris.ERR_NO_SUCH_BLOB)


class LimitsTest(FileTestCase):
    config = RelayConfig(blob_max_bytes=3 * CHUNK, blob_quota_bytes=5 * CHUNK)

    @defer.inlineCallbacks
    def test_too_large_for_the_relay_and_over_quota_are_clear_errors(self) -> Any:
        yield self.alice_and_bob()
        big, _ = self.write_file("big.iso", 4 * CHUNK)
        message = yield self.alice.files.send(self.bob.me.user_id, big)
        with self.assertRaises(FileTooLarge) as too_large:
            yield self.alice.files.wait(message.id)
        self.assertIn("big.iso is too large for this relay", str(too_large.exception))
        failed = yield self.log(self.alice).wait_for(events.FileFailed)
        self.assertEqual(failed.reason, str(too_large.exception))

        first, _ = self.write_file("one.bin", 3 * CHUNK - 100)
        ok = yield self.alice.files.send(self.bob.me.user_id, first)
        yield self.alice.files.wait(ok.id)
        second, _ = self.write_file("two.bin", 3 * CHUNK - 100)
        over = yield self.alice.files.send(self.bob.me.user_id, second)
        with self.assertRaises(FileQuotaExceeded) as full:
            yield self.alice.files.wait(over.id)
        self.assertTrue(str(full.exception).startswith("Storage full"))
        item = yield self.alice.files.item(over.id)
        self.assertEqual((item.status, item.error), (MediaStatus.FAILED, str(full.exception)))

