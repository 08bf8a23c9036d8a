"""securechat-cli assistant as real subprocesses: real llama.cpp on the tiny test models,
and (replies, summary) a real relay and real accounts."""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.internet import defer
from twisted.internet.utils import getProcessOutputAndValue

from tests import tinyllama
from tests.test_cli import ALICE, BOB, CLITestCase


class AssistantCLI(CLITestCase):
    @defer.inlineCallbacks
    def assistant(self, device: str, model: str, action: str, *args: str,
                  email: str = ALICE, status: int = 0, options: tuple[str, ...] = ()) -> Any:
        """`options`: of `assistant` itself (before the action)."""
        path = tinyllama.model(model) if model in tinyllama.SCRIPTS else model
        argv = ["-m", "securechat.cli", "assistant", "--model", path, "--threads", "1",
                *options, action, *args, "--relay", self.url, "--data-dir",
                os.path.join(self.home, device), "--timeout", "20"]
        out, err, code = yield getProcessOutputAndValue(sys.executable, argv,
                                                        env=self.env(email))
        self.assertEqual(code, status, f"{action} {args}: exit {code}\n{out!r}\n{err!r}")
        return out.decode(), err.decode()

    @defer.inlineCallbacks
    def test_compose_needs_no_account_and_prints_the_text(self) -> Any:
        out, err = yield self.assistant("nobody", "alphabet", "compose", "--text", "hi there")
        self.assertEqual((out, err), ("abcdefghijklmnopqrstuvwxyz\n", ""))

    @defer.inlineCallbacks
    def test_errors_are_one_line_and_exit_1(self) -> Any:
        corrupt = tinyllama.corrupt_model(os.path.abspath(self.mktemp()) + ".gguf")
        _, err = yield self.assistant("nobody", corrupt, "compose", "--text", "x", status=1)
        self.assertOneLineError(err, "device unsupported: llama.cpp cannot load")
        _, err = yield self.assistant("nobody", "/no/such.gguf", "compose", "--text", "x",
                                      status=1)
        self.assertOneLineError(err, "the model file /no/such.gguf does not exist")
        _, err = yield self.assistant("nobody", "alphabet", "compose", "--text", " ", status=1)
        self.assertOneLineError(err, "there is no draft to polish")
        out, err = yield self.assistant("nobody", "endless", "compose", "--text", "x",
                                        options=("--max-seconds", "0.05"), status=1)
        self.assertOneLineError(err, "the assistant took longer than 0.05 s and was stopped")
        self.assertTrue(("0123456789" * 4000).startswith(out.strip()))  # what came, streamed

    @defer.inlineCallbacks
    def test_replies_and_summary_of_a_chat(self) -> Any:
        yield self.cli("alice", "register", ALICE, "--name", "Alice")
        yield self.cli("bob", "register", BOB, "--name", "Bob")
        yield self.cli("bob", "add-friend", BOB, "--friend", ALICE)
        yield self.cli("alice", "accept", ALICE, "--friend", BOB)
        yield self.cli("bob", "send", BOB, "--to", ALICE, "--text", "lunch tomorrow?")

        out, _ = yield self.assistant("alice", "replies", "replies", "--email", ALICE,
                                      "--with", BOB)
        self.assertEqual(out, "positive: Sounds good!\nnegative: Can't, sorry.\n"
                              "question: What time?\n")
        out, _ = yield self.assistant("alice", "bullets", "summary", "--email", ALICE,
                                      "--with", BOB, "--unread")
        self.assertEqual(out, "- Bob asked for the report\n- Alice sends it on Friday\n")
        _, err = yield self.assistant("alice", "replies", "replies", "--email", ALICE,
                                      "--with", "carol@example.org", status=1)
        self.assertOneLineError(err, f"carol@example.org is not a contact of {ALICE}")
