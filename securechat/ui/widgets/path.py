"""A file path field with a Choose… button; what the button asks is the owner's
(a file dialog, which tests replace)."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from securechat.ui import strings as S


class PathField(QWidget):
    def __init__(self, choose: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choose = choose
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.browse_button = QPushButton(S.BACKUP_BROWSE)
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)

    def browse(self) -> None:
        path = self._choose()
        if path:
            self.edit.setText(path)
