"""The status bar's connection state: connecting, online, or offline with the retry
countdown and a "Retry now" button."""

from __future__ import annotations

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from securechat.client import events as ev
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.plaintext import make_plain


class ConnectionIndicator(QWidget):
    """connecting / online / offline with the retry countdown and a "Retry now" button."""

    retry_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = make_plain(QLabel(S.CONN_CONNECTING))  # the reason comes from the relay
        self.retry_button = QPushButton(S.CONN_RETRY_NOW)
        self.retry_button.setFlat(True)
        self.retry_button.clicked.connect(self.retry_requested)
        self.retry_button.hide()
        layout.addWidget(self.label)
        layout.addWidget(self.retry_button)
        self._retry_left = 0
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    def text(self) -> str:
        return self.label.text()

    def show_state(self, event: ev.ConnectionStateChanged) -> None:
        self._timer.stop()
        t = theme.current()
        colour = {"online": t.online, "connecting": t.muted,
                  "syncing": t.muted}.get(event.state, t.error)
        self.label.setStyleSheet(f"color: {colour}; padding: 0 8px;")
        waiting = event.state == "offline" and bool(event.retry_in)
        self.retry_button.setVisible(waiting)
        if event.state == "online":
            self.label.setText("● " + S.CONN_ONLINE)
        elif event.state == "connecting":
            self.label.setText("● " + S.CONN_CONNECTING)
        elif event.state == "syncing":
            self.label.setText("● " + S.CONN_SYNCING)
        elif event.state == "failed":
            self.label.setText("● " + S.CONN_FAILED.format(reason=event.reason or ""))
        elif waiting:
            self._retry_left = max(1, round(event.retry_in or 0))
            self.label.setText("● " + S.CONN_RETRY.format(seconds=self._retry_left))
            self._timer.start()
        else:
            self.label.setText("● " + S.CONN_OFFLINE)

    def _tick(self) -> None:
        self._retry_left -= 1
        if self._retry_left <= 0:
            self._timer.stop()
            self.label.setText("● " + S.CONN_CONNECTING)
        else:
            self.label.setText("● " + S.CONN_RETRY.format(seconds=self._retry_left))
