"""Restore an account from its encrypted backup, from the welcome screen: the file, its
passphrase and the account's master password; a progress bar while the core restores it
(client.restore), then the restored account opens.

Like the onboarding's other forms it asks the window to send it (`submit`), and reports
how it ended: `done(client, email)` with the opened account, or `failed`. The file
dialog is a method (`choose_path`): tests replace it."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import KdfCost, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import wrapped_label
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.confirm import notice
from securechat.ui.widgets.path import PathField
from securechat.ui.widgets.progress import StageProgress


class RestorePage(QWidget):
    submit = pyqtSignal(object)  # a callable that starts the restore, if no request runs
    done = pyqtSignal(object, str)  # restored and opened: the client and its email
    failed = pyqtSignal(str)  # the message shown
    back = pyqtSignal()

    def __init__(self, reactor: Any, data_dir: str, url: str, cost: KdfCost | None = None,
                 ca_file: str | None = None, insecure_ws: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reactor, self._data_dir, self._url, self._cost = reactor, data_dir, url, cost
        self._ca_file, self._insecure_ws = ca_file, insecure_ws
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.RESTORE_TITLE, "title"))
        layout.addWidget(wrapped_label(S.RESTORE_BODY))
        form = QFormLayout()
        where = PathField(lambda: self.choose_path())
        self.path, self.browse_button = where.edit, where.browse_button
        self.passphrase = QLineEdit()
        self.password = QLineEdit()
        for field in (self.passphrase, self.password):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self.submit_restore)
        form.addRow(S.RESTORE_FILE, where)
        form.addRow(S.BACKUP_PASSPHRASE, self.passphrase)
        form.addRow(S.RESTORE_PASSWORD, self.password)
        layout.addLayout(form)
        self.progress = StageProgress()
        layout.addWidget(self.progress)
        self.error = wrapped_label(style="error")
        self.damaged_notice: QMessageBox | None = None  # after a restore that left files out
        layout.addWidget(self.error)
        row = QHBoxLayout()
        self.back_button = QPushButton(S.BACK)
        self.back_button.clicked.connect(self.back)
        self.restore_button = primary_button(S.RESTORE, self.submit_restore)
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.restore_button)
        layout.addLayout(row)
        layout.addStretch(2)

    def reset(self) -> None:
        for field in (self.path, self.passphrase, self.password):
            field.clear()
        self.error.clear()
        self.progress.finish()

    def set_busy(self, busy: bool) -> None:
        self.restore_button.setEnabled(not busy)
        self.back_button.setEnabled(not busy)

    def choose_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, S.RESTORE_OPEN, "", S.BACKUP_FILTER)
        return path or None

    def submit_restore(self) -> None:
        path = self.path.text().strip()
        if not path:
            self.error.setText(S.RESTORE_FILE_MISSING)
            return
        passphrase, password = self.passphrase.text(), self.password.text()
        self.submit.emit(lambda: self._restore(path, passphrase, password))

    def _restore(self, path: str, passphrase: str, password: str) -> None:
        self.error.clear()
        self.progress.start()

        def failed(message: str) -> None:
            self.progress.finish()
            self.error.setText(message)
            self.failed.emit(message)

        def opened(client: SecureChatClient, email: str, damaged: tuple[str, ...]) -> None:
            self.progress.finish()
            self.reset()
            self.done.emit(client, email)
            if damaged:  # restored without them: they download again from the relay
                self.damaged_notice = notice(self.window(), S.RESTORE_DAMAGED_TITLE,
                                             S.RESTORE_DAMAGED.format(
                                                 files="\n".join(damaged)))

        def restored(email: str) -> None:
            damaged = tuple(getattr(email, "damaged", ()))
            email = str(email)
            # On disk and listed now: open it as the lock screen would.
            call(SecureChatClient.open(self._reactor, self._data_dir, self._url, email,
                                       password, ca_file=self._ca_file,
                                       insecure_ws=self._insecure_ws),
                 lambda client: opened(client, email, damaged), failed)

        call(SecureChatClient.restore_backup(
            self._reactor, self._data_dir, self._url, path, passphrase, password,
            self._cost, ca_file=self._ca_file, insecure_ws=self._insecure_ws,
            progress=self.progress.report), restored, failed)
