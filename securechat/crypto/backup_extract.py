"""Opening a backup in one pass: the tag checked and the zip's members taken out in the
same read, with no copy of the backup and no second decryption.

`backup_format.BackupReader` checks the whole file, then reads it again; to read the
bytes it checked (not whatever a shared folder or a sync client put under the same
name since), a restore used to copy the ciphertext aside during the check and read the
copy: a gigabyte written and decrypted twice. Here:

1. **plan** (before any byte is believed): the zip's central directory and each wanted
   member's local header are decrypted with AES-CTR at their offsets (as
   `BackupReader.read_at` does), and every byte read for that is recorded. The plan
   says which plaintext ranges are which member's data;
2. **one pass** of AES-256-GCM over the whole file, front to back: each member's data,
   as it goes by, is written to the file `choose` named for it (a new file in a private
   staging directory: unzipped on the fly, CRC-32 computed) or kept in memory (the
   small members), and the bytes the plan was made from are compared with the same
   bytes as the pass decrypts them;
3. then the tag: if it does not verify, everything written is removed and the caller
   gets `WrongPassphrase`, exactly as before. If it does, every byte of the pass is
   authenticated, and so is the plan (its bytes were the pass's: else
   `ChangedWhileRead`). Each file is synced (on threads beside the pass, as soon as it is
   written: with many files, a millisecond or so each, that overlaps the pass).

A member whose data does not match its CRC-32 or declared size, or does not inflate,
is reported in `Extracted.damaged` (its file removed), not raised: the caller decides
whether that member matters. Blocking (PBKDF2, a whole pass): call it in a thread.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import itertools
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from securechat.crypto.backup_format import (
    HEADER_SIZE,
    SALT_SIZE,
    TAG_SIZE,
    BackupFormatError,
    BackupReader,
    PlaintextView,
    TruncatedBackup,
    WrongPassphrase,
    derive_key,
)
from securechat.crypto.zipcrc import crc32
from securechat.writebehind import DropBehindReads, WriteBehindFile, open_write_behind

PASS_CHUNK = 4 << 20  # bytes decrypted at a time in the pass
KEEP = "memory"  # what `choose` answers for a member kept in memory
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # a zip local file header, 30 bytes
_INFLATE_PIECE = 1 << 20  # bytes inflated at a time: a small member cannot balloon
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
# A member's destination: KEEP, a path (a new file), or None (not wanted).
Choose = Callable[[zipfile.ZipInfo], str | None]


class ChangedWhileRead(BackupFormatError):
    """Bytes read to plan the pass differ from the same bytes in the pass: the file was
    rewritten while it was being read."""


class WriteFailed(Exception):
    """A member could not be written where `choose` said (`error`: the OSError)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@attrs.define
class Extracted:
    """What one pass took out of an authenticated backup."""

    members: list[zipfile.ZipInfo]  # every member the zip lists, in its order
    kept: dict[str, bytes]  # name -> content, for the members kept in memory
    written: dict[str, str]  # name -> the file its content is in
    damaged: dict[str, str]  # name -> why (bad CRC-32, wrong size, does not inflate...)


@attrs.define(eq=False)
class _Member:
    info: zipfile.ZipInfo
    start: int  # plaintext offset of its data
    target: str  # KEEP or a path
    crc: int = 0
    size: int = 0
    inflate: Any = None
    out: WriteBehindFile | None = None
    kept: bytearray = attrs.Factory(bytearray)
    error: str | None = None
    started: bool = False

    @property
    def end(self) -> int:
        return self.start + self.info.compress_size

    def begin(self) -> None:
        self.started = True
        if self.info.compress_type == zipfile.ZIP_DEFLATED:
            self.inflate = zlib.decompressobj(-15)
        elif self.info.compress_type != zipfile.ZIP_STORED:
            self.error = f"compression method {self.info.compress_type} is not supported"
        elif self.info.flag_bits & 0x1:
            self.error = "it is encrypted inside the zip"
        if self.target != KEEP:
            try:
                self.out = open_write_behind(self.target, os.O_EXCL | os.O_NOFOLLOW)
            except OSError as e:
                raise WriteFailed(e) from None

    def feed(self, data: memoryview) -> None:
        if self.error is not None:
            return
        if self.inflate is None:
            self._put(data)
            return
        try:
            while data and not self.inflate.eof:
                piece = self.inflate.decompress(data, _INFLATE_PIECE)
                data = memoryview(self.inflate.unconsumed_tail)
                self._put(memoryview(piece))
                if self.error is not None:
                    return
        except zlib.error as e:
            self.error = f"it does not inflate ({e})"

    def _put(self, piece: memoryview) -> None:
        self.size += len(piece)
        if self.size > self.info.file_size:
            self.error = "it is longer than the zip says"
            return
        self.crc = crc32(piece, self.crc)
        if self.out is not None:
            try:
                self.out.write(piece)
            except OSError as e:
                raise WriteFailed(e) from None
        else:
            self.kept += piece

    def finish(self, syncer: _Syncer) -> None:
        if self.error is None:
            if self.inflate is not None and not self.inflate.eof:
                self.error = "its compressed data is cut short"
            elif self.size != self.info.file_size:
                self.error = "it is shorter than the zip says"
            elif self.crc != self.info.CRC:
                self.error = "its CRC-32 does not match"
        self.inflate = None
        if self.out is not None:
            out, self.out = self.out, None
            syncer.sync_and_close(out, self.error is None)


class _Syncer:
    """fsync, then close, each file written, on a few threads beside the pass (the
    file system commits their syncs together)."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(4, "backup-extract-sync")
        self._pending: list[concurrent.futures.Future[None]] = []

    def sync_and_close(self, out: WriteBehindFile, keep: bool) -> None:
        def work() -> None:
            try:
                if keep:
                    out.sync()
            finally:
                out.close()
        self._pending.append(self._pool.submit(work))

    def wait(self, quiet: bool = False) -> None:
        """Every file synced and closed (WriteFailed if one could not be, unless
        `quiet`: the files are about to be removed anyway)."""
        self._pool.shutdown(wait=True)
        for future in self._pending:
            try:
                future.result()
            except OSError as e:
                if not quiet:
                    raise WriteFailed(e) from None


def extract(path: str, passphrase: str, choose: Choose,
            progress: Progress | None = None) -> Extracted:
    """Check the backup at `path` and take out the members `choose` wants, in one pass.
    Raises TruncatedBackup, WrongPassphrase (nothing left written), BackupFormatError
    (not a zip, overlapping members; ChangedWhileRead), WriteFailed, OSError (the
    backup unreadable), or whatever `choose` raises."""
    with open(path, "rb") as f:
        total = os.fstat(f.fileno()).st_size
        if total < HEADER_SIZE + TAG_SIZE:
            raise TruncatedBackup("the file is too short to be a backup")
        header = f.read(HEADER_SIZE)
        key, iv = derive_key(passphrase, header[:SALT_SIZE]), header[SALT_SIZE:]
        size = total - HEADER_SIZE - TAG_SIZE
        f.seek(total - TAG_SIZE)
        tag = f.read(TAG_SIZE)
        recorded: list[tuple[int, bytes]] = []
        members, wanted, plan_error = _plan(BackupReader(f, key, iv, size), recorded, choose)
        syncer = _Syncer()
        try:
            try:
                _one_pass(f, key, iv, tag, size, wanted, recorded, syncer, progress)
            except BaseException:
                syncer.wait(quiet=True)
                raise
            syncer.wait()
            if plan_error is not None:  # authentic, and not a zip we can read
                raise BackupFormatError(plan_error)
        except BaseException:
            _remove(wanted)
            raise
    damaged = {}
    for m in wanted:
        if m.error is not None:
            damaged[m.info.filename] = m.error
            _remove([m])
    return Extracted(members,
                     {m.info.filename: bytes(m.kept) for m in wanted
                      if m.target == KEEP and m.error is None},
                     {m.info.filename: m.target for m in wanted
                      if m.target != KEEP and m.error is None},
                     damaged)


class _RecordingView(PlaintextView):
    """The plaintext, decrypted unauthenticated at any offset (for `zipfile` to read the
    central directory), every byte it hands out recorded for the pass to compare."""

    def __init__(self, reader: BackupReader, recorded: list[tuple[int, bytes]]) -> None:
        super().__init__(reader)
        self._recorded = recorded

    def readinto(self, buffer: Any) -> int:
        offset = self.tell()
        n = super().readinto(buffer)
        if n:
            self._recorded.append((offset, bytes(memoryview(buffer).cast("B")[:n])))
        return n

    def read_at(self, offset: int, length: int) -> bytes:
        self.seek(offset)
        return self.read(length) or b""


def _plan(reader: BackupReader, recorded: list[tuple[int, bytes]],
          choose: Choose) -> tuple[list[zipfile.ZipInfo], list[_Member], str | None]:
    """(every member, the wanted ones with their data's place, why the plan failed).
    A plan that fails (a wrong passphrase gives noise; or the zip is damaged) wants
    nothing: the pass then tells which it was."""
    view = _RecordingView(reader, recorded)
    try:
        with zipfile.ZipFile(view) as zf:
            members = zf.infolist()
    except Exception as e:  # noise (a wrong passphrase) can fail anywhere in zipfile
        return [], [], f"ZIP parse error: {e}"
    wanted: list[_Member] = []
    names: set[str] = set()
    for info in members:
        target = choose(info)
        if target is None:
            continue
        if info.filename in names:
            return [], [], f"the backup holds {info.filename} twice"
        names.add(info.filename)
        local = view.read_at(info.header_offset, _LOCAL_HEADER.size)
        if len(local) != _LOCAL_HEADER.size or local[:4] != b"PK\x03\x04":
            return [], [], f"ZIP parse error: the local header of {info.filename} is damaged"
        name_length, extra_length = _LOCAL_HEADER.unpack(local)[-2:]
        start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if start + info.compress_size > reader.size:
            return [], [], f"ZIP parse error: {info.filename} ends past the end of the zip"
        wanted.append(_Member(info, start, target))
    wanted.sort(key=lambda m: m.start)
    for before, after in itertools.pairwise(wanted):
        if after.start < before.end:
            return [], [], f"ZIP parse error: {before.info.filename} and " \
                           f"{after.info.filename} overlap"
    return members, wanted, None


def _one_pass(f: IO[bytes], key: bytes, iv: bytes, tag: bytes, size: int,
              wanted: list[_Member], recorded: list[tuple[int, bytes]], syncer: _Syncer,
              progress: Progress | None) -> None:
    """GCM over the whole ciphertext: members fed as their bytes go by, the recorded
    bytes compared; then the tag (WrongPassphrase) and the comparison (ChangedWhileRead)."""
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
    recorded.sort(key=lambda r: r[0])
    starts = [offset for offset, _ in recorded]
    longest = max((len(data) for _, data in recorded), default=0)
    reads = DropBehindReads(f.fileno())  # read once: its pages need not stay cached
    ciphertext, plaintext = bytearray(PASS_CHUNK), bytearray(PASS_CHUNK + 15)
    changed = False
    current = 0  # index in `wanted` of the next member not finished
    f.seek(HEADER_SIZE)
    done = 0
    while done < size:
        chunk = memoryview(ciphertext)[:min(PASS_CHUNK, size - done)]
        got = f.readinto(chunk)
        if not got:
            raise TruncatedBackup("the file ended early")
        n = decryptor.update_into(chunk[:got], plaintext)
        plain = memoryview(plaintext)[:n]
        low, high = done, done + n
        # The recorded bytes overlapping [low, high): those starting after low - longest.
        for i in range(bisect.bisect_left(starts, low - longest),
                       bisect.bisect_left(starts, high)):
            offset, data = recorded[i]
            a, b = max(low, offset), min(high, offset + len(data))
            if a < b and plain[a - low:b - low] != data[a - offset:b - offset]:
                changed = True
        while current < len(wanted) and wanted[current].start < high:
            member = wanted[current]
            if not member.started:
                member.begin()
            a, b = max(low, member.start), min(high, member.end)
            if a < b:
                member.feed(plain[a - low:b - low])
            if member.end > high:
                break
            member.finish(syncer)
            current += 1
        done += got
        reads.consumed(HEADER_SIZE + done)
        if progress is not None:
            progress(done, size)
    for member in wanted[current:]:  # empty members at the very end
        member.begin()
        member.finish(syncer)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise WrongPassphrase("the backup does not open with this passphrase "
                              "(or it was changed)") from None
    if changed:
        raise ChangedWhileRead("the backup file changed while it was being read")


def _remove(members: list[_Member]) -> None:
    for m in members:
        if m.out is not None:
            m.out.close()
        if m.target != KEEP:
            with contextlib.suppress(FileNotFoundError):
                os.remove(m.target)
