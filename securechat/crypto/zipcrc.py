"""A faster CRC-32 for `zipfile`, which the backup's gigabytes of media go through.

A zip stores each member's CRC-32 (a reader of our backups, `zipfile` among them,
checks it), and `zipfile` computes it with zlib's `crc32`: 2-5 GB/s here, more time
than the AES-GCM encryption of the same bytes (11 GB/s with AES-NI), so that it alone
put a backup at 1.3-1.6x the raw encryption (bench/bench_backup.py). zlib-ng's
`crc32` (PCLMULQDQ) gives the same values some ten times faster.

`zipfile` looks its `crc32` up as a module global at each call; `use_fast_crc()`
points it at zlib-ng's: a function of the same signature and the same results, so
every other user of `zipfile` in the process only gets faster. Without zlib-ng
installed, nothing changes.
"""

from __future__ import annotations

import zipfile
import zlib
from typing import Any


def use_fast_crc() -> bool:
    """Whether zipfile now uses zlib-ng's CRC-32 (checked against zlib's first)."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return False
    sample = b"securechat zip crc check"
    if zlib_ng.crc32(sample, 12345) != zlib.crc32(sample, 12345):
        return False
    zipfile.crc32 = zlib_ng.crc32  # type: ignore[attr-defined]
    return True


def crc32(data: Any, value: int = 0) -> int:
    """The CRC-32 `zipfile` uses (zlib-ng's once `use_fast_crc()` ran, else zlib's)."""
    return zipfile.crc32(data, value)  # type: ignore[attr-defined,no-any-return]
