"""securechat-cli as real subprocesses against a real relay, and the echo bot in-process."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from types import ModuleType
from typing import Any

from mnemonic import Mnemonic
from twisted.internet import defer, protocol, reactor
from twisted.internet.utils import getProcessOutputAndValue

from securechat.bot import SyncingClient, next_event, run_bot
from securechat.client import events as ev
from securechat.client.model import MessageStatus
from securechat.protocol.keys import user_id_for_email
from securechat.protocol.scram import DEFAULT_MEMORY_KIB as DEFAULT_MEMORY
from tests.clientsupport import FAST, EventLog
from tests.support import RelayTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALICE, BOB = "alice@example.org", "bob@example.org"
PASSWORDS = {ALICE: "alice-password-1", BOB: "bob-password-1"}


def load_example(name: str) -> ModuleType:
    path = os.path.join(ROOT, "examples", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class WatchedProcess(protocol.ProcessProtocol):
    """A long-running process whose output the test waits on."""

    def __init__(self) -> None:
        self.output = {1: b"", 2: b""}
        self.ended: defer.Deferred[Any] = defer.Deferred()
        self._waiters: list[tuple[int, bytes, defer.Deferred[None]]] = []

    def childDataReceived(self, fd: int, data: bytes) -> None:
        self.output[fd] = self.output.get(fd, b"") + data
        for waiter in list(self._waiters):
            fd_, text, d = waiter
            if text in self.output[fd_]:
                self._waiters.remove(waiter)
                d.callback(None)

    def processEnded(self, reason: Any) -> None:
        for _, text, d in self._waiters:
            d.errback(AssertionError(f"the process ended before printing {text!r}: "
                                     f"{self.output!r}"))
        self._waiters = []
        self.ended.callback(reason.value.exitCode)

    def printed(self, text: str, fd: int = 1) -> defer.Deferred[None]:
        if text.encode() in self.output[fd]:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._waiters.append((fd, text.encode(), d))
        return d


class CLITestCase(RelayTestCase):
    """Runs securechat-cli as subprocesses against the test's relay."""

    kdf_memory = "8192"  # KiB of Argon2id for new passwords: the relay's minimum, fast

    def setUp(self) -> Any:
        self.home = os.path.abspath(self.mktemp())
        return super().setUp()

    def env(self, email: str, password: str | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ, SECURECHAT_PASSWORD=password or PASSWORDS[email],
                   # The encrypted-file secret store, never the developer's keychain.
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", **extra)
        for name in ("SECURECHAT_DATA_DIR", "SECURECHAT_RECOVERY_PHRASE",
                     "SECURECHAT_NEW_PASSWORD"):
            if name not in extra:
                env.pop(name, None)
        return env

    def argv(self, device: str, command: str, email: str, *args: str,
             relay: str | None = None) -> list[str]:
        return ["-m", "securechat.cli", "--relay", relay or self.url,
                "--data-dir", os.path.join(self.home, device), "--kdf-memory", self.kdf_memory,
                "--timeout", "20", command, "--email", email, *args]

    @defer.inlineCallbacks
    def cli(self, device: str, command: str, email: str, *args: str, password: str | None = None,
            relay: str | None = None, status: int = 0, **env: str) -> Any:
        """Run one command to its end; returns (stdout, stderr) as text. `env`: more
        environment variables (SECURECHAT_RECOVERY_PHRASE=...)."""
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, self.argv(device, command, email, *args, relay=relay),
            env=self.env(email, password, **env))
        self.assertEqual(code, status, f"{command} {args}: exit {code}\n{out!r}\n{err!r}")
        return out.decode(), err.decode()

    def spawn(self, device: str, command: str, email: str, *args: str) -> WatchedProcess:
        process = WatchedProcess()
        transport = reactor.spawnProcess(
            process, sys.executable,
            [sys.executable, *self.argv(device, command, email, *args)], env=self.env(email))
        self.addCleanup(self._end, process, transport)
        return process

    def _end(self, process: WatchedProcess, transport: Any) -> Any:
        if not process.ended.called:
            transport.signalProcess("KILL")
        return process.ended

    def assertOneLineError(self, err: str, *fragments: str) -> None:
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("securechat-cli: error: "), err)
        for fragment in fragments:
            self.assertIn(fragment, err)



class CLITests(CLITestCase):
    # Accounts of the tests that sign in on a second device are made at the default cost:
    # the CLI never accepts cheaper password hashing at a sign-in (client.scram_pinning).
    def signing_in_elsewhere(self) -> None:
        self.kdf_memory = str(DEFAULT_MEMORY)

    @defer.inlineCallbacks
    def test_friends_messages_history_and_listen(self) -> Any:
        out, _ = yield self.cli("alice", "register", ALICE, "--name", "Alice")
        phrase = [line.strip() for line in out.splitlines() if line.startswith("    ")]
        self.assertEqual(len(phrase), 1)
        self.assertEqual(len(phrase[0].split()), 12)
        self.assertIn("WRITE THESE 12 WORDS DOWN", out)
        yield self.cli("bob", "register", BOB, "--name", "Bob")

        out, _ = yield self.cli("bob", "add-friend", BOB, "--friend", ALICE)
        self.assertEqual(out, f"Friend request sent to {ALICE}.\n")
        out, _ = yield self.cli("alice", "requests", ALICE)
        self.assertEqual(out, f"from {BOB} (Bob)\n")
        out, _ = yield self.cli("alice", "accept", ALICE, "--friend", BOB)
        self.assertEqual(out, f"You and {BOB} are now friends.\n")

        out, _ = yield self.cli("bob", "send", BOB, "--to", ALICE, "--text", "hello Alice")
        self.assertEqual(out, f"Sent to {ALICE}.\n")
        out, _ = yield self.cli("alice", "history", ALICE, "--with", BOB)
        self.assertEqual(len(out.splitlines()), 1)
        self.assertTrue(out.rstrip().endswith(f"  {BOB}: hello Alice"), out)
        out, _ = yield self.cli("bob", "history", BOB, "--with", ALICE, "--json")
        (mine,) = [json.loads(line) for line in out.splitlines()]
        self.assertEqual((mine["from"], mine["text"]), ("me", "hello Alice"))
        self.assertIn(mine["status"], ("sent", "delivered"))  # delivered: Alice has caught up

        # listen prints what arrives while it runs, until SIGTERM stops it cleanly.
        listener = self.spawn("alice", "listen", ALICE, "--json")
        yield listener.printed("listening for", fd=2)
        yield self.cli("bob", "send", BOB, "--to", ALICE, "--text", "are you there?")
        yield listener.printed("are you there?")
        assert listener.transport is not None
        listener.transport.signalProcess("TERM")
        code = yield listener.ended
        self.assertEqual(code, 0, listener.output)
        (live,) = [json.loads(line) for line in listener.output[1].decode().splitlines()]
        self.assertEqual((live["type"], live["from"], live["text"]),
                         ("message", BOB, "are you there?"))

    @defer.inlineCallbacks
    def test_devices_lists_linked_devices_and_remove_device_needs_the_password(self) -> Any:
        self.signing_in_elsewhere()
        phrase = yield self.register("alice", ALICE)
        yield self.cli("alice-phone", "login", ALICE, SECURECHAT_RECOVERY_PHRASE=phrase)
        out, _ = yield self.cli("alice", "devices", ALICE, "--json")
        devices = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(devices), 2)
        (this,) = [d for d in devices if d["this_device"]]
        (phone,) = [d for d in devices if not d["this_device"]]
        self.assertTrue(phone["new"])  # the laptop has not acknowledged it
        self.assertIsInstance(phone["added_at"], int)
        self.assertIsInstance(phone["last_seen"], int)  # it connected after signing in
        out, _ = yield self.cli("alice", "devices", ALICE)
        self.assertIn(f"{this['device_id']}  added ", out)
        self.assertIn("(this device)", out)
        self.assertIn("NEW: remove it with remove-device", out)
        _, err = yield self.cli("alice", "remove-device", ALICE, "--device", phone["device_id"],
                                password="not-the-password", status=1)
        self.assertOneLineError(err, "wrong password")
        out, _ = yield self.cli("alice", "remove-device", ALICE, "--device", phone["device_id"])
        self.assertEqual(out, f"Removed device {phone['device_id']} from {ALICE}.\n")
        out, _ = yield self.cli("alice", "devices", ALICE, "--json")
        self.assertEqual([json.loads(line)["device_id"] for line in out.splitlines()],
                         [this["device_id"]])
        _, err = yield self.cli("alice", "remove-device", ALICE, "--device", this["device_id"],
                                status=1)
        self.assertOneLineError(err, "the device you are using")

    @defer.inlineCallbacks
    def register(self, device: str, email: str, *options: str) -> Any:
        """Register; returns the recovery phrase it printed."""
        out, _ = yield self.cli(device, "register", email, *options)
        (phrase,) = [line.strip() for line in out.splitlines() if line.startswith("    ")]
        return phrase

    @defer.inlineCallbacks
    def test_user_errors_are_one_line_and_exit_1(self) -> Any:
        # At the default cost: a sign-in refuses cheaper password hashing (the next test).
        phrase = yield self.register("alice", ALICE, "--kdf-memory", str(DEFAULT_MEMORY))
        _, err = yield self.cli("alice", "history", ALICE, "--with", BOB,
                                password="not-the-password", status=1)
        self.assertOneLineError(err, "wrong password")
        _, err = yield self.cli("alice-phone", "login", ALICE, password="not-the-password",
                                status=1, SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertOneLineError(err, "wrong password")
        _, err = yield self.cli("alice", "add-friend", ALICE, "--friend", BOB, status=1)
        self.assertOneLineError(err, f"there is no account for {BOB}")
        _, err = yield self.cli("alice", "send", ALICE, "--to", BOB, "--text", "hi", status=1)
        self.assertOneLineError(err, f"{BOB} is not a contact of {ALICE}")
        _, err = yield self.cli("alice", "accept", ALICE, "--friend", BOB, status=1)
        self.assertOneLineError(err, "no pending friend request")
        _, err = yield self.cli("alice", "send", ALICE, "--to", BOB, "--text", "hi",
                                relay="ws://127.0.0.1:1", status=1)
        self.assertOneLineError(err, "could not reach the relay at ws://127.0.0.1:1")

    @defer.inlineCallbacks
    def test_sign_in_refuses_cheap_password_hashing(self) -> Any:
        phrase = yield self.register("alice", ALICE)  # at the tests' 8 MiB
        _, err = yield self.cli("alice-phone", "login", ALICE, status=1,
                                SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertOneLineError(err, "the relay asked for weaker password hashing",
                                "refusing to send a password proof")
        self.assertEqual(os.listdir(os.path.join(self.home, "alice-phone")), [])
        phrase = yield self.register("bob", BOB, "--kdf-memory", str(DEFAULT_MEMORY))
        out, _ = yield self.cli("bob-phone", "login", BOB, SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertIn(f"Signed in as {BOB} on this new device.", out)

    @defer.inlineCallbacks
    def test_a_new_password_needs_ten_characters(self) -> Any:
        _, err = yield self.cli("alice", "register", ALICE, password="nine-char", status=1)
        self.assertOneLineError(err, "at least 10 characters")
        self.assertFalse(os.path.exists(os.path.join(self.home, "alice")))
        yield self.cli("alice", "register", ALICE, password="ten-chars!")

    @defer.inlineCallbacks
    def test_ws_off_this_machine_needs_insecure_ws(self) -> Any:
        # 0.0.0.0 is not loopback, yet on Linux it reaches this machine's relay.
        elsewhere = self.url.replace("127.0.0.1", "0.0.0.0")
        _, err = yield self.cli("alice", "register", ALICE, relay=elsewhere, status=1)
        self.assertOneLineError(err, f"refusing to connect to {elsewhere} without encryption",
                                "--insecure-ws")
        self.assertFalse(os.path.exists(os.path.join(self.home, "alice")))
        out, _ = yield self.cli("alice", "register", ALICE, "--insecure-ws", relay=elsewhere)
        self.assertIn(f"Registered {ALICE} on this device.", out)
        out, _ = yield self.cli("alice", "requests", ALICE, "--insecure-ws", relay=elsewhere)
        self.assertEqual(out, "No pending friend requests.\n")


    @defer.inlineCallbacks
    def test_sign_in_with_the_recovery_phrase_from_the_environment(self) -> Any:
        self.signing_in_elsewhere()
        phrase = yield self.register("alice", ALICE)
        # no phrase and no terminal to type it on: a clear error naming the variable
        _, err = yield self.cli("alice-phone", "login", ALICE, status=1)
        self.assertOneLineError(err, "SECURECHAT_RECOVERY_PHRASE")
        words = phrase.split()
        _, err = yield self.cli("alice-phone", "login", ALICE, status=1,
                                SECURECHAT_RECOVERY_PHRASE=" ".join([*words[:11], "zzz"]))
        self.assertOneLineError(err, "word 12 ('zzz') is not a recovery-phrase word")
        _, err = yield self.cli("alice-phone", "login", ALICE, status=1,
                                SECURECHAT_RECOVERY_PHRASE=_another_phrase())
        self.assertOneLineError(err, "not the recovery phrase of this account")
        self.assertFalse(os.path.exists(os.path.join(self.home, "alice-phone",
                                                     user_id_for_email(ALICE))))
        out, _ = yield self.cli("alice-phone", "login", ALICE,
                                SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertEqual(out.splitlines()[0], f"Signed in as {ALICE} on this new device.")
        yield self.register("bob", BOB)
        yield self.cli("bob", "add-friend", BOB, "--friend", ALICE)
        yield self.cli("alice-phone", "accept", ALICE, "--friend", BOB)
        out, _ = yield self.cli("alice-phone", "send", ALICE, "--to", BOB, "--text", "hi")
        self.assertEqual(out, f"Sent to {BOB}.\n")

    @defer.inlineCallbacks
    def test_change_and_reset_the_password(self) -> Any:
        self.signing_in_elsewhere()
        phrase = yield self.register("alice", ALICE)
        new, newer = "alice-password-2", "alice-password-3"
        _, err = yield self.cli("alice", "change-password", ALICE, status=1)
        self.assertOneLineError(err, "SECURECHAT_NEW_PASSWORD")  # no terminal to type it
        out, _ = yield self.cli("alice", "change-password", ALICE,
                                SECURECHAT_NEW_PASSWORD=new)
        self.assertIn(f"Changed the master password of {ALICE}", out)
        _, err = yield self.cli("alice", "requests", ALICE, status=1)
        self.assertOneLineError(err, "wrong password")
        yield self.cli("alice", "requests", ALICE, password=new)
        _, err = yield self.cli("alice-phone", "login", ALICE, status=1,
                                SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertOneLineError(err, "wrong password")

        # forgot it: the phrase sets a new one, here and on the relay
        _, err = yield self.cli("alice", "reset-password", ALICE, status=1,
                                SECURECHAT_NEW_PASSWORD=newer,
                                SECURECHAT_RECOVERY_PHRASE=_another_phrase())
        self.assertOneLineError(err, "not the recovery phrase of this account")
        out, _ = yield self.cli("alice", "reset-password", ALICE, password="unused",
                                SECURECHAT_NEW_PASSWORD=newer,
                                SECURECHAT_RECOVERY_PHRASE=phrase)
        self.assertIn("The account on this device opens with the new password too.", out)
        _, err = yield self.cli("alice", "requests", ALICE, password=new, status=1)
        self.assertOneLineError(err, "wrong password")
        yield self.cli("alice", "requests", ALICE, password=newer)
        yield self.cli("alice-phone", "login", ALICE, password=newer,
                       SECURECHAT_RECOVERY_PHRASE=phrase)


def _another_phrase() -> str:
    return str(Mnemonic("english").generate(strength=128))


class EchoBotTests(RelayTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        self.home = os.path.abspath(self.mktemp())
        self.echo = load_example("echo_bot").echo
        self.running: list[SyncingClient] = []

    @defer.inlineCallbacks
    def tearDown(self) -> Any:
        for client in self.running:
            yield client.stop()
        yield super().tearDown()

    @defer.inlineCallbacks
    def start_bot(self) -> Any:
        bot = yield run_bot(reactor, os.path.join(self.home, "bot"), self.url,
                            "echo@example.org", "bot-password-1", self.echo, cost=FAST)
        self.running.append(bot)
        return bot

    @defer.inlineCallbacks
    def stop(self, client: SyncingClient) -> Any:
        self.running.remove(client)
        yield client.stop()

    @defer.inlineCallbacks
    def test_echo_bot_accepts_friends_and_echoes(self) -> Any:
        bot = yield self.start_bot()  # registers the account: it is new
        user, _ = yield SyncingClient.register(reactor, os.path.join(self.home, "user"),
                                               self.url, ALICE, PASSWORDS[ALICE], "Alice", FAST)
        self.running.append(user)
        log = EventLog(user)
        user.start()
        yield defer.gatherResults([bot.caught_up(), user.caught_up()])

        yield user.add_friend("echo@example.org")
        answer = yield log.wait_for(ev.FriendRequestAnswered)
        self.assertTrue(answer.accepted)
        yield user.send_text(bot.me.user_id, "hi")
        reply = yield log.wait_for(ev.MessageReceived, lambda e: e.message.text == "echo: hi")
        self.assertEqual(reply.peer_user_id, bot.me.user_id)

        # Stopped, the bot answers on its next run (opened from disk) what came meanwhile.
        yield self.stop(bot)
        sent = yield user.send_text(bot.me.user_id, "still there?")
        read = next_event(user, ev.MessageUpdated,
                          lambda e: e.message_id == sent.id and e.status == MessageStatus.READ)
        yield self.start_bot()
        yield log.wait_for(ev.MessageReceived, lambda e: e.message.text == "echo: still there?")
        yield read  # the bot marks what it answered read
