"""A button that waits: disabled, its text counting the seconds down, then back.

The vault's unlock button after wrong codes (the core refuses codes for a while after
five wrong ones: client.mfa.retry_after). The ticks come from `clock` (the reactor,
or a `task.Clock` in tests), so the countdown is tested without waiting."""

from __future__ import annotations

import math
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QPushButton
from twisted.internet.interfaces import IDelayedCall, IReactorTime


class ButtonCountdown(QObject):
    started = pyqtSignal(float)  # seconds to wait
    finished = pyqtSignal()  # the wait is over: the button is back

    def __init__(self, button: QPushButton, waiting_text: str, clock: IReactorTime) -> None:
        """`waiting_text` has a `{seconds}` field."""
        super().__init__(button)
        self._button = button
        self._waiting_text = waiting_text
        self._clock = clock
        self._text = button.text()
        self._until = 0.0
        self._tick: IDelayedCall | None = None

    @property
    def running(self) -> bool:
        return self._tick is not None

    def start(self, seconds: float) -> None:
        """Wait `seconds` (a new wait replaces one running); nothing if not positive."""
        self.stop(finished=False)
        if seconds <= 0:
            return
        self._until = self._clock.seconds() + seconds
        self._button.setEnabled(False)
        self._show()
        self.started.emit(seconds)

    def stop(self, finished: bool = True) -> None:
        if self._tick is not None and self._tick.active():
            self._tick.cancel()
        was_running = self._tick is not None
        self._tick = None
        self._button.setText(self._text)
        self._button.setEnabled(True)
        if was_running and finished:
            self.finished.emit()

    def _show(self, *_: Any) -> None:
        left = self._until - self._clock.seconds()
        if left <= 0:
            self._tick = None
            self._button.setText(self._text)
            self._button.setEnabled(True)
            self.finished.emit()
            return
        self._button.setText(self._waiting_text.format(seconds=math.ceil(left)))
        # At the next whole second left, so that the text steps 30, 29, ... 1.
        self._tick = self._clock.callLater(left - math.ceil(left) + 1 if left % 1 else 1,
                                           self._show)
