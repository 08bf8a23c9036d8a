"""The backup file's bytes, exactly as the spec gives them, read and written as streams.

    salt (16) ‖ iv (12) ‖ AES-256-GCM(zip) ‖ tag (16)

The key is PBKDF2-HMAC-SHA256 of the UTF-8 passphrase with the salt, 100,000
iterations, 32 bytes; the tag is GCM's, at the end of the ciphertext as WebCrypto's
`encrypt` returns it (so the spec's `[salt] + [iv] + [AES-GCM ciphertext]`). No
associated data. Any implementation of that (`AESGCM(key).encrypt(iv, zip, None)`,
WebCrypto) writes files we read, and reads ours: a streamed GCM gives the same bytes.

Streamed both ways, so that gigabytes of media never need that much memory:

- `EncryptingWriter` is a write-only file object (`zipfile` writes into it) that
  encrypts as bytes come, and appends the tag at `close()`.
- `BackupReader.open` checks the whole file first (one pass of GCM decryption,
  output thrown away: the tag is authenticated before anything is believed), then
  gives a seekable read-only plaintext view (`plaintext()`) for `zipfile`, which must
  seek to the central directory. That view decrypts the authenticated ciphertext at
  any offset with AES-CTR from the counter GCM used there (GCM's keystream for block
  i of a 96-bit-IV message is AES-CTR from `iv ‖ (2 + i)`, NIST SP 800-38D): the
  plaintext never goes to disk, and nothing is read that was not authenticated first.
  The file is opened once and kept open between the two passes, so a file replaced
  under the same name in between is not read.
- A restore uses neither pass twice: `crypto.backup_extract` checks the tag and
  unzips in one pass.

Slow (PBKDF2, whole-file passes): call from a thread. Errors are this module's own:
`WrongPassphrase` (the tag does not verify: a wrong passphrase, or a tampered file —
GCM cannot tell these apart), `TruncatedBackup` (too short to be one).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Callable
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from securechat.crypto.zipcrc import use_fast_crc
from securechat.writebehind import DropBehindReads

SALT_SIZE = 16
IV_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = SALT_SIZE + IV_SIZE
ITERATIONS = 100_000
KEY_SIZE = 32
CHUNK = 1 << 20  # bytes per read while checking or copying
_BLOCK = 16
MAX_PLAINTEXT = (2**32 - 2) * _BLOCK  # GCM's limit for one message (~64 GiB)

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
use_fast_crc()  # zipfile's CRC-32 costs more than AES-GCM otherwise (crypto.zipcrc)


class BackupFormatError(Exception):
    """The file is not a backup this format can open."""


class TruncatedBackup(BackupFormatError):
    """Shorter than salt, IV and tag: cut off, or not a backup."""


class WrongPassphrase(BackupFormatError):
    """The GCM tag does not verify: the passphrase is wrong, or the file was changed."""


def derive_key(passphrase: str, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256, 100,000 iterations, 32 bytes. Slow: call from a thread."""
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt,
                      iterations=ITERATIONS).derive(passphrase.encode("utf-8"))


class EncryptingWriter(io.RawIOBase):
    """Write-only, not seekable: the header at once, ciphertext as plaintext comes, the
    tag at `close()` (which does not close `out`). `written` counts plaintext bytes."""

    def __init__(self, out: IO[bytes], passphrase: str, salt: bytes | None = None,
                 iv: bytes | None = None) -> None:
        super().__init__()
        salt = os.urandom(SALT_SIZE) if salt is None else salt
        iv = os.urandom(IV_SIZE) if iv is None else iv
        if len(salt) != SALT_SIZE or len(iv) != IV_SIZE:
            raise ValueError("the salt is 16 bytes and the IV 12")
        self._out = out
        self._encryptor = Cipher(algorithms.AES(derive_key(passphrase, salt)),
                                 modes.GCM(iv)).encryptor()
        out.write(salt + iv)
        self.written = 0
        self._buffer = bytearray(0)  # ciphertext, reused from one write to the next

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.written + len(view) > MAX_PLAINTEXT:
            raise BackupFormatError("a backup holds at most 64 GiB")
        if len(self._buffer) < len(view) + _BLOCK - 1:
            self._buffer = bytearray(len(view) + _BLOCK - 1)
        n = self._encryptor.update_into(view, self._buffer)
        self._out.write(memoryview(self._buffer)[:n])  # `out` copies or writes it now
        self.written += len(view)
        return len(view)

    def close(self) -> None:
        if not self.closed:
            self._out.write(self._encryptor.finalize() + self._encryptor.tag)
            self._out.flush()
        super().close()


class BackupReader:
    """An authenticated backup file: `plaintext()` is its zip, seekable."""

    def __init__(self, f: IO[bytes], key: bytes, iv: bytes, size: int) -> None:
        self._f = f
        self._key = key
        self._iv = iv
        self.size = size  # of the plaintext

    @classmethod
    def open(cls, path: str, passphrase: str, progress: Progress | None = None,
             copy_to: str | None = None) -> BackupReader:
        """Check the file's tag (a whole pass) and keep it open. With `copy_to` (a new
        path in a private directory), the ciphertext is copied there during that pass
        and only the copy is read afterwards: whoever can rewrite the original in place
        (a shared folder, a sync client) cannot change what is read after the check.
        Raises TruncatedBackup, WrongPassphrase, or OSError (unreadable)."""
        f = open(path, "rb")  # kept open by the reader until close()
        copy = copy_fd = None
        if copy_to is not None:
            copy_fd = os.open(copy_to, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                              0o600)
            copy = io.FileIO(os.dup(copy_fd), "w")  # whole chunks: no buffer needed
        # The original is not read again: its pages are dropped as they are read, so
        # that the copy's pages are those just freed (securechat.writebehind).
        reads = DropBehindReads(f.fileno()) if copy is not None else None
        try:
            total = os.fstat(f.fileno()).st_size
            if total < HEADER_SIZE + TAG_SIZE:
                raise TruncatedBackup("the file is too short to be a backup")
            header = f.read(HEADER_SIZE)
            if copy is not None:
                copy.write(header)
            salt, iv = header[:SALT_SIZE], header[SALT_SIZE:]
            key = derive_key(passphrase, salt)
            size = total - HEADER_SIZE - TAG_SIZE
            f.seek(total - TAG_SIZE)
            tag = f.read(TAG_SIZE)
            decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
            f.seek(HEADER_SIZE)
            done = 0
            # One buffer read into, one the (unused) plaintext goes to: no allocation
            # and no page fault per MiB.
            buffer, scratch = bytearray(CHUNK), bytearray(CHUNK + _BLOCK - 1)
            while done < size:
                chunk = memoryview(buffer)[:min(CHUNK, size - done)]
                got = f.readinto(chunk)
                if not got:
                    raise TruncatedBackup("the file ended early")
                decryptor.update_into(chunk[:got], scratch)
                if copy is not None:
                    _write_all(copy, chunk[:got])
                done += got
                if reads is not None:
                    reads.consumed(HEADER_SIZE + done)
                if progress is not None:
                    progress(done, size)
            try:
                decryptor.finalize()
            except InvalidTag:
                raise WrongPassphrase("the backup does not open with this passphrase "
                                      "(or it was changed)") from None
            if copy is not None:
                copy.close()  # flushed: every byte is in the file before it is read
        except BaseException:
            f.close()
            if copy is not None:
                with contextlib.suppress(OSError):
                    copy.close()
                os.close(copy_fd)
            raise
        if copy_fd is None:
            return cls(f, key, iv, size)
        f.close()
        return cls(os.fdopen(copy_fd, "rb"), key, iv, size)

    def plaintext(self) -> IO[bytes]:
        """A seekable, read-only view of the zip (valid until `close()`)."""
        return io.BufferedReader(PlaintextView(self), buffer_size=CHUNK)

    def read_at(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        first_block, skip = divmod(offset, _BLOCK)
        counter = self._iv + struct.pack(">I", 2 + first_block)
        decryptor = Cipher(algorithms.AES(self._key), modes.CTR(counter)).decryptor()
        self._f.seek(HEADER_SIZE + first_block * _BLOCK)
        data = self._f.read(skip + length)
        return decryptor.update(data)[skip:]

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> BackupReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(out: IO[bytes], data: memoryview) -> None:
    while data:
        data = data[out.write(data) or 0:]


class PlaintextView(io.RawIOBase):
    def __init__(self, reader: BackupReader) -> None:
        super().__init__()
        self._reader = reader
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._reader.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._reader.read_at(self._pos, len(view))
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)
