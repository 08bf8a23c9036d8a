"""The chat's composer: a plain-text editor where Enter sends, Shift+Enter starts a new
line and Escape cancels a reply or an edit."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QPlainTextEdit, QWidget

from securechat.ui import strings as S


class Composer(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line, Escape cancels a reply."""

    submitted = pyqtSignal()
    escaped = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(S.COMPOSER_PLACEHOLDER)
        self.setTabChangesFocus(True)
        self.setFixedHeight(64)

    def keyPressEvent(self, e: QKeyEvent | None) -> None:
        assert e is not None
        if (e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not e.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        if e.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(e)
