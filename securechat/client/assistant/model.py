"""The model file: where it comes from, downloading it (resumable), checking it.

    download.start() --> free-disk check --> GET (Range: bytes=N- when a part is there)
        --> 206: append / 200: start over / 416: the part is whole
        --> body to <file>.part, progress(done, total) --> SHA-256 (in a thread)
        --> renamed to <file>  (or ChecksumMismatch: the part is deleted)
    cancel(): the transfer stops, the part stays for a later resume (DownloadCancelled)
    a dropped connection or a server error: DownloadFailed(retry=True), the part stays

Downloading is the only thing the assistant does on the network, and it sends nothing
but the request for the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer, protocol, threads
from twisted.logger import Logger
from twisted.web.client import Agent, RedirectAgent, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH

from securechat.client.assistant.errors import (
    BadChecksum,
    ChecksumMismatch,
    DownloadCancelled,
    DownloadFailed,
    NotEnoughDisk,
    UnverifiedModel,
)

DISK_MARGIN = 64 * 1024 * 1024  # left free after the download, for everything else
HASH_BLOCK = 1024 * 1024

Progress = Callable[[int, "int | None"], None]  # (bytes on disk, total bytes or None)


@attrs.frozen
class ModelSource:
    """A GGUF chat model to download: any URL; `sha256` (hex) is checked when given,
    and a download without it needs the user's explicit yes (UnverifiedModel)."""
    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None  # bytes, when known before asking: checked against free disk


# The spec's model: Qwen3.5 0.8B, Q4_K_M. Any GGUF chat model works (settings: URL, file).
# No SHA-256 is known for it here (none was published with the spec), so downloading it
# asks the user for the checksum or for an explicit "download unverified" (UnverifiedModel).
DEFAULT_MODEL = ModelSource(
    url="https://huggingface.co/unsloth/Qwen3.5-0.8B-GGUF/resolve/main/Qwen3.5-0.8B-Q4_K_M.gguf",
    filename="Qwen3.5-0.8B-Q4_K_M.gguf", size=560_000_000)


def sha256_of(path: str) -> str:
    """In a thread: hashing hundreds of MB takes seconds."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class _Body(protocol.Protocol):
    """Writes the response body to the part file as it comes."""

    def __init__(self, file: Any, on_data: Callable[[int], None],
                 finished: defer.Deferred[None]) -> None:
        self.file, self.on_data, self.finished = file, on_data, finished

    def dataReceived(self, data: bytes) -> None:
        self.file.write(data)  # network-sized chunks: short writes to the page cache
        self.on_data(len(data))

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        if reason.check(ResponseDone, PotentialDataLoss):
            self.finished.callback(None)
        else:
            self.finished.errback(reason)


class ModelDownload:
    """One download of `source` into `directory` (see the module docstring)."""

    log = Logger()

    def __init__(self, reactor: Any, source: ModelSource, directory: str,
                 progress: Progress | None = None, agent: Any = None,
                 free_space: Callable[[str], int] | None = None,
                 allow_unverified: bool = False) -> None:
        self.reactor = reactor
        self.allow_unverified = allow_unverified  # the user said yes to no SHA-256
        self.source = source
        self.directory = directory
        self.path = os.path.join(directory, source.filename)
        self.part = self.path + ".part"
        self.progress = progress or (lambda done, total: None)
        self._agent = agent or RedirectAgent(Agent(reactor))
        self._free_space = free_space or (lambda d: shutil.disk_usage(d).free)
        self._cancelled = False
        self._pending: defer.Deferred[Any] | None = None
        self._transport: Any = None
        self.resumed_from = 0  # bytes already there when this download started

    def cancel(self) -> None:
        """Stop; the part stays, to resume."""
        self._cancelled = True
        if self._transport is not None:
            self._transport.stopProducing()
        elif self._pending is not None and not self._pending.called:
            self._pending.cancel()

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Deferred[str]: the path of the verified model file."""
        if not re.fullmatch(r"[\w.\-]+\.gguf", self.source.filename):
            raise DownloadFailed(f"{self.source.filename!r} is not a plain .gguf file name",
                                 retry=False)
        if self.source.sha256 is None:
            if not self.allow_unverified:
                raise UnverifiedModel(_host(self.source.url))
        elif not re.fullmatch(r"[0-9a-fA-F]{64}", self.source.sha256):
            raise BadChecksum()
        os.makedirs(self.directory, exist_ok=True)
        have = os.path.getsize(self.part) if os.path.exists(self.part) else 0
        self.resumed_from = have
        if self.source.size is not None:
            self._check_disk(self.source.size - have)
        headers = Headers({b"User-Agent": [b"SecureChat"]})
        if have:
            headers.addRawHeader(b"Range", f"bytes={have}-".encode())
        try:
            self._pending = self._agent.request(b"GET", self.source.url.encode(), headers)
            response = yield self._pending
        except defer.CancelledError:
            raise DownloadCancelled("the download was cancelled") from None
        except Exception as e:
            raise DownloadFailed(f"could not reach {_host(self.source.url)} ({e})") from None
        total = yield self._receive(response, have)
        self.progress(os.path.getsize(self.part), total)
        yield self._verify()
        return self.path

    @defer.inlineCallbacks
    def _receive(self, response: Any, have: int) -> Any:
        if response.code == 416 and have:  # nothing after what we have: the part is whole
            yield _discard(response)
            return have
        if response.code == 206 and have:
            total = _content_range_total(response, have)
        elif response.code == 200:
            have, total = 0, (None if response.length is UNKNOWN_LENGTH else response.length)
        else:
            yield _discard(response)
            raise DownloadFailed(f"the server answered {response.code} "
                                 f"{response.phrase.decode('latin-1', 'replace')}")
        remaining = (None if response.length is UNKNOWN_LENGTH else response.length)
        if remaining is not None:
            try:
                self._check_disk(remaining)
            except NotEnoughDisk:
                yield _discard(response)
                raise
        done = [have]
        # A server that sends no length (or more than it said) may not fill the disk.
        budget = have + self._free_space(self.directory) - DISK_MARGIN
        overflow: list[NotEnoughDisk] = []
        bodies: list[_Body] = []

        def on_data(n: int) -> None:
            done[0] += n
            self.progress(done[0], total)
            if done[0] > budget and not overflow:
                overflow.append(NotEnoughDisk(done[0] - have, budget - have))
                bodies[0].transport.stopProducing()

        finished: defer.Deferred[None] = defer.Deferred()
        with open(self.part, "ab" if have else "wb") as file:
            body = _Body(file, on_data, finished)
            bodies.append(body)
            response.deliverBody(body)
            self._transport = body.transport
            try:
                yield finished
            except Exception as e:
                if overflow:
                    raise overflow[0] from None
                if self._cancelled:
                    raise DownloadCancelled("the download was cancelled; what came is kept "
                                            "to resume") from None
                raise DownloadFailed(f"the connection dropped after {done[0] / 1e6:.1f} MB "
                                     f"({_why(e)})") from None
            finally:
                self._transport = None
        if self._cancelled:
            raise DownloadCancelled("the download was cancelled; what came is kept to resume")
        if total is not None and done[0] != total:
            raise DownloadFailed(f"the download stopped at {done[0]} of {total} bytes")
        return total

    @defer.inlineCallbacks
    def _verify(self) -> Any:
        if self.source.sha256:
            digest = yield threads.deferToThread(sha256_of, self.part)
            if not hmac.compare_digest(digest, self.source.sha256.lower()):
                os.remove(self.part)
                raise ChecksumMismatch()
        os.replace(self.part, self.path)

    def _check_disk(self, needed: int) -> None:
        free = self._free_space(self.directory)
        if needed + DISK_MARGIN > free:
            raise NotEnoughDisk(needed, free)


def _discard(response: Any) -> defer.Deferred[None]:
    """Drop a response's body (and the connection with it)."""
    finished: defer.Deferred[None] = defer.Deferred()

    class Drop(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.stopProducing()

        def connectionLost(self, reason: Any = None) -> None:
            finished.callback(None)
    response.deliverBody(Drop())
    return finished


def _content_range_total(response: Any, have: int) -> int | None:
    """The whole file's size from a 206 answer, which must start where the part ends."""
    values = response.headers.getRawHeaders(b"content-range") or [b""]
    match = re.fullmatch(rb"bytes (\d+)-\d+/(\d+|\*)", values[0].strip())
    if match is None or int(match[1]) != have:
        raise DownloadFailed("the server's partial answer does not continue the part "
                             "(Content-Range)")
    return None if match[2] == b"*" else int(match[2])


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _why(failure_or_error: Any) -> str:
    reasons = getattr(failure_or_error, "reasons", None)
    if reasons:
        return "; ".join(str(r.value) for r in reasons if str(r.value)) or "connection lost"
    return str(failure_or_error) or type(failure_or_error).__name__
