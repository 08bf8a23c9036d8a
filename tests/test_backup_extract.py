"""The one-pass reading of a backup (crypto.backup_extract): what it takes out is what
was authenticated, whatever happens to the file while it is read."""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any

from twisted.trial import unittest

from securechat.crypto import backup_extract
from securechat.crypto.backup_format import WrongPassphrase
from tests.test_backup import PASSPHRASE, minimal_encrypt

BIG = os.urandom(backup_extract.PASS_CHUNK + 300_000)  # spans two chunks of the pass


def make_zip(members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


class ExtractTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.zip = make_zip({"small.json": b'{"a": 1}', "media/big": BIG,
                             "media/empty": b"", "other": b"not wanted"})
        self.path = os.path.join(self.dir, "backup.bak")
        with open(self.path, "wb") as f:
            f.write(minimal_encrypt(self.zip, PASSPHRASE))
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)

    def choose(self, info: zipfile.ZipInfo) -> str | None:
        if info.filename == "small.json":
            return backup_extract.KEEP
        if info.filename.startswith("media/"):
            return os.path.join(self.out, info.filename.replace("/", "_"))
        return None

    def extract(self, choose: Any = None, progress: Any = None) -> backup_extract.Extracted:
        return backup_extract.extract(self.path, PASSPHRASE, choose or self.choose, progress)

    def test_members_come_out_whole_in_one_pass(self) -> None:
        seen: list[int] = []
        found = self.extract(progress=lambda done, total: seen.append(done))
        self.assertEqual(found.kept, {"small.json": b'{"a": 1}'})
        self.assertEqual(found.damaged, {})
        with open(found.written["media/big"], "rb") as f:
            self.assertEqual(f.read(), BIG)
        self.assertEqual(os.path.getsize(found.written["media/empty"]), 0)
        self.assertEqual(len(seen), 2)  # one pass over the file: two chunks' progress
        self.assertEqual(sorted(os.listdir(self.out)), ["media_big", "media_empty"])

    def test_a_deflated_member_of_another_implementation_is_inflated(self) -> None:
        with open(self.path, "wb") as f:
            f.write(minimal_encrypt(make_zip({"small.json": b"{}", "media/big": BIG},
                                             zipfile.ZIP_DEFLATED), PASSPHRASE))
        found = self.extract()
        with open(found.written["media/big"], "rb") as f:
            self.assertEqual(f.read(), BIG)

    def test_a_wrong_passphrase_leaves_nothing_written(self) -> None:
        with self.assertRaises(WrongPassphrase):
            backup_extract.extract(self.path, "not the passphrase", self.choose)
        self.assertEqual(os.listdir(self.out), [])

    def test_bytes_changed_during_the_pass_fail_the_tag_and_leave_nothing(self) -> None:
        def tamper(done: int, total: int) -> None:
            if done < total:  # after the first chunk: a byte of the second flipped
                with open(self.path, "r+b") as f:
                    f.seek(28 + done + 1000)
                    byte = f.read(1)
                    f.seek(28 + done + 1000)
                    f.write(bytes([byte[0] ^ 1]))
        with self.assertRaises(WrongPassphrase):
            self.extract(progress=tamper)
        self.assertEqual(os.listdir(self.out), [])

    def test_bytes_changed_between_the_plan_and_the_pass_are_caught(self) -> None:
        """The central directory read to plan differs from the one the pass
        authenticates (the file was rewritten in between): refused."""
        with open(self.path, "rb") as f:
            good = f.read()
        at = 28 + self.zip.rindex(b"small.json")  # a name in the central directory
        with open(self.path, "wb") as f:
            f.write(good[:at] + bytes([good[at] ^ 1]) + good[at + 1:])

        def put_back(info: zipfile.ZipInfo) -> str | None:
            with open(self.path, "r+b") as f:
                f.seek(at)
                f.write(good[at:at + 1])
            return self.choose(info)
        with self.assertRaises(backup_extract.ChangedWhileRead):
            self.extract(put_back)
        self.assertEqual(os.listdir(self.out), [])

    def test_a_damaged_member_is_reported_and_the_others_kept(self) -> None:
        start = self.zip.index(b"media/big") + len("media/big")  # its data follows
        broken = bytearray(self.zip)
        broken[start + 5000] ^= 1
        with open(self.path, "wb") as f:
            f.write(minimal_encrypt(bytes(broken), PASSPHRASE))
        found = self.extract()
        self.assertEqual(found.damaged, {"media/big": "its CRC-32 does not match"})
        self.assertNotIn("media/big", found.written)
        self.assertEqual(sorted(os.listdir(self.out)), ["media_empty"])
        self.assertEqual(found.kept, {"small.json": b'{"a": 1}'})

    def test_a_deflated_member_that_does_not_inflate_is_damaged(self) -> None:
        data = make_zip({"media/big": BIG[:100_000]}, zipfile.ZIP_DEFLATED)
        info = zipfile.ZipFile(io.BytesIO(data)).getinfo("media/big")
        at = info.header_offset + 30 + len("media/big") + 10
        bad = data[:at] + bytes(b ^ 0xFF for b in data[at:at + 50]) + data[at + 50:]
        with open(self.path, "wb") as f:
            f.write(minimal_encrypt(bad, PASSPHRASE))
        found = self.extract()
        self.assertIn("media/big", found.damaged)
        self.assertEqual(os.listdir(self.out), [])
