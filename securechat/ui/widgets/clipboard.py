"""A secret on the clipboard for a short while: a copied vault password is taken off
again after `clear_after_ms` (30 s), and when the vault locks, but only if the clipboard
still holds it (what the user copied since is left alone)."""

from __future__ import annotations

import hmac

from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtGui import QGuiApplication

CLEAR_AFTER_MS = 30_000


class SecretClipboard(QObject):
    cleared = pyqtSignal(bool)  # the time is up: whether the secret was still there

    def __init__(self, clear_after_ms: int = CLEAR_AFTER_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._secret: str | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(clear_after_ms)
        self.timer.timeout.connect(self.clear_now)

    @property
    def clear_after_ms(self) -> int:
        return self.timer.interval()

    def copy(self, secret: str) -> None:
        """Put `secret` on the clipboard; the timer starts (again)."""
        clipboard = QGuiApplication.clipboard()
        assert clipboard is not None
        clipboard.setText(secret)
        self._secret = secret
        self.timer.start()

    def clear_now(self) -> None:
        """Take the secret off the clipboard, if it is still what the clipboard holds."""
        self.timer.stop()
        secret, self._secret = self._secret, None
        if secret is None:
            return
        clipboard = QGuiApplication.clipboard()
        assert clipboard is not None
        held = clipboard.text()
        still = hmac.compare_digest(held.encode(), secret.encode())
        if still:
            clipboard.clear()
        self.cleared.emit(still)
