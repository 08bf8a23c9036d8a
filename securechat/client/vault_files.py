"""The contents of the vault's file items, sealed at rest, in bounded memory.

A file item's content is a sealed stream (crypto.sealed_stream, magic `SCV3`): AES-256-GCM
chunks of 1 MiB, each bound to its index, to whether it is the last, and to the
account, item id and type, so importing or exporting a file of gigabytes holds one
chunk in memory. Files imported before that format (`SCV2`: one AES-GCM message,
crypto.sealing's key-sealed layout) are still read, also as a stream: decrypted as
read, the tag checked at the end, so the caller writes the plaintext somewhere
private and throws it away if this raises. Blocking: call from a thread.
"""

from __future__ import annotations

import os
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from securechat.crypto.sealed_stream import CHUNK, SealedStream
from securechat.crypto.sealing import NONCE_SIZE, TAG_SIZE, KeySealing, UnknownFormat, WrongKey

STREAM = SealedStream(b"SCV3")
OLD = KeySealing(b"SCV2")  # written until the streamed format; read only


def seal(src: IO[bytes], out: IO[bytes], key: bytes, context: bytes) -> int:
    """`src` to its end, sealed into `out`; returns the plaintext size."""
    return STREAM.seal(src, out, key, context)


def open_sealed(src: IO[bytes], out: IO[bytes], key: bytes, context: bytes) -> None:
    """The content sealed in `src` (a file: seekable), decrypted into `out`. Raises
    SealingError (UnknownFormat, WrongKey): damaged, or another key or item."""
    head = src.read(len(STREAM.magic))
    src.seek(0)
    if STREAM.is_kind(head):
        STREAM.open(src, out, key, context)
    elif OLD.is_kind(head):
        _open_old(src, out, key, context)
    else:
        raise UnknownFormat("it is not a vault file")


def _open_old(src: IO[bytes], out: IO[bytes], key: bytes, context: bytes) -> None:
    """An `SCV2` blob (header ‖ ciphertext ‖ tag, associated data header ‖ context)
    decrypted as a stream: what crypto.sealing's `open` does, without holding it."""
    header = src.read(OLD.header_size)
    size = os.fstat(src.fileno()).st_size - len(header) - TAG_SIZE
    if len(header) != OLD.header_size or size < 0:
        raise UnknownFormat("it is too short")
    src.seek(len(header) + size)
    tag = src.read(TAG_SIZE)
    src.seek(len(header))
    decryptor = Cipher(algorithms.AES(key), modes.GCM(header[-NONCE_SIZE:], tag)).decryptor()
    decryptor.authenticate_additional_data(header + context)
    left = size
    while left:
        chunk = src.read(min(CHUNK, left))
        if not chunk:
            raise UnknownFormat("it is too short")
        out.write(decryptor.update(chunk))
        left -= len(chunk)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise WrongKey("the key does not open it") from None
