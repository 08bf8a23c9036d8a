"""Change the master password: the current one (checked) and the new one twice."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from securechat.client import KdfCost, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.widgets.status import StatusLabel
from securechat.ui.windows.onboarding import MIN_PASSWORD
from securechat.ui.windows.pin import run_secret_form


class ChangePasswordDialog(QDialog):
    changed = pyqtSignal()
    failed = pyqtSignal(str)

    def __init__(self, client: SecureChatClient, cost: KdfCost | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self._cost = client, cost
        self.setWindowTitle(S.CHANGE_PASSWORD_TITLE)
        layout = QVBoxLayout(self)
        body = QLabel(S.CHANGE_PASSWORD_BODY)
        body.setWordWrap(True)
        body.setObjectName("muted")
        layout.addWidget(body)
        form = QFormLayout()
        self.current = QLineEdit()
        self.new = QLineEdit()
        self.repeat = QLineEdit()
        for field in (self.current, self.new, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(S.CURRENT_PASSWORD, self.current)
        form.addRow(S.NEW_PASSWORD, self.new)
        form.addRow(S.REPEAT_NEW_PASSWORD, self.repeat)
        layout.addLayout(form)
        self.error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def submit(self) -> Any:
        if len(self.new.text()) < MIN_PASSWORD:
            self.error.setText(S.PASSWORD_TOO_SHORT)
            return None
        if self.new.text() != self.repeat.text():
            self.error.setText(S.PASSWORDS_DIFFER)
            return None
        return run_secret_form(self, self.client.change_password(
            self.current.text(), self.new.text(), self._cost),
            (self.current, self.new, self.repeat), self.changed)
