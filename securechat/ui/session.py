"""The window's account lifecycle: which account is open, and what may start now.

    locked --unlock--> unlocking --opened--> open --lock--> closing --closed--> locked
                           \\--done--> locked    (a wrong password: the lock screen says why)
    locked --add_account / forgot_password--> onboarding --to_lock--> locked
    onboarding --submit--> working --done--> onboarding  (a step ended: a code was mailed, a
                              |                           password reset, or it failed)
                              |--opened--> open           (signed in: with the phrase, or
                              |                            approved by another device)
                              \\--registered--> confirming --confirmed--> open
                                                (the recovery phrase is shown once, then asked)
    quit: open, closing, unlocking, working, confirming --> quitting --closed/done--> stopped
          locked, onboarding --> stopped

A page asks for a request (`unlock`, `submit`) by handing over a callable that starts
it; the machine calls it only if it may start now. Enter pressed again while unlocking,
or Register clicked twice, finds the machine `unlocking` or `working`, where asking
does nothing. The request reports how it ended, once: `opened`, `registered` or
`done` (those three arrive only from a request the machine started).

Quitting closes whatever is open, and waits for what is opening to open and closes
that too, so that no database is left open and no half-made account behind.

An Automat state machine, wired as securechat/client/connection.py is: the states and
transitions are all here (the table at the bottom); the window (`ShellView`, that is
securechat/ui/windows/shell.py) shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from automat import MethodicalMachine
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from securechat.client import SecureChatClient

Request = Callable[[], Any]  # starts a request; it reports back with opened/registered/done


class ShellView(Protocol):
    """What the machine shows through: the window's pages."""

    def show_lock(self, email: str | None) -> None:
        """The lock screen, its accounts listed again (`email` chosen), ready."""

    def show_unlocking(self) -> None:
        """The lock screen waits for the chosen account to open."""

    def unlock_ended(self) -> None:
        """The lock screen is ready again; what it says (why not) stays."""

    def show_closing(self) -> None:
        """The lock screen, saying that the account is still closing."""

    def show_onboarding(self) -> None:
        """The onboarding's first page."""

    def show_password_reset(self, email: str) -> None:
        """The onboarding's "forgot password" form, for `email`."""

    def show_working(self, working: bool) -> None:
        """The onboarding's forms wait for a request, or no longer."""

    def cancel_onboarding(self) -> None:
        """Withdraw what the onboarding has under way and can withdraw (a device link)
        and forget what it shows once (the recovery phrase)."""

    def show_account(self, client: SecureChatClient, email: str) -> None:
        """The open account's main page; the client connects in the background."""

    def hide_account(self) -> defer.Deferred[Any]:
        """The main page lets go of the open account, once what the user saw last was
        marked read and "typing" was taken back."""

    def account_closed(self) -> None:
        """The account closed by `lock` is closed."""


class AccountSession:
    log = Logger()
    _machine = MethodicalMachine()

    def __init__(self, view: ShellView) -> None:
        self._view = view
        self.client: SecureChatClient | None = None  # the open account's
        self.email: str | None = None  # the account opened last (the lock screen offers it)
        self._registered: tuple[SecureChatClient, str] | None = None  # while confirming
        self._settling: list[defer.Deferred[None]] = []

    def close_account(self) -> defer.Deferred[None]:
        """`lock`, with a Deferred that fires once the account is closed (at once if
        none is open)."""
        return self._then_settled(self.lock)

    def shut_down(self) -> defer.Deferred[None]:
        """`quit`, with a Deferred that fires once nothing is open or opening."""
        return self._then_settled(self.quit)

    def _then_settled(self, ask: Callable[[], Any]) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        self._settling.append(d)
        ask()
        return d

    # --- states ----------------------------------------------------------------------
    @_machine.state(initial=True)
    def locked(self) -> None:
        "the lock screen: nothing open"

    @_machine.state()
    def unlocking(self) -> None:
        "the chosen account opens (its password or PIN unseals the keys)"

    @_machine.state()
    def open(self) -> None:
        "an account is open: the main page"

    @_machine.state()
    def closing(self) -> None:
        "the account just locked is closing: unlocking waits"

    @_machine.state()
    def onboarding(self) -> None:
        "the onboarding's forms: register, sign in, link this device, reset a password"

    @_machine.state()
    def working(self) -> None:
        "a request of the onboarding runs"

    @_machine.state()
    def confirming(self) -> None:
        "a new account is registered: its recovery phrase is shown until confirmed"

    @_machine.state()
    def quitting(self) -> None:
        "closing whatever is open or opening, then stop"

    @_machine.state()
    def stopped(self) -> None:
        "nothing open, nothing will open: the window goes"

    # --- inputs -----------------------------------------------------------------------
    @_machine.input()
    def unlock(self, request: Request) -> None:
        "the lock screen's Unlock (or Enter)"

    @_machine.input()
    def submit(self, request: Request) -> None:
        "a form of the onboarding was sent"

    @_machine.input()
    def opened(self, client: SecureChatClient, email: str) -> None:
        "the request opened an account"

    @_machine.input()
    def registered(self, client: SecureChatClient, email: str) -> None:
        "the request registered a new account (open, its phrase not confirmed yet)"

    @_machine.input()
    def confirmed(self) -> None:
        "the user repeated the asked word of the recovery phrase"

    @_machine.input()
    def done(self) -> None:
        "the request ended without an open account (a step done, or it failed)"

    @_machine.input()
    def lock(self) -> None:
        "Lock or Switch account"

    @_machine.input()
    def closed(self) -> None:
        "the account's client stopped"

    @_machine.input()
    def add_account(self) -> None:
        "the lock screen's Add account"

    @_machine.input()
    def forgot_password(self, email: str) -> None:
        "the lock screen's Forgot password"

    @_machine.input()
    def to_lock(self) -> None:
        "back from the onboarding to the lock screen"

    @_machine.input()
    def quit(self) -> None:
        "the window closes: close everything"

    # --- outputs ----------------------------------------------------------------------
    @_machine.output()
    def _run(self, request: Request) -> None:
        request()

    @_machine.output()
    def _show_unlocking(self) -> None:
        self._view.show_unlocking()

    @_machine.output()
    def _unlock_ended(self) -> None:
        self._view.unlock_ended()

    @_machine.output()
    def _open_account(self, client: SecureChatClient, email: str) -> None:
        self._show(client, email)

    def _show(self, client: SecureChatClient, email: str) -> None:
        self.client, self.email = client, email
        self._view.show_account(client, email)

    @_machine.output()
    def _hold(self, client: SecureChatClient, email: str) -> None:
        self._registered = (client, email)

    @_machine.output()
    def _open_held(self) -> None:
        assert self._registered is not None
        client, email = self._registered
        self._registered = None
        self._show(client, email)

    @_machine.output()
    def _close_account(self) -> None:
        client, self.client = self.client, None
        assert client is not None
        d = self._view.hide_account()
        d.addErrback(self._logged, "finishing the conversation failed")
        d.addCallback(lambda _: self._view.show_closing())
        d.addCallback(lambda _: self._stop_client(client))

    @_machine.output()
    def _stop(self, client: SecureChatClient) -> None:
        self._stop_client(client)

    @_machine.output()
    def _stop_held(self) -> None:
        assert self._registered is not None
        client, _ = self._registered
        self._registered = None
        self._stop_client(client)

    def _stop_client(self, client: SecureChatClient) -> None:
        d = client.stop()
        d.addErrback(self._logged, "closing the account failed")
        d.addBoth(lambda _: self.closed())

    def _logged(self, failure: Failure, what: str) -> None:
        self.log.failure(what, failure)

    @_machine.output()
    def _show_lock(self) -> None:
        self._view.show_lock(self.email)

    @_machine.output()
    def _report_closed(self) -> None:
        self._view.account_closed()

    @_machine.output()
    def _show_onboarding(self) -> None:
        self._view.show_onboarding()

    @_machine.output()
    def _show_password_reset(self, email: str) -> None:
        self._view.show_password_reset(email)

    @_machine.output()
    def _show_working(self) -> None:
        self._view.show_working(True)

    @_machine.output()
    def _forms_ready(self) -> None:
        self._view.show_working(False)

    @_machine.output()
    def _cancel_work(self) -> None:
        self._view.cancel_onboarding()

    @_machine.output()
    def _settle(self) -> None:
        settling, self._settling = self._settling, []
        for d in settling:
            d.callback(None)

    # --- the lock screen
    locked.upon(unlock, enter=unlocking, outputs=[_show_unlocking, _run])
    unlocking.upon(opened, enter=open, outputs=[_open_account])
    unlocking.upon(done, enter=locked, outputs=[_unlock_ended])
    open.upon(lock, enter=closing, outputs=[_close_account])
    closing.upon(closed, enter=locked, outputs=[_show_lock, _report_closed, _settle])
    locked.upon(add_account, enter=onboarding, outputs=[_show_onboarding])
    locked.upon(forgot_password, enter=onboarding, outputs=[_show_password_reset])
    # --- the onboarding
    onboarding.upon(submit, enter=working, outputs=[_show_working, _run])
    working.upon(done, enter=onboarding, outputs=[_forms_ready])
    working.upon(opened, enter=open, outputs=[_forms_ready, _open_account])
    working.upon(registered, enter=confirming, outputs=[_forms_ready, _hold])
    confirming.upon(confirmed, enter=open, outputs=[_open_held])
    onboarding.upon(to_lock, enter=locked, outputs=[_show_lock])
    # --- quitting: what is open is closed, what is opening is closed once open
    for _state in (locked, onboarding, stopped):
        _state.upon(quit, enter=stopped, outputs=[_settle])
    open.upon(quit, enter=quitting, outputs=[_close_account])
    closing.upon(quit, enter=quitting, outputs=[])
    unlocking.upon(quit, enter=quitting, outputs=[])
    working.upon(quit, enter=quitting, outputs=[_cancel_work])
    confirming.upon(quit, enter=quitting, outputs=[_cancel_work, _stop_held])
    quitting.upon(quit, enter=quitting, outputs=[])
    quitting.upon(opened, enter=quitting, outputs=[_stop])
    quitting.upon(registered, enter=quitting, outputs=[_cancel_work, _stop])
    quitting.upon(done, enter=stopped, outputs=[_settle])
    quitting.upon(closed, enter=stopped, outputs=[_settle])
    # --- lock with no account open: settled at once (the menu offers it only when open)
    for _state in (locked, unlocking, onboarding, working, confirming, stopped):
        _state.upon(lock, enter=_state, outputs=[_settle])
    for _state in (closing, quitting):  # settled once closed
        _state.upon(lock, enter=_state, outputs=[])
    # --- asked again while it runs, or where it cannot start: nothing happens
    for _state in (unlocking, open, closing, onboarding, working, confirming, quitting,
                   stopped):
        _state.upon(unlock, enter=_state, outputs=[])
        _state.upon(add_account, enter=_state, outputs=[])
        _state.upon(forgot_password, enter=_state, outputs=[])
    for _state in (locked, unlocking, open, closing, working, confirming, quitting, stopped):
        _state.upon(submit, enter=_state, outputs=[])
        _state.upon(to_lock, enter=_state, outputs=[])
    for _state in (locked, unlocking, open, closing, onboarding, working, quitting, stopped):
        _state.upon(confirmed, enter=_state, outputs=[])
    del _state
