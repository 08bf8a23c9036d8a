"""Asking before something that cannot be taken back (unsend, opening a link), without
blocking the reactor: the question is window-modal and the action runs on "yes"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox, QPushButton, QWidget


class Question(QMessageBox):
    """A yes/cancel question in plain text (it may quote a peer's text or a URL);
    Cancel is the default, so Enter does nothing irreversible."""

    def __init__(self, parent: QWidget, title: str, body: str, yes: str) -> None:
        super().__init__(QMessageBox.Icon.Question, title, body,
                         QMessageBox.StandardButton.NoButton, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.yes_button: QPushButton = self.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        self.no_button: QPushButton = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.no_button)


def ask(parent: QWidget, title: str, body: str, yes: str,
        on_yes: Callable[[], Any]) -> Question:
    """Show the question; `on_yes()` runs if the user picks `yes`."""
    box = Question(parent, title, body, yes)

    def answered() -> None:
        if box.clickedButton() is box.yes_button:
            on_yes()
        box.deleteLater()

    box.finished.connect(answered)
    box.open()
    return box


def notice(parent: QWidget, title: str, body: str) -> QMessageBox:
    """Tell the user something, in plain text (it may name a peer's file), without
    blocking the reactor: window-modal, closed with OK."""
    box = QMessageBox(QMessageBox.Icon.Information, title, body,
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
