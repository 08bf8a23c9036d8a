"""The window's account lifecycle (securechat/ui/session.py) walked without Qt.

The machine's edges are the window it shows through and the clients it closes: here a
view that writes down what it was told and clients whose `stop()` the test finishes, so
that every state can be reached and held. tests/test_ui.py drives the same machine
through the real window against a real relay.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui.session import AccountSession


class FakeClient:
    """What the machine uses of a client: `stop()`."""

    def __init__(self) -> None:
        self.stopping: defer.Deferred[None] | None = None

    def stop(self) -> defer.Deferred[None]:
        assert self.stopping is None, "stopped twice"
        self.stopping = defer.Deferred()
        return self.stopping


class RecordingView:
    """A ShellView that notes each call; `hide_account` waits for the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.hiding: list[defer.Deferred[None]] = []

    def __getattr__(self, name: str) -> Any:
        def note(*args: Any) -> None:
            self.calls.append((name, args))
        return note

    def hide_account(self) -> defer.Deferred[None]:
        self.calls.append(("hide_account", ()))
        self.hiding.append(defer.Deferred())
        return self.hiding[-1]

    def said(self) -> list[str]:
        return [name for name, _ in self.calls]


class AccountSessionTests(unittest.TestCase):
    def setUp(self) -> None:
        self.view = RecordingView()
        self.session = AccountSession(self.view)  # type: ignore[arg-type]
        self.started: list[str] = []

    def request(self, name: str) -> Any:
        return lambda: self.started.append(name)

    def open_one(self) -> FakeClient:
        client = FakeClient()
        self.session.unlock(self.request("unlock"))
        self.session.opened(client, "alice@example.org")
        return client

    def test_an_unlock_asked_again_while_unlocking_is_not_started(self) -> None:
        self.session.unlock(self.request("first"))
        self.session.unlock(self.request("double click"))
        self.session.unlock(self.request("Enter"))
        self.assertEqual(self.started, ["first"])
        self.session.done()  # a wrong password: the lock screen is ready again
        self.session.unlock(self.request("again"))
        self.assertEqual(self.started, ["first", "again"])
        self.assertEqual(self.view.said(), ["show_unlocking", "unlock_ended", "show_unlocking"])

    def test_locking_closes_and_unlocking_waits_until_it_is_closed(self) -> None:
        client = self.open_one()
        self.assertIs(self.session.client, client)
        locked = self.session.close_account()
        self.assertIsNone(self.session.client)
        self.assertEqual(self.view.said()[-1], "hide_account")
        self.view.hiding[-1].callback(None)  # the last read receipt went
        self.assertEqual(self.view.said()[-1], "show_closing")
        assert client.stopping is not None
        self.session.unlock(self.request("too early"))  # still closing
        self.assertEqual(self.started, ["unlock"])
        self.assertNoResult(locked)
        client.stopping.callback(None)
        self.successResultOf(locked)
        self.assertEqual(self.view.calls[-2:], [("show_lock", ("alice@example.org",)),
                                                ("account_closed", ())])
        self.session.unlock(self.request("now"))
        self.assertEqual(self.started, ["unlock", "now"])

    def test_a_failing_stop_still_ends_in_the_lock_screen(self) -> None:
        client = self.open_one()
        locked = self.session.close_account()
        self.view.hiding[-1].errback(RuntimeError("the relay went away"))
        assert client.stopping is not None
        client.stopping.errback(RuntimeError("the database was busy"))
        self.successResultOf(locked)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)
        self.assertIn("show_lock", self.view.said())

    def test_onboarding_runs_one_request_at_a_time(self) -> None:
        self.session.add_account()
        self.session.submit(self.request("register"))
        self.session.submit(self.request("register again"))
        self.session.to_lock()  # Back, while it runs: stays
        self.assertEqual(self.started, ["register"])
        self.assertEqual(self.view.said(), ["show_onboarding", "show_working"])
        client = FakeClient()
        self.session.registered(client, "bob@example.org")
        self.assertIsNone(self.session.client)  # not open until the phrase is confirmed
        self.session.submit(self.request("a form behind the phrase"))
        self.assertEqual(self.started, ["register"])
        self.session.confirmed()
        self.assertIs(self.session.client, client)
        self.assertEqual(self.view.calls[-1], ("show_account", (client, "bob@example.org")))

    def test_quitting_while_unlocking_closes_the_account_once_it_opened(self) -> None:
        self.session.unlock(self.request("unlock"))
        stopped = self.session.shut_down()
        self.assertNoResult(stopped)
        client = FakeClient()
        self.session.opened(client, "alice@example.org")
        self.assertNotIn("show_account", self.view.said())  # never shown
        assert client.stopping is not None
        self.assertNoResult(stopped)
        client.stopping.callback(None)
        self.successResultOf(stopped)

    def test_quitting_while_confirming_closes_the_new_account(self) -> None:
        self.session.add_account()
        self.session.submit(self.request("register"))
        client = FakeClient()
        self.session.registered(client, "bob@example.org")
        stopped = self.session.shut_down()
        self.assertEqual(self.view.said()[-1], "cancel_onboarding")  # the phrase goes
        assert client.stopping is not None
        client.stopping.callback(None)
        self.successResultOf(stopped)
        self.session.confirmed()  # too late: nothing opens
        self.assertNotIn("show_account", self.view.said())

    def test_quitting_while_signing_in_withdraws_it_and_waits_for_it(self) -> None:
        self.session.add_account()
        self.session.submit(self.request("link this device"))
        stopped = self.session.shut_down()
        self.assertEqual(self.view.said()[-1], "cancel_onboarding")
        self.assertNoResult(stopped)
        self.session.done()  # the link was cancelled
        self.successResultOf(stopped)

    def test_quitting_with_nothing_open_is_done_at_once(self) -> None:
        self.successResultOf(self.session.shut_down())
        self.successResultOf(self.session.shut_down())
        self.successResultOf(self.session.close_account())

    def test_what_the_user_can_ask_is_answered_in_every_state(self) -> None:
        """A page's button or key may reach the machine in any state; no state may
        refuse it with an exception (in a Qt slot that would end the program)."""
        def reach(steps: list[str]) -> AccountSession:
            session = AccountSession(RecordingView())  # type: ignore[arg-type]
            for step in steps:
                if step in ("unlock", "submit"):
                    getattr(session, step)(lambda: None)
                elif step in ("opened", "registered"):
                    getattr(session, step)(FakeClient(), "alice@example.org")
                else:
                    getattr(session, step)()
            return session

        states = {"locked": [], "unlocking": ["unlock"], "open": ["unlock", "opened"],
                  "closing": ["unlock", "opened", "lock"], "onboarding": ["add_account"],
                  "working": ["add_account", "submit"],
                  "confirming": ["add_account", "submit", "registered"],
                  "quitting": ["unlock", "quit"], "stopped": ["quit"]}
        asks = {"unlock": (lambda: None,), "submit": (lambda: None,), "add_account": (),
                "forgot_password": ("alice@example.org",), "to_lock": (), "confirmed": (),
                "lock": (), "quit": ()}
        refused = []
        for state, steps in states.items():
            for ask, args in asks.items():
                try:
                    getattr(reach(steps), ask)(*args)
                except Exception as e:
                    refused.append(f"{ask} in {state}: {type(e).__name__}")
        self.assertEqual(refused, [])
