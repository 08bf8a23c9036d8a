"""A recovery phrase shown as numbered words in columns, so that "word number 7" needs
no counting; each word can still be selected."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget

COLUMNS = 3


class NumberedWords(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setHorizontalSpacing(24)
        self.labels: list[QLabel] = []

    def set_words(self, words: list[str]) -> None:
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        rows = (len(words) + COLUMNS - 1) // COLUMNS
        for i, word in enumerate(words):
            label = QLabel(f"{i + 1:>2}. {word}")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setStyleSheet("font-family: monospace; font-size: 15px;")
            self.grid.addWidget(label, i % rows, i // rows)  # down the columns, in order
            self.labels.append(label)
        self.setVisible(bool(words))
