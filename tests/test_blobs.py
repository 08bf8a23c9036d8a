"""The relay's blob store over raw WAMP sessions: every serializer carries chunks as
bytes, and each argument and each owner check refuses clearly."""

from __future__ import annotations

import os
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from securechat.protocol import uris
from tests.support import RelayTestCase


class BlobTestCase(RelayTestCase):
    @defer.inlineCallbacks
    def refused(self, d: defer.Deferred[Any], uri: str, says: str = "") -> Any:
        with self.assertRaises(ApplicationError) as caught:
            yield d
        self.assertEqual(caught.exception.error, uri)
        self.assertIn(says, caught.exception.error_message())


class BlobStoreTests(BlobTestCase):
    @defer.inlineCallbacks
    def test_chunks_are_bytes_with_every_serializer(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice)
        bob = yield self.account("bob@example.org")
        phone = yield self.device(bob)
        token, chunks = os.urandom(32), [os.urandom(1000), os.urandom(1000), os.urandom(10)]
        uploader, _ = yield self.online(laptop, "json")
        created = yield uploader.call(uris.BLOB_CREATE, 2010, 1000, 3, [phone.device_id], token)
        blob_id = created["blob_id"]
        for index in (2, 0):  # any order
            yield uploader.call(uris.BLOB_PUT, blob_id, index, chunks[index])
        status = yield uploader.call(uris.BLOB_STATUS, blob_id)
        self.assertEqual((status["missing"], status["finished"]), ([1], False))
        yield self.refused(uploader.call(uris.BLOB_FINISH, blob_id), uris.ERR_BLOB_INCOMPLETE,
                           "1 chunks are missing")
        yield uploader.call(uris.BLOB_PUT, blob_id, 1, chunks[1])
        yield uploader.call(uris.BLOB_FINISH, blob_id)
        for serializer in ("msgpack", "cbor", "json"):
            reader, _ = yield self.online(phone, serializer)
            got = yield defer.gatherResults(
                [reader.call(uris.BLOB_GET, blob_id, token, i) for i in range(3)])
            self.assertEqual(got, chunks, serializer)
            reader.leave()

    @defer.inlineCallbacks
    def test_bad_arguments_and_other_accounts_are_refused(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice)
        session, _ = yield self.online(laptop)
        token = os.urandom(32)
        for args, says in (((10, 4, 2, [], token), "chunk_count must be size / chunk_size"),
                           ((10, 5, 2, [], b"short"), "token must be 32 bytes"),
                           ((10, 5, 2, ["../x"], token), "readers[] is not well formed"),
                           ((0, 5, 1, [], token), "size must be an integer")):
            yield self.refused(session.call(uris.BLOB_CREATE, *args), uris.ERR_INVALID_ARGUMENT,
                               says)
        yield self.refused(session.call(uris.BLOB_CREATE, 3 * 1024 ** 3, 512 * 1024, 6144, [],
                                        token), uris.ERR_FILE_TOO_LARGE, "at most")
        blob_id = (yield session.call(uris.BLOB_CREATE, 10, 5, 2, [], token))["blob_id"]
        yield self.refused(session.call(uris.BLOB_PUT, blob_id, 0, "AAAAAAA="),
                           uris.ERR_INVALID_ARGUMENT, "data must be bytes")
        yield self.refused(session.call(uris.BLOB_PUT, blob_id, 1, b"123456"),
                           uris.ERR_INVALID_ARGUMENT, "chunk 1 must be 5 bytes")
        # Unfinished: nobody reads it, not even its owner.
        yield self.refused(session.call(uris.BLOB_GET, blob_id, token, 0), uris.ERR_NO_SUCH_BLOB)
        yield self.refused(session.call(uris.BLOB_GET, "../../etc/passwd", token, 0),
                           uris.ERR_NO_SUCH_BLOB)
        yield session.call(uris.BLOB_DELETE, blob_id)
        yield self.refused(session.call(uris.BLOB_STATUS, blob_id), uris.ERR_NO_SUCH_BLOB)


class LaterDeviceTests(BlobTestCase):
    """Devices linked after a file was sent (or restored from a backup) read it with the
    token if their account is party to the blob; a stranger's never, token or not."""

    @defer.inlineCallbacks
    def test_a_later_device_of_an_account_party_to_the_blob_reads_it(self) -> Any:
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice)
        bob = yield self.account("bob@example.org")
        phone = yield self.device(bob)
        carol = yield self.account("carol@example.org")
        stranger = yield self.device(carol)
        token, chunk = os.urandom(32), os.urandom(100)
        uploader, _ = yield self.online(laptop)
        blob_id = (yield uploader.call(uris.BLOB_CREATE, 100, 100, 1, [phone.device_id],
                                       token))["blob_id"]
        yield uploader.call(uris.BLOB_PUT, blob_id, 0, chunk)
        yield uploader.call(uris.BLOB_FINISH, blob_id)
        tablet = yield self.device(bob)  # Bob links a tablet a day later
        desktop = yield self.device(alice)  # and Alice a desktop
        late, _ = yield self.online(tablet)
        mine, _ = yield self.online(desktop)
        outsider, _ = yield self.online(stranger)
        # A device of an account party to the blob reads it with the token (a device
        # restored from a backup, say); a stranger's does not, token or not.
        self.assertEqual((yield late.call(uris.BLOB_GET, blob_id, token, 0)), chunk)
        self.assertEqual((yield mine.call(uris.BLOB_GET, blob_id, token, 0)), chunk)
        yield self.refused(outsider.call(uris.BLOB_GET, blob_id, token, 0),
                           uris.ERR_NO_SUCH_BLOB)
        # Nor does a later device without the token.
        yield self.refused(late.call(uris.BLOB_GET, blob_id, os.urandom(32), 0),
                           uris.ERR_NO_SUCH_BLOB)

    @defer.inlineCallbacks
    def test_the_account_stays_party_when_its_only_reader_is_removed(self) -> Any:
        """Bob loses his phone, the only reader named, and removes it: his account is
        still party to the file, so his new (restored) device reads it."""
        alice = yield self.account("alice@example.org")
        laptop = yield self.device(alice)
        bob = yield self.account("bob@example.org")
        phone = yield self.device(bob)
        token = os.urandom(32)
        uploader, _ = yield self.online(laptop)
        blob_id = (yield uploader.call(uris.BLOB_CREATE, 10, 10, 1, [phone.device_id],
                                       token))["blob_id"]
        yield uploader.call(uris.BLOB_PUT, blob_id, 0, b"0123456789")
        yield uploader.call(uris.BLOB_FINISH, blob_id)
        session, _ = yield self.online(phone)
        with self.assertRaises(ApplicationError):  # its session ends with it
            yield session.call(uris.DEVICE_REMOVE, phone.device_id)
        restored = yield self.device(bob)
        session, _ = yield self.online(restored)
        self.assertEqual((yield session.call(uris.BLOB_GET, blob_id, token, 0)),
                         b"0123456789")
