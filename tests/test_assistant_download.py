"""Downloading the assistant's model from a real HTTP server on loopback (twisted.web):
progress, resume with Range after a dropped connection, the SHA-256 check, the
free-disk check, cancel; then the downloaded model generates."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web import resource, server, static

from securechat.client import (
    Assistant,
    AssistantSettings,
    DownloadCancelled,
    DownloadFailed,
    NotEnoughDisk,
    UnverifiedModel,
)
from securechat.client.assistant import DEFAULT_MODEL, BadChecksum, ChecksumMismatch
from securechat.client.assistant.model import DISK_MARGIN
from tests import tinyllama


class ModelServer(resource.Resource):
    """Serves one model file at /<mode>/model.gguf. Modes: "ok" (static.File, with
    Range), "drop" (the first answer stops halfway: the connection closes), "stall" (the
    first answer stops halfway and hangs), "huge" (claims a petabyte), "nolength" (no
    Content-Length), "missing" (404)."""

    isLeaf = True

    def __init__(self, path: str) -> None:
        super().__init__()
        self.file = static.File(path)
        with open(path, "rb") as f:
            self.data = f.read()
        self.requests: list[tuple[str, str | None]] = []  # (mode, Range header)

    def render_GET(self, request: Any) -> Any:
        mode = request.postpath[0].decode()
        self.requests.append((mode, request.getHeader("range")))
        first = len([m for m, _ in self.requests if m == mode]) == 1
        if mode == "missing":
            request.setResponseCode(404)
            return b"no such model"
        if mode == "huge":
            request.setHeader("content-length", str(10**15))
            request.write(b"GGUF")
            return server.NOT_DONE_YET
        if mode == "nolength":  # chunked: the client cannot know the size in advance
            for start in range(0, len(self.data), 65536):
                request.write(self.data[start:start + 65536])
            request.finish()
            return server.NOT_DONE_YET
        if mode in ("drop", "stall") and first:
            request.setHeader("content-length", str(len(self.data)))
            request.write(self.data[:len(self.data) // 2])
            if mode == "drop":
                transport = request.channel.transport
                transport.unregisterProducer()  # else the close waits for the request
                transport.loseConnection()
            return server.NOT_DONE_YET
        return self.file.render_GET(request)


class Download(unittest.TestCase):
    def setUp(self) -> None:
        self.model = tinyllama.model("alphabet")
        with open(self.model, "rb") as f:
            self.size = len(f.read())
        self.sha256 = hashlib.sha256(open(self.model, "rb").read()).hexdigest()
        self.server = ModelServer(self.model)
        port = reactor.listenTCP(0, server.Site(self.server), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.base = f"http://127.0.0.1:{port.getHost().port}"
        self.data = os.path.abspath(self.mktemp())
        self.progress: list[tuple[int, int | None]] = []

    def assistant(self, mode: str, sha256: str | None = None) -> Assistant:
        settings = AssistantSettings(model_url=f"{self.base}/{mode}/model.gguf",
                                     model_sha256=sha256 or self.sha256, threads=1)
        assistant = Assistant(reactor, self.data, settings)
        self.addCleanup(assistant.close)
        return assistant

    def download(self, assistant: Assistant) -> defer.Deferred[str]:
        return assistant.download_model(lambda done, total: self.progress.append((done, total)))

    @property
    def part(self) -> str:
        return os.path.join(self.data, "models", "model.gguf.part")

    @defer.inlineCallbacks
    def test_downloaded_verified_and_used(self) -> Any:
        assistant = self.assistant("ok")
        path = yield self.download(assistant)
        self.assertEqual(path, os.path.join(self.data, "models", "model.gguf"))
        self.assertEqual(assistant.settings.model_path, path)
        self.assertEqual(self.progress[-1], (self.size, self.size))
        self.assertEqual([done for done, _ in self.progress],
                         sorted(done for done, _ in self.progress))
        self.assertFalse(os.path.exists(self.part))
        self.assertEqual((yield assistant.compose("hello").done), "abcdefghijklmnopqrstuvwxyz")
        # Saved on this device: a new Assistant finds the model.
        self.assertEqual(Assistant(reactor, self.data).settings.model_path, path)

    @defer.inlineCallbacks
    def test_a_dropped_download_resumes_where_it_stopped(self) -> Any:
        assistant = self.assistant("drop")
        error = yield self.assertFailure(self.download(assistant), DownloadFailed)
        self.assertTrue(error.retry)
        self.assertIn("retry to resume the download", str(error))
        half = self.size // 2
        self.assertEqual(os.path.getsize(self.part), half)
        self.assertIsNone(assistant.settings.model_path)

        path = yield self.download(assistant)  # the user's "Retry"
        self.assertEqual(self.server.requests, [("drop", None), ("drop", f"bytes={half}-")])
        self.assertEqual(hashlib.sha256(open(path, "rb").read()).hexdigest(), self.sha256)
        self.assertEqual(self.progress[-1], (self.size, self.size))

    @defer.inlineCallbacks
    def test_a_wrong_checksum_is_refused_and_the_file_deleted(self) -> Any:
        assistant = self.assistant("ok", sha256="0" * 64)
        error = yield self.assertFailure(self.download(assistant), ChecksumMismatch)
        self.assertIn("does not match its SHA-256", str(error))
        self.assertEqual(os.listdir(os.path.join(self.data, "models")), [])
        self.assertIsNone(assistant.settings.model_path)

    @defer.inlineCallbacks
    def test_not_enough_disk_is_found_before_downloading(self) -> Any:
        assistant = self.assistant("huge")
        error = yield self.assertFailure(self.download(assistant), NotEnoughDisk)
        self.assertFalse(error.retry)
        self.assertIn("not enough disk space: the model needs 1000000000.0 MB", str(error))
        self.assertFalse(os.path.exists(self.part) and os.path.getsize(self.part))

    @defer.inlineCallbacks
    def test_a_download_of_unknown_size_stops_before_the_disk_is_full(self) -> Any:
        # A disk with 100 kB to spare past the margin: the 0.5 MB model does not fit.
        assistant = self.assistant("nolength")
        d = assistant.download_model(free_space=lambda _: DISK_MARGIN + 100_000)
        error = yield self.assertFailure(d, NotEnoughDisk)
        self.assertIn("not enough disk space", str(error))
        self.assertLess(os.path.getsize(self.part), 100_000 + 65536)
        path = yield self.download(assistant)  # with room: the same server, no length
        self.assertEqual(os.path.getsize(path), self.size)

    @defer.inlineCallbacks
    def test_cancel_keeps_what_came_for_later(self) -> Any:
        assistant = self.assistant("stall")
        half = self.size // 2

        def progress(done: int, total: int | None) -> None:
            if done == half:
                assistant.cancel_download()
        d = assistant.download_model(progress)
        yield self.assertFailure(d, DownloadCancelled)
        self.assertEqual(os.path.getsize(self.part), half)
        path = yield self.download(assistant)
        self.assertEqual(self.server.requests[-1], ("stall", f"bytes={half}-"))
        self.assertEqual(os.path.getsize(path), self.size)

    @defer.inlineCallbacks
    def test_a_server_error(self) -> Any:
        error = yield self.assertFailure(self.download(self.assistant("missing")),
                                         DownloadFailed)
        self.assertIn("download failed: the server answered 404", str(error))


class UnverifiedDownload(unittest.TestCase):
    """A model without a SHA-256 checksum is never downloaded without the user's yes."""

    setUp = Download.setUp
    download = Download.download

    def unverified(self, sha256: str | None = None) -> Assistant:
        settings = AssistantSettings(model_url=f"{self.base}/ok/model.gguf",
                                     model_sha256=sha256, threads=1)
        assistant = Assistant(reactor, self.data, settings)
        self.addCleanup(assistant.close)
        return assistant

    @defer.inlineCallbacks
    def test_no_checksum_is_refused_before_anything_is_fetched(self) -> Any:
        assistant = self.unverified()
        error = yield self.assertFailure(self.download(assistant), UnverifiedModel)
        self.assertIn("has no SHA-256 checksum", str(error))
        self.assertEqual(self.server.requests, [])
        self.assertIsNone(assistant.settings.model_path)
        self.assertIsNone(assistant.download)  # a download may start again

    @defer.inlineCallbacks
    def test_the_default_model_is_unverified_until_a_checksum_is_given(self) -> Any:
        self.assertIsNone(DEFAULT_MODEL.sha256)
        assistant = Assistant(reactor, self.data)
        self.addCleanup(assistant.close)
        yield self.assertFailure(assistant.download_model(), UnverifiedModel)

    @defer.inlineCallbacks
    def test_the_user_may_say_yes_to_an_unverified_download(self) -> Any:
        assistant = self.unverified()
        path = yield assistant.download_model(allow_unverified=True)
        self.assertEqual(os.path.getsize(path), self.size)
        self.assertEqual(assistant.settings.model_path, path)

    @defer.inlineCallbacks
    def test_a_checksum_that_is_not_64_hex_digits_is_a_clear_error(self) -> Any:
        for bad in ("abc", "é" * 64, "g" * 64):
            assistant = self.unverified(sha256=bad)
            error = yield self.assertFailure(self.download(assistant), BadChecksum)
            self.assertEqual(str(error), "a SHA-256 checksum is 64 hexadecimal digits "
                                         "(0-9, a-f)")
        self.assertEqual(self.server.requests, [])
