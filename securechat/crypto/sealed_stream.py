"""Files of any size sealed under a key, read and written in bounded memory.

A sealed blob (crypto.sealing) is one AES-GCM message: opening it needs all of it in
memory, and a vault file of gigabytes would need gigabytes. A sealed stream is a
sequence of AES-256-GCM chunks instead:

    header = magic (4) ‖ chunk size (4, big-endian) ‖ nonce prefix (7, random)
    chunk i = AES-256-GCM(key, nonce = prefix ‖ i (4, big-endian) ‖ last (1: 0 or 1),
                          plaintext[i * size : (i + 1) * size],
                          associated data = header ‖ context) ‖ tag (16)

Every chunk but the last holds exactly `chunk size` bytes of plaintext; the last holds
0 to `chunk size` and has `last` = 1, so a stream cut after any chunk, chunks swapped,
dropped or repeated, or bytes added after the last one do not open (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár). The header and the caller's
context (whose file, which item) are bound to every chunk. The nonce prefix is random
per stream and the key is the vault's: 2^56 prefixes, far more than files anyone seals.

`open_stream` writes plaintext as each chunk authenticates: a caller must write it
somewhere private and throw it away if `open_stream` raises (client.vault exports into
a temporary file renamed into place only at the end).
"""

from __future__ import annotations

import os
import struct
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from securechat.crypto.sealing import KEY_SIZE, TAG_SIZE, UnknownFormat, WrongKey

CHUNK = 1 << 20  # plaintext bytes per chunk
MAX_CHUNK = 16 << 20  # the largest chunk size a header may ask for (memory bound)
PREFIX_SIZE = 7
_HEADER = struct.Struct(">4sI7s")  # magic, chunk size, nonce prefix
MAX_CHUNKS = 2**32


class SealedStream:
    """One kind of sealed stream, named by its 4-byte magic (one per use)."""

    def __init__(self, magic: bytes, chunk: int = CHUNK) -> None:
        if len(magic) != 4 or not 0 < chunk <= MAX_CHUNK:
            raise ValueError("a magic is 4 bytes, and a chunk 1 byte to 16 MiB")
        self.magic = magic
        self.chunk = chunk

    def is_kind(self, head: bytes) -> bool:
        return head.startswith(self.magic)

    def sealed_size(self, size: int) -> int:
        """The size of the sealed stream of `size` bytes of plaintext."""
        return _HEADER.size + size + max(1, -(-size // self.chunk)) * TAG_SIZE

    def seal(self, src: IO[bytes], dst: IO[bytes], key: bytes, context: bytes) -> int:
        """Read `src` to its end, write the sealed stream to `dst`; returns the
        plaintext size. Blocking: call from a thread."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"a sealing key is {KEY_SIZE} bytes")
        header = _HEADER.pack(self.magic, self.chunk, os.urandom(PREFIX_SIZE))
        aead, associated = AESGCM(key), header + context
        dst.write(header)
        buffer = bytearray(self.chunk)
        index = total = 0
        pending = _read_full(src, memoryview(buffer))
        while True:
            # Read one chunk ahead: the last chunk is the one after which nothing comes.
            following = bytearray(self.chunk)
            got = _read_full(src, memoryview(following)) if pending == self.chunk else 0
            last = got == 0
            dst.write(aead.encrypt(_nonce(header, index, last), bytes(buffer[:pending]),
                                   associated))
            total += pending
            if last:
                return total
            index += 1
            if index >= MAX_CHUNKS:
                raise ValueError("too large to seal as one stream")
            buffer, pending = following, got

    def open(self, src: IO[bytes], dst: IO[bytes], key: bytes, context: bytes) -> int:
        """Check and decrypt the stream read from `src` chunk by chunk into `dst`;
        returns the plaintext size. Raises UnknownFormat (not a stream of this kind,
        cut short, or longer than its last chunk) or WrongKey (a chunk does not
        authenticate: another key or context, or changed). Blocking: call from a thread."""
        header = src.read(_HEADER.size)
        if len(header) != _HEADER.size or not self.is_kind(header):
            raise UnknownFormat("it is not of this kind")
        _, chunk, _ = _HEADER.unpack(header)
        if not 0 < chunk <= MAX_CHUNK:
            raise UnknownFormat("its chunk size is out of bounds")
        aead, associated = AESGCM(key), header + context
        index = total = 0
        sealed = chunk + TAG_SIZE
        current = src.read(sealed)
        while True:
            if len(current) < TAG_SIZE:
                raise UnknownFormat("it is cut short")
            following = src.read(sealed) if len(current) == sealed else b""
            last = not following
            try:
                plaintext = aead.decrypt(_nonce(header, index, last), current, associated)
            except InvalidTag:
                raise WrongKey("a chunk does not open with this key (or it was changed, "
                               "cut or reordered)") from None
            dst.write(plaintext)
            total += len(plaintext)
            if last:
                return total
            index += 1
            current = following


def _nonce(header: bytes, index: int, last: bool) -> bytes:
    return header[-PREFIX_SIZE:] + struct.pack(">IB", index, int(last))


def _read_full(src: IO[bytes], view: memoryview) -> int:
    done = 0
    while done < len(view):
        got = src.readinto(view[done:])  # type: ignore[attr-defined]
        if not got:
            break
        done += got
    return done
