"""How a shared file is encrypted: chunks of AES-256-GCM under a random per-file key.

Chunk `i` of a file is `nonce (12 random bytes) || AES-GCM(key, nonce, plaintext,
aad)`, where the associated data binds the chunk to its place:

    aad = b"SCF1" || i (8 bytes, big-endian) || last (1 byte: 1 for the last chunk) || file id

so the relay (or anyone) cannot swap, reorder, drop or truncate chunks unnoticed: a
chunk moved to another index, another file, or presented as the last one fails to
decrypt. A file of n plaintext bytes in chunks of c has max(1, ceil(n / c)) chunks (an
empty file is one empty chunk), each `OVERHEAD` bytes longer than its plaintext. The
whole plaintext's SHA-256 travels with the key (FILE_INFO) and is checked at the end.

The same format is the file kept on disk at rest (`vault_<id>`, the chunks one after
another): the sender uploads from it, the receiver writes each verified chunk into it,
and `decrypt_file` opens it on request. Everything here is blocking: call it in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK_SIZE = 512 * 1024  # plaintext bytes per chunk
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
KEY_BYTES = 32
_LABEL = b"SCF1"


class ChunkInvalid(Exception):
    """A chunk that does not decrypt at its place (tampered, moved or truncated)."""


class HashMismatch(Exception):
    """Every chunk verified, but the plaintext is not the file the sender announced."""


@attrs.frozen
class Layout:
    """The shape of one encrypted file."""

    size: int  # plaintext bytes
    chunk_size: int = CHUNK_SIZE  # plaintext bytes per chunk

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    @property
    def sealed_chunk(self) -> int:
        """Bytes of every encrypted chunk but the last."""
        return self.chunk_size + OVERHEAD

    @property
    def sealed_size(self) -> int:
        return self.size + self.chunk_count * OVERHEAD

    def plain_length(self, index: int) -> int:
        if index < self.chunk_count - 1:
            return self.chunk_size
        return self.size - self.chunk_size * (self.chunk_count - 1)

    def sealed_length(self, index: int) -> int:
        return self.plain_length(index) + OVERHEAD

    def offset(self, index: int) -> int:
        return index * self.sealed_chunk


def _aad(file_id: str, index: int, last: bool) -> bytes:
    return _LABEL + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00") + file_id.encode()


def seal_chunk(key: bytes, file_id: str, index: int, last: bool, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(file_id, index, last))


def open_chunk(key: bytes, file_id: str, layout: Layout, index: int, sealed: bytes) -> bytes:
    """The plaintext of chunk `index`, or ChunkInvalid."""
    if len(sealed) != layout.sealed_length(index):
        raise ChunkInvalid(f"chunk {index} has {len(sealed)} bytes, not "
                           f"{layout.sealed_length(index)}")
    last = index == layout.chunk_count - 1
    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], _aad(file_id, index, last))
    except InvalidTag:
        raise ChunkInvalid(f"chunk {index} does not verify") from None


def encrypt_file(source: str, target: str, key: bytes, file_id: str, max_size: int,
                 chunk_size: int = CHUNK_SIZE,
                 written: Callable[[int], None] | None = None) -> tuple[Layout, str]:
    """Encrypt `source` into `target` (made readable by this user only): (layout, SHA-256
    hex of the plaintext). OSError if `source` cannot be read; FileTooBig past `max_size`
    (the file may grow while it is read). `written(i)`: chunk i is in `target` (to
    upload it while the rest is encrypted)."""
    digest = hashlib.sha256()
    size = index = 0
    with open(source, "rb") as src, _private(target) as out:
        piece = src.read(chunk_size)
        while True:
            ahead = src.read(chunk_size) if len(piece) == chunk_size else b""
            size += len(piece)
            if size > max_size:
                raise FileTooBig(size)
            digest.update(piece)
            out.write(seal_chunk(key, file_id, index, not ahead, piece))
            if written is not None:
                out.flush()
                written(index)
            if not ahead:
                break
            piece, index = ahead, index + 1
    return Layout(size, chunk_size), digest.hexdigest()


class FileTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _private(path: str) -> Any:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def read_sealed(path: str, layout: Layout, index: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(layout.offset(index))
        return f.read(layout.sealed_length(index))


def write_sealed(path: str, layout: Layout, index: int, sealed: bytes) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, sealed, layout.offset(index))
    finally:
        os.close(fd)


class Vault:
    """A file being downloaded: one descriptor for the whole transfer, chunks written at
    their offsets from any thread (pwrite), each verified first and its plaintext hashed
    in order as it comes (no second pass over the file at the end)."""

    def __init__(self, path: str, key: bytes, file_id: str, layout: Layout,
                 hold: int) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.path, self._key, self._file_id, self._layout = path, key, file_id, layout
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._digest = InOrderDigest(self._reread, layout.chunk_count, hold)

    def keep(self, index: int, sealed: Any) -> None:
        """A fetched chunk is written only if it verifies at its place (ChunkInvalid)."""
        if type(sealed) is not bytes:
            raise ChunkInvalid(f"chunk {index} is not bytes")
        plaintext = open_chunk(self._key, self._file_id, self._layout, index, sealed)
        os.pwrite(self._fd, sealed, self._layout.offset(index))
        self._digest.add(index, plaintext)

    def already_here(self, indexes: set[int]) -> None:
        """Chunks verified before (a resumed download): hashed from disk in their turn."""
        for index in sorted(indexes):
            self._digest.add(index, None)

    def _reread(self, index: int) -> bytes:
        sealed = os.pread(self._fd, self._layout.sealed_length(index),
                          self._layout.offset(index))
        return open_chunk(self._key, self._file_id, self._layout, index, sealed)

    def check(self, sha256_hex: str) -> None:
        """Every chunk is in and the plaintext's SHA-256 is `sha256_hex`; else HashMismatch."""
        if not hmac.compare_digest(self._digest.hexdigest(), sha256_hex):
            raise HashMismatch()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class InOrderDigest:
    """SHA-256 of chunks that arrive in any order, from several threads: a chunk ahead
    of the next one is held (at most `hold` of them: memory stays bounded), past that it
    is dropped and read back (`reread`) when its turn comes."""

    def __init__(self, reread: Any, count: int, hold: int) -> None:
        self._reread, self._count, self._hold = reread, count, hold
        self._lock = threading.Lock()
        self._digest = hashlib.sha256()
        self._next = 0
        self._ahead: dict[int, bytes | None] = {}
        self._held = 0

    def add(self, index: int, plaintext: bytes | None) -> None:
        with self._lock:
            if index < self._next or index in self._ahead:
                return  # fetched twice (a retry after a lost answer): hashed once
            if plaintext is not None and self._held >= self._hold and index != self._next:
                plaintext = None
            self._held += plaintext is not None
            self._ahead[index] = plaintext
            while self._next in self._ahead:
                piece = self._ahead.pop(self._next)
                if piece is None:
                    piece = self._reread(self._next)
                else:
                    self._held -= 1
                self._digest.update(piece)
                self._next += 1

    def hexdigest(self) -> str:
        with self._lock:
            if self._next != self._count:
                raise ChunkInvalid(f"chunk {self._next} is missing")
            return self._digest.hexdigest()


def verified_chunks(path: str, key: bytes, file_id: str, layout: Layout) -> set[int]:
    """The chunks already in a partly downloaded file that verify (to resume)."""
    if not os.path.exists(path):
        return set()
    good = set()
    with open(path, "rb") as f:
        for index in range(layout.chunk_count):
            f.seek(layout.offset(index))
            try:
                open_chunk(key, file_id, layout, index, f.read(layout.sealed_length(index)))
            except ChunkInvalid:
                continue
            good.add(index)
    return good


def _plaintext(path: str, key: bytes, file_id: str, layout: Layout) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for index in range(layout.chunk_count):
            yield open_chunk(key, file_id, layout, index, f.read(layout.sealed_length(index)))


def check_file(path: str, key: bytes, file_id: str, layout: Layout, sha256_hex: str) -> None:
    """Every chunk verifies and the plaintext's SHA-256 is `sha256_hex`; else
    ChunkInvalid or HashMismatch."""
    digest = hashlib.sha256()
    for piece in _plaintext(path, key, file_id, layout):
        digest.update(piece)
    if not hmac.compare_digest(digest.hexdigest(), sha256_hex):
        raise HashMismatch()


def decrypt_file(path: str, key: bytes, file_id: str, layout: Layout, target: str,
                 exclusive: bool = False) -> None:
    """Write the plaintext to `target` (through a temporary file beside it, renamed at
    the end: nothing half-written is left under its name). `exclusive`: fail with
    FileExistsError rather than replace a file of that name."""
    temporary = f"{target}.part-{os.urandom(4).hex()}"
    try:
        with _private(temporary) as out:
            for piece in _plaintext(path, key, file_id, layout):
                out.write(piece)
        if exclusive:
            os.link(temporary, target)  # fails if the name was taken meanwhile
            os.unlink(temporary)
        else:
            os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


