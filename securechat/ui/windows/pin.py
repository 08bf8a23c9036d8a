"""Set a quick-unlock PIN: the master password (to prove it is you) and the PIN twice."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QRegularExpression, pyqtSignal
from PyQt6.QtGui import QRegularExpressionValidator
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from securechat.client import SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.widgets.status import StatusLabel


class SetPinDialog(QDialog):
    pin_set = pyqtSignal()
    failed = pyqtSignal(str)

    def __init__(self, client: SecureChatClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(S.SET_PIN_TITLE)
        layout = QVBoxLayout(self)
        self.body = body = QLabel(S.SET_PIN_BODY if client.pin_keychain_bound()
                                  else S.SET_PIN_BODY_NO_KEYCHAIN)
        body.setWordWrap(True)
        body.setObjectName("muted")
        layout.addWidget(body)
        form = QFormLayout()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        digits = QRegularExpressionValidator(QRegularExpression(r"[0-9]{0,12}"), self)
        self.pin = QLineEdit()
        self.repeat = QLineEdit()
        for field in (self.pin, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.setValidator(digits)
        form.addRow(S.MASTER_PASSWORD, self.password)
        form.addRow(S.NEW_PIN, self.pin)
        form.addRow(S.REPEAT_PIN, self.repeat)
        layout.addLayout(form)
        self.error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def submit(self) -> Any:
        if self.pin.text() != self.repeat.text():
            self.error.setText(S.PINS_DIFFER)
            return None
        return run_secret_form(self, self.client.set_pin(self.password.text(),
                                                         self.pin.text()),
                               (self.password, self.pin, self.repeat), self.pin_set)


def run_secret_form(dialog: Any, work: Any, fields: tuple[QLineEdit, ...],
                    succeeded: Any) -> Any:
    """The common end of a dialog that takes secrets (its `buttons`, `error` label and
    `failed` signal): wait for `work`; on success clear the fields, emit `succeeded` and
    close; on failure show why and let the user try again."""
    dialog.buttons.setEnabled(False)
    dialog.error.setText(S.WORKING)

    def done(_: Any) -> None:
        for field in fields:
            field.clear()
        succeeded.emit()
        dialog.accept()

    def failed(message: str) -> None:
        dialog.buttons.setEnabled(True)
        dialog.error.setText(message)
        dialog.failed.emit(message)

    return call(work, done, failed)
