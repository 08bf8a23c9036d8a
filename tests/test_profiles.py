"""Profiles (client.profiles): a display name and avatar set on one device reach every
device of every contact and my own other devices; what a stranger, a contact about
someone else, or a bad picture tries is refused. Real clients on a real relay; the
avatar checks (client.avatars) also on their own, on crafted files."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from typing import Any

from PIL import Image
from twisted.internet import defer
from twisted.trial import unittest

import securechat.client.avatars as avatars
from securechat.client import InvalidAvatar, events
from securechat.protocol import frames
from securechat.protocol.frames import Frame
from tests.clientsupport import ClientTestCase

ev = events


def picture(width: int, height: int, fmt: str = "PNG", colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


def noisy_picture(width: int, height: int) -> bytes:
    """Random pixels: a PNG that does not compress."""
    import os
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size (a decompression bomb's header) with no pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


class AvatarCheckTests(unittest.TestCase):
    """client.avatars on crafted inputs: no network."""

    def test_a_large_picture_is_cropped_square_and_scaled_to_256(self) -> None:
        self.assertEqual(size_of(avatars.normalise(picture(1200, 700, "JPEG"))), (256, 256))
        self.assertEqual(size_of(avatars.normalise(picture(90, 40))), (40, 40))

    def test_a_noisy_picture_stays_under_the_byte_bound(self) -> None:
        data = avatars.normalise(noisy_picture(400, 400))
        self.assertLessEqual(len(data), avatars.MAX_BYTES)
        self.assertEqual(size_of(data), (256, 256))

    def test_what_is_not_a_picture_is_refused_saying_so(self) -> None:
        for bad, says in [
                (b"hello, not a picture", "not a picture"),
                (picture(64, 64)[:100], "cannot be read"),
                (png_header_only(100_000, 100_000), "too large to read"),
                (png_header_only(8000, 8000), "8000x8000 pixels, too large to read"),
                (b"x" * (avatars.MAX_SOURCE_BYTES + 1), "larger than 20 MiB")]:
            with self.assertRaises(InvalidAvatar) as raised:
                avatars.normalise(bad)
            self.assertIn(says, str(raised.exception))

    def test_a_received_avatar_must_be_small_png_or_jpeg(self) -> None:
        self.assertEqual(size_of(avatars.check(picture(256, 256, "JPEG"))), (256, 256))
        for bad, says in [
                (picture(300, 300), "300x300 pixels, more than 256x256"),
                (picture(64, 64, "GIF"), "not a picture (PNG or JPEG expected)"),
                (png_header_only(256, 256), "cannot be read"),
                (png_header_only(60_000, 1), "more than 256x256"),
                (b"\x89PNG" + b"\0" * avatars.MAX_BYTES, "more than 65536")]:
            with self.assertRaises(InvalidAvatar) as raised:
                avatars.check(bad)
            self.assertIn(says, str(raised.exception))

    def test_data_uris(self) -> None:
        data = picture(8, 8)
        self.assertEqual(avatars.from_uri(avatars.to_uri(data)), data)
        self.assertIsNone(avatars.from_uri(""))
        for bad in ("data:text/html;base64,PGI+", "data:image/png;base64,***",
                    "http://example.org/a.png"):
            self.assertRaises(InvalidAvatar, avatars.from_uri, bad)


class ProfileTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob(phone="phone")
        self.bob_id = self.bob.me.user_id

    @defer.inlineCallbacks
    def test_a_profile_change_reaches_both_devices_of_a_contact(self) -> Any:
        """Bob sets a name and avatar: Alice's laptop and phone both show them (their
        contact's name, "profile updated"); a second change moves only its part."""
        profile = yield self.bob.profiles.set(name="Bob Builder",
                                              avatar=picture(800, 600, "JPEG"))
        self.assertEqual((profile.name_version, profile.avatar_version), (1, 1))
        self.assertEqual(self.bob.me.public_name, "Bob Builder")
        for device in (self.alice, self.phone):
            yield self.log(device).wait_for(
                ev.ProfileUpdated, lambda e: e.user_id == self.bob_id and e.avatar_changed)
            self.assertEqual(device.contacts[self.bob_id].peer_name, "Bob Builder")
            self.assertEqual(device.profiles.avatar(self.bob_id), profile.avatar)
            self.assertEqual(size_of(device.profiles.avatar(self.bob_id)), (256, 256))
        mark = self.log(self.alice).mark()
        yield self.bob.profiles.set(name="Bob")
        updated = yield self.log(self.alice).wait_for(
            ev.ProfileUpdated, lambda e: e.user_id == self.bob_id, since=mark)
        self.assertEqual((updated.name, updated.name_changed, updated.avatar_changed),
                         ("Bob", True, False))
        self.assertEqual(self.alice.profiles.of(self.bob_id).name_version, 2)
        # Restarted, Alice still has them (stored, not only in memory).
        alice = yield self.reopen(self.alice, "alice")
        self.assertEqual(alice.profiles.of(self.bob_id).name, "Bob")
        self.assertEqual(alice.profiles.avatar(self.bob_id), profile.avatar)

    @defer.inlineCallbacks
    def test_my_profile_reaches_my_other_device_and_a_new_one(self) -> Any:
        """Set on the laptop: the phone gets it by MANIFEST; a device signed in later
        gets it with its history, and Bob's avatar too."""
        yield self.bob.profiles.set(avatar=picture(64, 64))
        yield self.log(self.alice).wait_for(ev.ProfileUpdated,
                                            lambda e: e.user_id == self.bob_id)
        mine = yield self.alice.profiles.set(name="Alice A.", avatar=picture(300, 300))
        me = self.alice.me.user_id
        yield self.log(self.phone).wait_for(
            ev.ProfileUpdated, lambda e: e.user_id == me and e.avatar_changed)
        self.assertEqual(self.phone.me.public_name, "Alice A.")
        self.assertEqual(self.phone.profiles.mine, mine)
        tablet = yield self.login("tablet", self.alice.me.email)
        yield self.online(tablet)
        yield self.log(tablet).wait_for(ev.ProfileUpdated, lambda e: e.user_id == me)
        yield self.log(tablet).wait_for(ev.ProfileUpdated, lambda e: e.user_id == self.bob_id)
        self.assertEqual(tablet.profiles.mine, mine)
        self.assertEqual(tablet.profiles.avatar(self.bob_id),
                         self.alice.profiles.avatar(self.bob_id))

    @defer.inlineCallbacks
    def test_a_bad_picture_of_mine_is_refused_and_changes_nothing(self) -> Any:
        before = self.alice.me
        with self.assertRaises(InvalidAvatar) as raised:
            yield self.alice.profiles.set(name="Never", avatar=b"GIF89a but not really")
        self.assertIn("not a picture", str(raised.exception))
        path = self.mktemp()
        with open(path, "wb") as f:
            f.truncate(avatars.MAX_SOURCE_BYTES + 1)
        with self.assertRaises(InvalidAvatar) as raised:
            yield self.alice.profiles.set(avatar_path=path)
        self.assertIn("larger than 20 MiB", str(raised.exception))
        self.assertEqual(self.alice.me, before)
        self.assertEqual(self.alice.profiles.mine.name_version, 0)

    @defer.inlineCallbacks
    def test_a_garbage_or_oversized_avatar_from_a_contact_is_refused(self) -> Any:
        """Bob's device sends PROFILE_DATA with bad avatars: each is refused with its
        reason, the good avatar stays, the name (a separate part) is taken."""
        good = yield self.bob.profiles.set(avatar=picture(32, 32))
        yield self.log(self.alice).wait_for(ev.ProfileUpdated,
                                            lambda e: e.user_id == self.bob_id)
        sid = self.alice.contacts[self.bob_id].sid
        for version, avatar in enumerate([uri(b"\0garbage" * 100), uri(picture(257, 100)),
                                          "data:image/png;base64,@@"], start=2):
            yield self.bob.outbox.queue(self.alice.me.user_id, Frame(
                frames.PROFILE_DATA, sid, {"name": f"Bob {version}", "avatar": avatar,
                                           "name_version": version,
                                           "avatar_version": version}), copy_to_own=False)
        for says in ("not a picture", "257x100 pixels, more than 256x256", "not valid base64"):
            refused = yield self.log(self.alice).wait_for(
                ev.AvatarRefused, lambda e, says=says: says in e.reason)
            self.assertEqual(refused.user_id, self.bob_id)
        yield self.wait_until(self.alice,
                              lambda: self.alice.contacts[self.bob_id].peer_name == "Bob 4")
        self.assertEqual(self.alice.profiles.avatar(self.bob_id), good.avatar)
        # Too large for the frame itself: refused before it is looked at.
        huge = "data:image/png;base64," + "A" * frames.MAX_AVATAR_URI
        with self.assertRaises(frames.InvalidFrame):
            frames.parse(Frame(frames.PROFILE_DATA, sid, {
                "name": "", "avatar": huge, "name_version": 9, "avatar_version": 9}).encode())

    @defer.inlineCallbacks
    def test_an_older_version_does_not_replace_a_newer_one(self) -> Any:
        yield self.bob.profiles.set(name="New")
        yield self.bob.profiles.set(name="Newer")
        yield self.wait_until(self.alice,
                              lambda: self.alice.contacts[self.bob_id].peer_name == "Newer")
        sid = self.alice.contacts[self.bob_id].sid
        yield self.bob.outbox.queue(self.alice.me.user_id, Frame(
            frames.PROFILE_DATA, sid, {"name": "Old", "avatar": "", "name_version": 1,
                                       "avatar_version": 0}), copy_to_own=False)
        yield self.bob.send_text(self.alice.me.user_id, "after")
        yield self.log(self.alice).wait_for(ev.MessageReceived,
                                            lambda e: e.message.text == "after")
        self.assertEqual(self.alice.contacts[self.bob_id].peer_name, "Newer")


class HostileProfileTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_a_strangers_profile_data_is_ignored(self) -> Any:
        """Carol, no contact of Alice's, sends PROFILE_DATA and PROFILE_VERSION: nothing
        is stored, asked or shown; her friend request after them arrives as usual."""
        yield self.alice_and_bob(friends=False)
        alice, carol = self.alice, self.bob
        mark = self.log(alice).mark()
        for frame in (Frame(frames.PROFILE_VERSION, "", {"name_version": 5,
                                                          "avatar_version": 5}),
                      Frame(frames.PROFILE_DATA, "", {"name": "Your bank",
                                                      "avatar": uri(picture(16, 16)),
                                                      "name_version": 5,
                                                      "avatar_version": 5})):
            yield carol.outbox.queue(alice.me.user_id, frame, copy_to_own=False)
        before = yield alice.outbox_entries()
        yield carol.add_friend(alice.me.email)
        yield self.log(alice).wait_for(ev.FriendRequestReceived, since=mark)
        self.assertEqual(self.log(alice).of(ev.ProfileUpdated), [])
        self.assertIsNone(alice.profiles.of(carol.me.user_id))
        self.assertEqual((yield alice.outbox_entries()) - before, set())  # no GET_PROFILE

    @defer.inlineCallbacks
    def test_a_contact_cannot_change_another_contacts_profile(self) -> Any:
        """Carol, Alice's contact too, sends PROFILE_DATA in Bob's conversation and in
        her own naming Bob: Bob's profile stays; only Carol's own can change."""
        yield self.alice_and_bob()
        alice, bob = self.alice, self.bob
        carol = yield self.register("carol", "carol@example.org")
        yield self.online(carol)
        yield self.befriend(carol, alice)
        yield bob.profiles.set(name="Bob")
        yield self.wait_until(alice, lambda: alice.contacts[bob.me.user_id].peer_name == "Bob")
        bob_sid = alice.contacts[bob.me.user_id].sid
        carol_sid = alice.contacts[carol.me.user_id].sid
        forged = {"name": "Bob (new number)", "avatar": uri(picture(16, 16)),
                  "name_version": 99, "avatar_version": 99, "user_id": bob.me.user_id}
        for sid in (bob_sid, carol_sid):
            yield carol.outbox.queue(alice.me.user_id, Frame(frames.PROFILE_DATA, sid, forged),
                                     copy_to_own=False)
        updated = yield self.log(alice).wait_for(
            ev.ProfileUpdated, lambda e: e.name == "Bob (new number)")
        self.assertEqual(updated.user_id, carol.me.user_id)
        self.assertEqual(alice.contacts[bob.me.user_id].peer_name, "Bob")
        self.assertEqual(alice.profiles.of(bob.me.user_id).name_version, 1)
        self.assertIsNone(alice.profiles.avatar(bob.me.user_id))
        self.assertEqual(alice.contacts[carol.me.user_id].peer_name, "Bob (new number)")
