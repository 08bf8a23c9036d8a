r"""The vault's lock: who holds the vault key, and for how long.

    locked --begin--> unlocking --opened(key)--> unlocked --touch--> unlocked
      ^                  |                          |       (the idle timer restarts)
      +-----failed-------+                          |
      +-------------- lock / idle timeout ----------+
    lock while unlocking --> locked (the key that comes later is dropped)

The key exists only in `unlocked`; `lock` (the user, the app closing, or
`idle_seconds` without a vault operation) forgets it. What unlocking takes (the MFA
code, the master key, PBKDF2) is done by `client.vault`; this machine only says what
state the vault is in, as `connection.ConnectionMachine` does for the relay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automat import MethodicalMachine
from twisted.internet.interfaces import IDelayedCall

from securechat.client.errors import ClientError, VaultLocked

DEFAULT_IDLE_SECONDS = 300.0


class VaultLock:
    _machine = MethodicalMachine()

    def __init__(self, clock: Any, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> None:
        self._clock = clock
        self.idle_seconds = idle_seconds
        self._key: bytes | None = None
        self._timer: IDelayedCall | None = None
        self.state = "locked"
        self.on_lock: list[Callable[[], None]] = []  # told whenever the vault locks

    def key(self) -> bytes:
        """The vault key; VaultLocked unless unlocked. Counts as activity."""
        if self._key is None:
            raise VaultLocked("the vault is locked")
        self.touch()
        return self._key

    @property
    def is_unlocked(self) -> bool:
        return self._key is not None

    # --- states -----------------------------------------------------------------------

    @_machine.state(initial=True)
    def locked(self) -> None:
        "No key."

    @_machine.state()
    def unlocking(self) -> None:
        "An unlock is under way (code, master key, PBKDF2)."

    @_machine.state()
    def unlocked(self) -> None:
        "The key is held; it goes after idle_seconds without activity."

    # --- inputs -----------------------------------------------------------------------

    @_machine.input()
    def begin(self) -> None:
        "An unlock starts."

    @_machine.input()
    def opened(self, key: bytes) -> None:
        "The unlock gave the key."

    @_machine.input()
    def failed(self) -> None:
        "The unlock was refused."

    @_machine.input()
    def lock(self) -> None:
        "Forget the key (the user, the app closing)."

    @_machine.input()
    def touch(self) -> None:
        "A vault operation: the idle timer starts again."

    @_machine.input()
    def _idle(self) -> None:
        "Nothing happened for idle_seconds."

    # --- outputs ----------------------------------------------------------------------

    @_machine.output()
    def _refuse_second(self) -> None:
        raise ClientError("the vault is being unlocked already")

    @_machine.output()
    def _hold(self, key: bytes) -> None:
        self._key = key
        self._start_timer()

    @_machine.output()
    def _restart_timer(self) -> None:
        self._start_timer()

    def _start_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self._clock.callLater(self.idle_seconds, self._idle)

    @_machine.output()
    def _forget(self) -> None:
        self._key = None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for observer in list(self.on_lock):
            observer()

    @_machine.output()
    def _now_locked(self) -> None:
        self.state = "locked"

    @_machine.output()
    def _now_unlocking(self) -> None:
        self.state = "unlocking"

    @_machine.output()
    def _now_unlocked(self, key: bytes) -> None:
        self.state = "unlocked"

    locked.upon(begin, enter=unlocking, outputs=[_now_unlocking])
    locked.upon(opened, enter=locked, outputs=[])  # locked while unlocking: dropped
    locked.upon(failed, enter=locked, outputs=[])
    locked.upon(lock, enter=locked, outputs=[])
    locked.upon(touch, enter=locked, outputs=[])
    locked.upon(_idle, enter=locked, outputs=[])
    unlocking.upon(begin, enter=unlocking, outputs=[_refuse_second])
    unlocking.upon(opened, enter=unlocked, outputs=[_hold, _now_unlocked])
    unlocking.upon(failed, enter=locked, outputs=[_now_locked])
    unlocking.upon(lock, enter=locked, outputs=[_now_locked])
    unlocking.upon(touch, enter=unlocking, outputs=[])
    unlocking.upon(_idle, enter=unlocking, outputs=[])
    unlocked.upon(begin, enter=unlocked, outputs=[])  # already open: nothing to do
    unlocked.upon(opened, enter=unlocked, outputs=[])
    unlocked.upon(failed, enter=unlocked, outputs=[])
    unlocked.upon(touch, enter=unlocked, outputs=[_restart_timer])
    unlocked.upon(lock, enter=locked, outputs=[_forget, _now_locked])
    unlocked.upon(_idle, enter=locked, outputs=[_forget, _now_locked])
