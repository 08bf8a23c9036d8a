"""A one-line label for text of any length (a contact's name, a quoted message): it
never asks its layout for more width than a few characters, draws what fits with "…"
at the end, and shows the whole text in its tooltip when it had to shorten it."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget

from securechat.ui.plaintext import plain_tooltip


class ElidedLabel(QLabel):
    """Plain text on one line (newlines shown as spaces), elided to the width it gets.
    `text()` is still the whole text."""

    MIN_WIDTH = 40  # what it asks for at least: a few characters and the "…"

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str | None) -> None:
        super().setText(text or "")
        self._update_tooltip()

    def one_line(self) -> str:
        return " ".join(self.text().split("\n"))

    def shown_text(self) -> str:
        """What is drawn: the text, or as much of it as fits followed by "…"."""
        return self.fontMetrics().elidedText(self.one_line(), Qt.TextElideMode.ElideRight,
                                              max(self.contentsRect().width(), 0))

    def is_elided(self) -> bool:
        return self.shown_text() != self.one_line()

    def minimumSizeHint(self) -> QSize:
        return QSize(self.MIN_WIDTH, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance(self.one_line())
                         + 8), hint.height())

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        self.setToolTip(plain_tooltip(self.text()) if self.is_elided() else "")

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment()) | int(
            Qt.AlignmentFlag.AlignVCenter), self.shown_text())
