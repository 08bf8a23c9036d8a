"""Notifications inside the window, for a desktop without a tray: a strip at the top
that shows the newest one in the theme's colours (readable light or dark), and goes by
itself after a few seconds or when clicked."""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QVBoxLayout, QWidget

from securechat.ui.widgets.elided import ElidedLabel

SHOWN_MS = 6000


class NotificationBanner(QFrame):
    clicked = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QHBoxLayout(self)
        texts = QVBoxLayout()
        self.title = ElidedLabel()
        self.title.setStyleSheet("font-weight: 600;")
        self.body = ElidedLabel()  # one line: a preview, never the whole message
        texts.addWidget(self.title)
        texts.addWidget(self.body)
        layout.addLayout(texts, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_notification(self, title: str, body: str) -> None:
        self.title.setText(title)
        self.body.setText(body)
        self.show()
        self._timer.start(SHOWN_MS)

    @property
    def closes_soon(self) -> bool:
        return self._timer.isActive()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        self.hide()
        self.clicked.emit()
