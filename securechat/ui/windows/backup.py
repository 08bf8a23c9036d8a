"""Create an encrypted backup: the passphrase twice (with a strength hint), where to
save it, and for an account opened with its PIN the master password; a progress bar
while it is written. The core's refusals (a short passphrase, a full disk, a wrong
password) are shown as it words them.

The file dialog is a method (`choose_path`): tests replace it."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from securechat.client import MIN_BACKUP_PASSPHRASE, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import wrapped_label
from securechat.ui.strength import password_strength
from securechat.ui.widgets.path import PathField
from securechat.ui.widgets.progress import StageProgress

BACKUP_SUFFIX = ".scbackup"


class CreateBackupDialog(QDialog):
    created = pyqtSignal(str)  # the backup's path
    failed = pyqtSignal(str)  # the core refused: the message shown

    def __init__(self, client: SecureChatClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(S.BACKUP_TITLE)
        layout = QVBoxLayout(self)
        layout.addWidget(wrapped_label(S.BACKUP_BODY))
        form = QFormLayout()
        self.passphrase = QLineEdit()
        self.repeat = QLineEdit()
        for field in (self.passphrase, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.strength = wrapped_label(S.STRENGTH[0])
        self.passphrase.textChanged.connect(lambda text: self.strength.setText(
            S.STRENGTH[password_strength(text, MIN_BACKUP_PASSPHRASE)]))
        where = PathField(lambda: self.choose_path())
        self.path, self.browse_button = where.edit, where.browse_button
        form.addRow(S.BACKUP_PASSPHRASE, self.passphrase)
        form.addRow("", self.strength)
        form.addRow(S.BACKUP_REPEAT, self.repeat)
        form.addRow(S.BACKUP_FILE, where)
        # A backup holds the recovery phrase: whoever has the open app in hand must still
        # know the master password, and the vault's code when it has one.
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("", wrapped_label(S.BACKUP_PASSWORD_BODY, ""))
        form.addRow(S.MASTER_PASSWORD, self.password)
        self.code = QLineEdit()
        self.code_label = QLabel(S.VAULT_CODE)
        form.addRow(self.code_label, self.code)
        self.code.hide()
        self.code_label.hide()
        call(client.mfa.is_enabled(), self._show_code_field)
        layout.addLayout(form)
        self.progress = StageProgress()
        layout.addWidget(self.progress)
        self.error = wrapped_label(style="error")
        self.status = wrapped_label()
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Close)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert self.create_button is not None
        self.create_button.setText(S.BACKUP_CREATE)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def choose_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, S.BACKUP_SAVE_AS,
                                              f"securechat{BACKUP_SUFFIX}", S.BACKUP_FILTER)
        return path or None

    def submit(self) -> Any:
        passphrase, path = self.passphrase.text(), self.path.text().strip()
        if passphrase != self.repeat.text():
            self.error.setText(S.BACKUP_PASSPHRASES_DIFFER)
            return None
        if not path:
            self.error.setText(S.BACKUP_FILE_MISSING)
            return None
        password = self.password.text()
        code = self.code.text().strip() or None
        self.create_button.setEnabled(False)
        self.error.clear()
        self.status.clear()
        self.progress.start()

        def done(_: Any) -> None:
            self.create_button.setEnabled(True)
            self.progress.finish()
            for field in (self.passphrase, self.repeat, self.password, self.code):
                field.clear()
            self.status.setText(S.BACKUP_DONE.format(path=path))
            self.created.emit(path)

        def failed(message: str) -> None:
            self.create_button.setEnabled(True)
            self.progress.finish()
            self.error.setText(message)
            self.failed.emit(message)

        return call(self.client.create_backup(path, passphrase, password, code,
                                              self.progress.report), done, failed)

    def _show_code_field(self, enabled: bool) -> None:
        self.code.setVisible(enabled)
        self.code_label.setVisible(enabled)
