"""Shared files in the encrypted backup: sent and downloaded files come back on a new
machine and open byte for byte; files never downloaded stay references; a damaged copy
in the backup costs that file alone (and is fetched again from the relay)."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from typing import Any

from twisted.internet import defer, reactor

from securechat.client import CorruptBackup, MediaStatus, SecureChatClient, events
from tests.clientsupport import FAST
from tests.test_backup import (
    ALICE,
    PASSPHRASE,
    PASSWORD,
    minimal_decrypt,
    minimal_encrypt,
)
from tests.test_files import CHUNK, FileTestCase


def damaged_copy(path: str, target: str, name: str) -> str:
    """A copy of the backup at `path`, written to `target` by the minimal
    implementation, in which one byte of member `name`'s data is flipped (its CRC-32
    left as it was): well encrypted, one entry damaged."""
    with open(path, "rb") as f:
        zip_bytes = minimal_decrypt(f.read(), PASSPHRASE)
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        info = zf.getinfo(name)
    name_length, extra_length = struct.unpack("<2H", zip_bytes[info.header_offset + 26:
                                                                 info.header_offset + 30])
    at = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    with open(target, "wb") as f:
        f.write(minimal_encrypt(zip_bytes[:at] + bytes([zip_bytes[at] ^ 0x40])
                                + zip_bytes[at + 1:], PASSPHRASE))
    return target


class BackupSharedFilesTest(FileTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob()

    @defer.inlineCallbacks
    def share(self) -> Any:
        """Alice sends a file, gets one (downloaded) and is offered one she never
        downloads: (sent id, its bytes), (received id, its bytes), reference id."""
        path, sent_bytes = self.write_file("holiday.jpg", 2 * CHUNK + 777)
        sent = yield self.alice.files.send(self.bob.me.user_id, path, text="the beach")
        yield self.alice.files.wait(sent.id)
        yield self.transferred(self.bob, sent.id)
        path, got_bytes = self.write_file("notes.pdf", 40_000)
        got = yield self.bob.files.send(self.alice.me.user_id, path)
        yield self.transferred(self.alice, got.id)
        self.alice.files.auto_download_bytes = 0
        path, self.offered_bytes = self.write_file("big.mov", 3 * CHUNK)
        offered = yield self.bob.files.send(self.alice.me.user_id, path)
        yield self.bob.files.wait(offered.id)
        yield self.log(self.alice).wait_for(events.FileOffered,
                                            lambda e: e.item.message_id == offered.id)
        yield self.alice.handed_off()
        return (sent.id, sent_bytes), (got.id, got_bytes), offered.id

    @defer.inlineCallbacks
    def back_up_and_lose(self) -> Any:
        path = self.mktemp()
        yield self.alice.create_backup(path, PASSPHRASE, PASSWORD)
        yield self.alice.stop()  # the laptop is lost
        self.clients.remove(self.alice)
        return path

    @defer.inlineCallbacks
    def restore_and_open(self, device: str, path: str) -> Any:
        email = yield SecureChatClient.restore_backup(
            reactor, self.device_dir(device), self.url, path, PASSPHRASE, PASSWORD, FAST,
            floor=FAST)
        client = yield SecureChatClient.open(reactor, self.device_dir(device), self.url,
                                             ALICE, PASSWORD)
        return email, self._track(client)

    @defer.inlineCallbacks
    def test_sent_and_downloaded_files_open_byte_for_byte_after_a_restore(self) -> Any:
        (sent_id, sent_bytes), (got_id, got_bytes), offered_id = yield self.share()
        offered_bytes = self.offered_bytes
        sealed = {}
        for message_id in (sent_id, got_id):
            with open(os.path.join(self.alice.account_dir, "media", f"vault_{message_id}"),
                      "rb") as f:
                sealed[message_id] = f.read()
        path = yield self.back_up_and_lose()
        with open(path, "rb") as f:
            raw = f.read()
        # In the spec's media/ folder, still encrypted as on disk; the reference is not.
        with zipfile.ZipFile(io.BytesIO(minimal_decrypt(raw, PASSPHRASE))) as zf:
            for message_id, data in sealed.items():
                self.assertEqual(zf.read(f"media/vault_{message_id}"), data)
            self.assertNotIn(f"media/vault_{offered_id}", zf.namelist())
            rows = json.loads(zf.read("db_export.json"))["account"]["tables"]["media"]
            self.assertEqual(len(rows), 3)
        self.assertNotIn(sent_bytes[:64], raw)

        email, restored = yield self.restore_and_open("new-laptop", path)
        self.assertEqual((email, email.damaged), (ALICE, ()))
        # The conversation shows the three files; two open byte for byte.
        shown = yield restored.files.shared_media(self.bob.me.user_id)
        self.assertEqual({(i.message_id, i.original_name, i.status) for i in shown},
                         {(sent_id, "holiday.jpg", MediaStatus.SENT),
                          (got_id, "notes.pdf", MediaStatus.DONE),
                          (offered_id, "big.mov", MediaStatus.PENDING)})
        history = yield restored.messages(self.bob.me.user_id)
        self.assertEqual({m.id for m in history}, {sent_id, got_id, offered_id})
        self.assertEqual((yield self.saved(restored, sent_id)), sent_bytes)
        self.assertEqual((yield self.saved(restored, got_id)), got_bytes)
        self.assertEqual((yield restored.files.item(sent_id)).caption, "the beach")
        # The reference downloads on demand: the restored device is of the account
        # whose (old) device Bob listed as a reader.
        yield self.online(restored)
        yield restored.files.download(offered_id)
        self.assertEqual((yield self.saved(restored, offered_id)), offered_bytes)

    @defer.inlineCallbacks
    def test_a_damaged_copy_costs_that_file_alone_and_is_fetched_again(self) -> Any:
        """The backup's copy of one shared file is damaged (its CRC-32 no longer
        matches): the restore names it, restores everything else, and the file comes
        back from the relay on demand."""
        (sent_id, sent_bytes), (got_id, got_bytes), _ = yield self.share()
        path = yield self.back_up_and_lose()
        damaged = damaged_copy(path, self.mktemp(), f"media/vault_{sent_id}")

        email, restored = yield self.restore_and_open("new-laptop", damaged)
        self.assertEqual(email, ALICE)
        (why,) = email.damaged
        self.assertIn(f"holiday.jpg (media/vault_{sent_id})", why)
        self.assertIn("CRC-32", why)
        item = yield restored.files.item(sent_id)
        self.assertEqual(item.status, MediaStatus.PENDING)
        self.assertIn("holiday.jpg", item.error)
        self.assertEqual((yield self.saved(restored, got_id)), got_bytes)  # the rest is there
        yield self.online(restored)
        yield restored.files.download(sent_id)  # my own blob: still on the relay
        self.assertEqual((yield self.saved(restored, sent_id)), sent_bytes)

    @defer.inlineCallbacks
    def test_a_damaged_vault_file_is_named_and_nothing_is_written(self) -> Any:
        source = self.mktemp()
        with open(source, "wb") as f:
            f.write(os.urandom(50_000))
        yield self.alice.vault.unlock()
        item = yield self.alice.vault.add_file("Scan", source)
        path = yield self.back_up_and_lose()
        damaged = damaged_copy(path, self.mktemp(), f"media/vault/{item.id}")
        failure = yield self.assertFailure(SecureChatClient.restore_backup(
            reactor, self.device_dir("new-laptop"), self.url, damaged, PASSPHRASE, PASSWORD,
            FAST, floor=FAST), CorruptBackup)
        self.assertIn(f"media/vault/{item.id}", str(failure))
        self.assertEqual(os.listdir(self.device_dir("new-laptop")), [])
