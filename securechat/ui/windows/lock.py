"""The lock screen: pick an account on this device and unlock it with its password.

Unlocking opens the local database without the network (phase 1); the shell then
starts the client, which connects in the background (phase 2)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client.core import SecureChatClient
from securechat.ui import accounts
from securechat.ui import strings as S
from securechat.ui.bridge import call


class LockPage(QWidget):
    unlocked = pyqtSignal(object, str)  # client, email
    add_account = pyqtSignal()
    failed = pyqtSignal(str)

    def __init__(self, reactor: Any, data_dir: str, url: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reactor, self._data_dir, self._url = reactor, data_dir, url
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        column = QVBoxLayout()
        outer.addLayout(column, 2)
        outer.addStretch(1)
        column.addStretch(1)
        title = QLabel(S.LOCK_TITLE)
        title.setObjectName("title")
        column.addWidget(title)
        column.addWidget(QLabel(S.CHOOSE_ACCOUNT))
        self.account = QComboBox()
        column.addWidget(self.account)
        column.addWidget(QLabel(S.MASTER_PASSWORD))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self.unlock)
        column.addWidget(self.password)
        self.error = QLabel()
        self.error.setWordWrap(True)
        column.addWidget(self.error)
        row = QHBoxLayout()
        self.add_button = QPushButton(S.ADD_ACCOUNT)
        self.add_button.clicked.connect(self.add_account)
        self.unlock_button = QPushButton(S.UNLOCK)
        self.unlock_button.setProperty("primary", True)
        self.unlock_button.clicked.connect(self.unlock)
        row.addWidget(self.add_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        column.addLayout(row)
        column.addStretch(2)

    def refresh(self, select: str | None = None) -> None:
        self.account.clear()
        emails = accounts.known_accounts(self._data_dir)
        self.account.addItems(emails)
        if select in emails:
            self.account.setCurrentText(select)
        self.password.clear()
        self.error.setText("" if emails else S.NO_ACCOUNTS)
        self.unlock_button.setEnabled(bool(emails))
        self.password.setFocus()

    def unlock(self) -> None:
        email = self.account.currentText()
        if not email:
            return
        self.unlock_button.setEnabled(False)
        self.error.setText(S.UNLOCKING)

        def opened(client: SecureChatClient) -> None:
            self.unlock_button.setEnabled(True)
            self.password.clear()
            self.error.clear()
            self.unlocked.emit(client, email)

        def failed(message: str) -> None:
            self.unlock_button.setEnabled(True)
            self.error.setText(message)
            self.password.selectAll()
            self.failed.emit(message)

        call(SecureChatClient.open(self._reactor, self._data_dir, self._url, email,
                                   self.password.text()), opened, failed)
