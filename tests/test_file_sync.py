"""Shared files on devices linked after they were sent (client.file_sync): the file
comes in the history as a reference and downloads on demand, the blob store lets the
new device read it (its account is party to the blob), a contact's missed file comes by
peer MANIFEST, and strangers get nothing. Real clients on a real relay and its blob store."""

from __future__ import annotations

import base64
from typing import Any

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.trial import unittest

import securechat.client.storage.media as media_db
from securechat.client import MediaStatus, events
from securechat.protocol import frames, uris
from securechat.protocol.frames import Frame, InvalidFrame
from tests.hostile import HostileRelay
from tests.test_files import CHUNK, FileTestCase

ev = events


class LaterDevicesTests(FileTestCase):
    @defer.inlineCallbacks
    def test_a_phone_linked_a_day_later_opens_the_files_sent_before(self) -> Any:
        """Alice's laptop has a file Bob sent her and one she sent him. Her phone, linked
        later, sees both in its history with a download button, and downloads them byte
        for byte; the file keys and tokens reached it only inside Olm."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        received_path, received = self.write_file("scan.pdf", 2 * CHUNK + 777)
        sent_path, sent = self.write_file("photo.png", CHUNK + 5)
        from_bob = yield bob.files.send(alice.me.user_id, received_path, text="the scan")
        yield self.transferred(alice, from_bob.id)
        from_alice = yield alice.files.send(bob.me.user_id, sent_path)
        yield self.transferred(bob, from_alice.id)
        rows = []
        for m in (from_bob, from_alice):
            rows.append((yield alice.store.run(media_db.get, m.id)))
        sends = HostileRelay(self.relay).capture(uris.MESSAGE_SEND)

        phone = yield self.login("phone", alice.me.email)
        yield self.online(phone)
        yield self.log(phone).wait_for(ev.HistoryProgress, lambda e: e.done)

        offered = {e.item.message_id: e.item for e in self.log(phone).of(ev.FileOffered)}
        self.assertEqual(set(offered), {from_bob.id, from_alice.id})
        for message_id, direction, name, caption in (
                (from_bob.id, "in", "scan.pdf", "the scan"),
                (from_alice.id, "out", "photo.png", None)):
            item = (yield phone.files.item(message_id))
            self.assertEqual((item.direction, item.original_name, item.caption, item.status),
                             (direction, name, caption, MediaStatus.PENDING))  # on demand
        shown = {m.id: m for m in (yield phone.messages(bob.me.user_id))}
        self.assertEqual(shown[from_bob.id].text, from_bob.text)

        for message, content in ((from_bob, received), (from_alice, sent)):
            done = yield phone.files.download(message.id)
            self.assertEqual(done.status, MediaStatus.DONE)
            self.assertEqual((yield self.saved(phone, message.id)), content)
        # What the relay saw of the history: no key, no token, in any form.
        seen = repr([args for _caller, args, _kw in sends]).encode()
        self.assertTrue(sends)
        for row in rows:
            for secret in (row.key, row.token):
                for form in (secret, base64.b64encode(secret), secret.hex().encode()):
                    self.assertNotIn(form, seen)

    @defer.inlineCallbacks
    def test_the_peers_tablet_linked_later_reads_what_the_sender_sent(self) -> Any:
        """Bob links a tablet while his laptop is off. The relay lets it read the file
        Alice sent Bob before (Bob's account is party to it), with no help from Alice's
        devices; when Bob's laptop is back, its history brings the file to the tablet,
        which downloads it."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        path, content = self.write_file("minutes.txt", CHUNK + 99)
        message = yield alice.files.send(bob.me.user_id, path)
        yield self.transferred(bob, message.id)
        row = yield alice.store.run(media_db.get, message.id)
        yield bob.stop()

        yield alice.stop()
        tablet = yield self.login("tablet", bob.me.email)
        yield self.online(tablet)
        chunk = yield tablet.connection.session.call(uris.BLOB_GET, row.blob_id, row.token, 0)
        self.assertEqual(len(chunk), CHUNK + 28)

        bob = yield self.reopen(bob, "bob")
        yield self.online(bob)
        yield self.log(tablet).wait_for(ev.HistoryProgress, lambda e: e.done)
        item = yield tablet.files.item(message.id)
        self.assertEqual((item.direction, item.status), ("in", MediaStatus.PENDING))
        yield tablet.files.download(message.id)
        self.assertEqual((yield self.saved(tablet, message.id)), content)

    @defer.inlineCallbacks
    def test_my_new_phone_reads_what_i_received(self) -> Any:
        """The phone, linked after Bob sent Alice a file, gets it in the history and
        downloads it (Alice's account is party to the blob); a stranger who learnt the
        blob id and token reads nothing."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        path, _ = self.write_file("contract.odt", 1000)
        message = yield bob.files.send(alice.me.user_id, path)
        yield self.transferred(alice, message.id)
        row = yield alice.store.run(media_db.get, message.id)

        phone = yield self.login("phone", alice.me.email)
        yield self.online(phone)
        yield self.log(phone).wait_for(ev.HistoryProgress, lambda e: e.done)
        yield phone.files.download(message.id)
        self.assertEqual((yield phone.files.item(message.id)).status, MediaStatus.DONE)

        with self.assertRaises(ApplicationError) as refused:
            yield carol.connection.session.call(uris.BLOB_GET, row.blob_id, row.token, 0)
        self.assertEqual(refused.exception.error, uris.ERR_NO_SUCH_BLOB)


class PeerManifestFileTests(FileTestCase):
    @defer.inlineCallbacks
    def test_a_file_lost_by_the_relay_comes_by_peer_manifest_and_downloads(self) -> Any:
        """Bob sends a file while Alice is away and the relay loses her mailbox: when she
        comes back, Bob's device pushes the missed message with its file, and Alice's
        device fetches it by itself, as if its FILE_INFO had come."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        yield alice.stop()
        path, content = self.write_file("while-away.jpg", CHUNK + 3)
        message = yield bob.files.send(alice.me.user_id, path)
        yield bob.files.wait(message.id)
        yield bob.flush_outbox()
        alice = yield self.reopen(alice, "alice")  # not started yet
        yield self.relay_loses_mail(bob)  # all of it (expired, say); the blob stays
        yield self.online(alice)

        done = yield self.transferred(alice, message.id)
        self.assertEqual((done.item.original_name, done.item.direction),
                         ("while-away.jpg", "in"))
        self.assertEqual((yield self.saved(alice, message.id)), content)
        (shown,) = yield alice.messages(bob.me.user_id)
        self.assertEqual((shown.id, shown.type), (message.id, "image"))


class OwnPushFileTests(FileTestCase):
    @defer.inlineCallbacks
    def test_a_file_my_phone_missed_comes_in_my_laptops_push(self) -> Any:
        """Bob sends Alice a file while her phone is off, and the relay loses the phone's
        mailbox. The laptop's next MANIFEST carries the file message with its FILE_INFO:
        the phone shows it, offered for download (not fetched by itself), and gets it."""
        yield self.alice_and_bob(phone="phone")
        alice, bob, phone = self.alice, self.bob, self.phone
        yield phone.stop()
        path, content = self.write_file("invoice.pdf", 1500)
        message = yield bob.files.send(alice.me.user_id, path)
        yield self.transferred(alice, message.id)
        phone = yield self.reopen(phone, "phone")  # not started yet
        yield self.relay_loses_mail(alice, phone.me.device_id)  # alice catches up, pushes
        yield alice.account_sync.settled()
        yield alice.flush_outbox()

        yield self.online(phone)
        offered = yield self.log(phone).wait_for(
            ev.FileOffered, lambda e: e.item.message_id == message.id)
        self.assertEqual((offered.item.direction, offered.item.status),
                         ("in", MediaStatus.PENDING))
        yield phone.files.download(message.id)
        self.assertEqual((yield self.saved(phone, message.id)), content)


class ForgedFileTests(FileTestCase):
    @defer.inlineCallbacks
    def test_a_contact_cannot_swap_or_attach_files_to_my_messages(self) -> Any:
        """Bob's MANIFEST names files for Alice's own messages (a text, and a file she
        sent him, with another blob and key): nothing of hers changes. A file Bob wrote
        himself is taken, as his FILE_INFO would be."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        sid = alice.contacts[bob.me.user_id].sid
        text = yield alice.send_text(bob.me.user_id, "just text")
        path, _ = self.write_file("mine.txt", 100)
        mine = yield alice.files.send(bob.me.user_id, path)
        yield self.transferred(bob, mine.id)
        before = yield alice.store.run(media_db.get, mine.id)
        theirs = yield bob.store.run(media_db.get, mine.id)  # a real blob, Bob may read
        file = {"name": "swapped.exe", "size": 100, "type": "application/octet-stream",
                "thumbnail": "", "blobId": theirs.blob_id, "chunkSize": theirs.chunk_size,
                "chunkCount": 1, "key": base64.b64encode(b"k" * 32).decode(),
                "token": base64.b64encode(theirs.token).decode(), "sha256": "0" * 64}
        entry = {"sid": sid, "sender": "me", "type": "file", "timestamp": 5, "status": 1,
                 "is_read": False, "reply_to": None, "file": file}
        forged = {"messages": [dict(entry, id=text.id, text="{}"),
                               dict(entry, id=mine.id, text=mine.text),
                               dict(entry, id="bobs-own-file", text='{"filename": "b"}')]}
        yield bob.outbox.queue(alice.me.user_id, Frame(frames.MANIFEST, sid, forged),
                               copy_to_own=False)
        offered = yield self.log(alice).wait_for(ev.FileOffered)
        self.assertEqual((offered.item.message_id, offered.item.direction),
                         ("bobs-own-file", "in"))
        self.assertEqual((yield alice.store.run(media_db.get, mine.id)), before)
        self.assertIsNone((yield alice.store.run(media_db.get, text.id)))
        shown = {m.id: m for m in (yield alice.messages(bob.me.user_id))}
        self.assertEqual((shown[text.id].text, shown[mine.id].text), ("just text", mine.text))


class ManifestFileFrameTests(unittest.TestCase):
    def test_a_malformed_file_in_a_manifest_is_refused(self) -> None:
        entry = {"id": "m1", "sid": "s", "sender": "me", "text": "{}", "type": "file",
                 "timestamp": 1, "status": 1, "is_read": True, "reply_to": None}
        good = {"name": "a.txt", "size": 10, "type": "text/plain", "thumbnail": "",
                "blobId": "0" * 32, "chunkSize": 8, "chunkCount": 2,
                "key": base64.b64encode(b"k" * 32).decode(),
                "token": base64.b64encode(b"t" * 32).decode(), "sha256": "0" * 64}
        frames.parse(Frame(frames.MANIFEST, "", {"messages": [dict(entry, file=good)]})
                     .encode())
        for bad, says in (({**entry, "id": "../../x"}, "messageId is not well formed"),
                          ({**entry, "file": {**good, "chunkCount": 5}}, "chunkCount"),
                          ({**entry, "file": {**good, "key": "short"}}, "file.key"),
                          ({**entry, "file": {**good, "extra": 1}}, "not a file's"),
                          ({**entry, "file": {**good, "size": "10"}}, "wrong type")):
            data = {"messages": [bad if "file" in bad else dict(bad, file=good)]}
            with self.assertRaises(InvalidFrame) as refused:
                frames.parse(Frame(frames.MANIFEST, "", data).encode())
            self.assertIn(says, str(refused.exception))
