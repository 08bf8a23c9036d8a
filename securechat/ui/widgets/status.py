"""One label for a form's outcome: what is in progress ("Working…") or done well in the
muted colour, and anything else, an error, in the theme's one error colour."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QWidget

from securechat.ui import strings as S
from securechat.ui import theme


def progress_texts() -> set[str]:
    """What the forms say while they work (read now: the strings may be translated)."""
    return {S.WORKING, S.SENDING_CODE, S.UNLOCKING, S.CLOSING, S.LOADING, S.NO_ACCOUNTS}


class StatusLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # errors may quote what others chose
        self.setWordWrap(True)
        self.setObjectName("error")

    def setText(self, text: str | None) -> None:
        super().setText(text or "")
        theme.restyle(self, "muted" if text in progress_texts() else "error")

    def show_news(self, text: str) -> None:
        """Good news ("Friend request sent to …"): muted, never in the error colour."""
        super().setText(text)
        theme.restyle(self, "muted")

    @property
    def in_progress(self) -> bool:
        return self.objectName() == "muted"
