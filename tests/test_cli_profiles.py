"""securechat-cli's `profile` command, and `login` on a new device bringing the history:
the real CLI as subprocesses, against a real relay (Bob, who sees Alice's profile, is
an in-process client)."""

from __future__ import annotations

import io
import os
from typing import Any

from PIL import Image
from twisted.internet import defer, reactor

from securechat.client import SecureChatClient
from securechat.client import events as ev
from securechat.protocol.keys import user_id_for_email
from securechat.protocol.scram import DEFAULT_MEMORY_KIB as DEFAULT_MEMORY
from tests.clientsupport import FAST, EventLog
from tests.test_cli import ALICE, BOB, PASSWORDS, CLITestCase


class ProfileCommandTests(CLITestCase):
    @defer.inlineCallbacks
    def test_profile_sets_name_and_avatar_and_bob_sees_them(self) -> Any:
        yield self.cli("alice", "register", ALICE, "--name", "Alice")
        bob, _ = yield SecureChatClient.register(reactor, os.path.join(self.home, "bob"),
                                                 self.url, BOB, PASSWORDS[BOB], "Bob", FAST)
        self.addCleanup(bob.stop)
        log = EventLog(bob)
        bob.start()
        yield bob.caught_up()
        yield self.cli("alice", "add-friend", ALICE, "--friend", BOB)
        yield log.wait_for(ev.FriendRequestReceived)
        yield bob.accept_friend(user_id_for_email(ALICE))
        yield self.cli("alice", "requests", ALICE)  # Alice's device learns the friendship

        picture = os.path.join(self.home, "me.jpg")
        Image.new("RGB", (640, 480), "orange").save(picture, "JPEG")
        out, _ = yield self.cli("alice", "profile", ALICE, "--name", "Alice Liddell",
                                "--avatar", picture)
        self.assertTrue(out.startswith(f"Profile of {ALICE}: name 'Alice Liddell' (version 1)"
                                       ", avatar of "), out)
        # Bob asks for it when told (PROFILE_VERSION); a device of Alice's online answers.
        laptop = self.spawn("alice", "listen", ALICE)
        yield laptop.printed("listening for", fd=2)
        updated = yield log.wait_for(ev.ProfileUpdated, lambda e: e.avatar_changed)
        self.assertEqual(updated.name, "Alice Liddell")
        alice_id = user_id_for_email(ALICE)
        self.assertEqual(bob.contacts[alice_id].peer_name, "Alice Liddell")
        avatar = Image.open(io.BytesIO(bob.profiles.avatar(alice_id)))
        self.assertEqual(avatar.size, (256, 256))

        assert laptop.transport is not None
        laptop.transport.signalProcess("TERM")
        yield laptop.ended

        # Bad input: one line, exit 1, nothing changed.
        text = os.path.join(self.home, "notes.txt")
        with open(text, "w") as f:
            f.write("not a picture")
        for args, says in [
                (("--name", "X", "--avatar", text), "not a picture"),
                (("--name", "X", "--avatar", os.path.join(self.home, "missing.png")),
                 "cannot read the picture: No such file or directory"),
                (("--name", "x" * 65), "a display name can have at most 64 characters")]:
            _, err = yield self.cli("alice", "profile", ALICE, *args, status=1)
            self.assertOneLineError(err, says)
        _, err = yield self.cli("alice", "profile", ALICE, status=2)
        self.assertIn("the following arguments are required: --name", err)
        out, _ = yield self.cli("alice", "profile", ALICE, "--name", "Alice Liddell")
        self.assertIn("(version 1)", out)  # the same name: no new version


class LoginHistoryTests(CLITestCase):
    @defer.inlineCallbacks
    def test_login_on_a_new_device_brings_the_history(self) -> Any:
        """Alice's laptop is online (listen); she signs in on a phone with the CLI: the
        phone has the conversation with Bob from before the login."""
        self.kdf_memory = str(DEFAULT_MEMORY)  # a sign-in refuses cheaper hashing
        out, _ = yield self.cli("alice", "register", ALICE)
        (phrase,) = [line.strip() for line in out.splitlines() if line.startswith("    ")]
        yield self.cli("bob", "register", BOB)
        yield self.cli("bob", "add-friend", BOB, "--friend", ALICE)
        yield self.cli("alice", "accept", ALICE, "--friend", BOB)
        yield self.cli("bob", "send", BOB, "--to", ALICE, "--text", "written before the login")
        yield self.cli("alice", "send", ALICE, "--to", BOB, "--text", "and my answer")
        laptop = self.spawn("alice", "listen", ALICE)
        yield laptop.printed("listening for", fd=2)

        out, err = yield self.cli("alice-phone", "login", ALICE,
                                  SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertIn("Received the history from your other devices: 2 messages.", out, err)
        out, _ = yield self.cli("alice-phone", "history", ALICE, "--with", BOB)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].endswith(f"{BOB}: written before the login"), out)
        self.assertIn("me: and my answer", lines[1])
        _, err = yield self.cli("alice-phone", "add-friend", ALICE, "--friend", BOB, status=1)
        self.assertOneLineError(err, "already a contact")
