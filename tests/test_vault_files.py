"""Vault files sealed as streams of chunks: several chunks round trip, a damaged file
(cut, chunks swapped, a chunk of another file) exports nothing and leaves the target
as it was, and files sealed in the older one-message format still export."""

from __future__ import annotations

import io
import os
from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.client import VaultCorrupted
from securechat.crypto.sealed_stream import SealedStream
from securechat.crypto.sealing import KeySealing, UnknownFormat, WrongKey
from tests.clientsupport import ClientTestCase

CHUNK = 1 << 20
KEY = b"k" * 32


class StreamFormat(unittest.TestCase):
    """The chunked format itself, with a small chunk so that cases are cheap."""

    stream = SealedStream(b"TST1", chunk=64)

    def seal(self, data: bytes, context: bytes = b"ctx") -> bytes:
        out = io.BytesIO()
        self.assertEqual(self.stream.seal(io.BytesIO(data), out, KEY, context), len(data))
        return out.getvalue()

    def open(self, sealed: bytes, context: bytes = b"ctx") -> bytes:
        out = io.BytesIO()
        self.stream.open(io.BytesIO(sealed), out, KEY, context)
        return out.getvalue()

    def test_sizes_at_every_boundary(self) -> None:
        for size in (0, 1, 63, 64, 65, 128, 129, 640):
            data = os.urandom(size)
            sealed = self.seal(data)
            self.assertEqual(len(sealed), self.stream.sealed_size(size), size)
            self.assertEqual(self.open(sealed), data, size)

    def test_cut_reordered_extended_or_moved(self) -> None:
        sealed = self.seal(os.urandom(200))  # chunks of 64, 64, 64, 8
        header, size = 15, 64 + 16
        chunks = [sealed[header + i * size:header + (i + 1) * size] for i in range(4)]
        damaged = {
            "cut at a chunk boundary": sealed[:header + 3 * size],
            "cut inside a chunk": sealed[:-5],
            "two chunks swapped": sealed[:header] + chunks[1] + chunks[0] + b"".join(chunks[2:]),
            "a chunk repeated": sealed[:header] + chunks[0] + b"".join(chunks),
            "bytes after the last": sealed + b"\0" * 16,
            "one bit flipped": sealed[:40] + bytes([sealed[40] ^ 1]) + sealed[41:],
        }
        for what, blob in damaged.items():
            with self.assertRaises((WrongKey, UnknownFormat), msg=what):
                self.open(blob)
        # Another file's context (another item), another kind: refused too.
        self.assertRaises(WrongKey, self.open, sealed, b"other item")
        self.assertRaises(UnknownFormat, SealedStream(b"TST2", 64).open, io.BytesIO(sealed),
                          io.BytesIO(), KEY, b"ctx")

    def test_a_header_asking_for_huge_chunks_is_refused(self) -> None:
        sealed = bytearray(self.seal(b"abc"))
        sealed[4:8] = (1 << 30).to_bytes(4, "big")
        self.assertRaises(UnknownFormat, self.open, bytes(sealed))


class VaultFiles(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.alice = yield self.register("alice", "alice@example.org")
        yield self.alice.vault.unlock()

    @defer.inlineCallbacks
    def add(self, content: bytes) -> Any:
        source = self.mktemp()
        with open(source, "wb") as f:
            f.write(content)
        item = yield self.alice.vault.add_file("Scan", source)
        return item, self.alice.vault.store.file_path(item.id)

    @defer.inlineCallbacks
    def test_a_file_of_several_chunks_round_trips(self) -> None:
        content = os.urandom(2 * CHUNK + 12345)
        item, path = yield self.add(content)
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"SCV3")
        self.assertEqual(os.path.getsize(path), 15 + len(content) + 3 * 16)
        out = self.mktemp()
        yield self.alice.vault.export_file(item.id, out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)

    @defer.inlineCallbacks
    def test_a_damaged_file_exports_nothing(self) -> None:
        item, path = yield self.add(os.urandom(2 * CHUNK + 10))
        out = self.mktemp()
        with open(out, "wb") as f:
            f.write(b"what was there before")
        with open(path, "r+b") as f:  # the last chunk gone: a file cut short
            f.truncate(15 + 2 * (CHUNK + 16))
        yield self.assertFailure(self.alice.vault.export_file(item.id, out), VaultCorrupted)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"what was there before")
        self.assertEqual(os.listdir(os.path.dirname(out)), [os.path.basename(out)])

        # A chunk taken from another of the vault's files does not pass either.
        _, other_path = yield self.add(os.urandom(CHUNK + 1))
        with open(other_path, "rb") as f:
            foreign = f.read()[15:15 + CHUNK + 16]
        item2, path2 = yield self.add(os.urandom(CHUNK + 1))
        with open(path2, "r+b") as f:
            f.seek(15)
            f.write(foreign)
        target = self.mktemp()
        yield self.assertFailure(self.alice.vault.export_file(item2.id, target),
                                 VaultCorrupted)
        self.assertFalse(os.path.exists(target))

    @defer.inlineCallbacks
    def test_files_in_the_older_format_still_export(self) -> None:
        content = os.urandom(CHUNK + 777)
        item, path = yield self.add(b"placeholder")
        # What the vault wrote before the streamed format: one AES-GCM message.
        key = self.alice.vault.lock_state.key()
        context = f"vault:{self.alice.me.user_id}:{item.id}:file".encode()
        with open(path, "wb") as f:
            f.write(KeySealing(b"SCV2").seal(content, key, context))
        out = self.mktemp()
        yield self.alice.vault.export_file(item.id, out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)
        with open(path, "r+b") as f:  # and a damaged one is refused, as before
            f.seek(-1, os.SEEK_END)
            f.write(b"\0")
        yield self.assertFailure(self.alice.vault.export_file(item.id, self.mktemp()),
                                 VaultCorrupted)
