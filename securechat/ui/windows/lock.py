"""The lock screen: pick an account on this device and unlock it with its PIN, if it
has one, or its master password.

Unlocking opens the local database without the network (phase 1); the shell then
starts the client, which connects in the background (phase 2). Whether an unlock may
start now (not while one runs, nor while the account just locked still closes) is the
window's AccountSession's to say (securechat/ui/session.py): the page asks it."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QRegularExpression, pyqtSignal
from PyQt6.QtGui import QRegularExpressionValidator
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import SecureChatClient
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.status import StatusLabel


def centred_column(outer: QHBoxLayout) -> QVBoxLayout:
    """A column in the middle half of `outer`, what it holds pushed to the middle from
    the top: the lock screens' layout."""
    outer.addStretch(1)
    column = QVBoxLayout()
    outer.addLayout(column, 2)
    outer.addStretch(1)
    column.addStretch(1)
    return column


class LockPage(QWidget):
    unlock_requested = pyqtSignal(object)  # a callable that starts the unlock, if it may
    unlocked = pyqtSignal(object, str)  # client, email
    add_account = pyqtSignal()
    forgot_password = pyqtSignal(str)  # the chosen account's email
    failed = pyqtSignal(str)

    def __init__(self, reactor: Any, data_dir: str, url: str,
                 parent: QWidget | None = None, ca_file: str | None = None,
                 insecure_ws: bool = False) -> None:
        super().__init__(parent)
        self._reactor, self._data_dir, self._url = reactor, data_dir, url
        self._ca_file = ca_file  # trusted for a wss:// relay
        self._insecure_ws = insecure_ws  # the user allowed a ws:// relay off loopback
        column = centred_column(QHBoxLayout(self))
        title = QLabel(S.LOCK_TITLE)
        title.setObjectName("title")
        column.addWidget(title)
        column.addWidget(QLabel(S.CHOOSE_ACCOUNT))
        self.account = QComboBox()
        self.account.currentTextChanged.connect(lambda _: self._choose_mode())
        column.addWidget(self.account)
        self.password_label = QLabel(S.MASTER_PASSWORD)
        column.addWidget(self.password_label)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self.unlock)
        column.addWidget(self.password)
        self.pin_label = QLabel(S.PIN)
        column.addWidget(self.pin_label)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9]{0,12}")))
        self.pin.returnPressed.connect(self.unlock)
        column.addWidget(self.pin)
        self.use_password = QPushButton(S.USE_PASSWORD_INSTEAD)
        self.use_password.setFlat(True)
        self.use_password.clicked.connect(lambda: self._set_mode(pin=False))
        column.addWidget(self.use_password)
        self.forgot_button = QPushButton(S.FORGOT_PASSWORD)
        self.forgot_button.setFlat(True)
        self.forgot_button.clicked.connect(
            lambda: self.forgot_password.emit(self.account.currentText()))
        column.addWidget(self.forgot_button)
        self.using_pin = False
        self.error = StatusLabel()  # "Unlocking…" muted, errors red
        column.addWidget(self.error)
        row = QHBoxLayout()
        self.add_button = QPushButton(S.ADD_ACCOUNT)
        self.add_button.clicked.connect(self.add_account)
        self.unlock_button = primary_button(S.UNLOCK, self.unlock)
        row.addWidget(self.add_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        column.addLayout(row)
        column.addStretch(2)

    def refresh(self, select: str | None = None) -> None:
        """The accounts on this device (`select` chosen), ready to unlock one."""
        self.account.clear()
        emails = accounts.known_accounts(self._data_dir)
        self.account.addItems(emails)
        if select in emails:
            self.account.setCurrentText(select)
        self.error.setText("" if emails else S.NO_ACCOUNTS)
        self.ready()
        self._choose_mode()

    def waiting(self, message: str) -> None:
        """An account opens, or the one just locked still closes: say so; nothing else
        starts here meanwhile."""
        self.error.setText(message)
        for button in (self.unlock_button, self.add_button, self.forgot_button):
            button.setEnabled(False)

    def ready(self) -> None:
        """Nothing runs any more (what the page says, such as why not, stays)."""
        self.unlock_button.setEnabled(self.account.count() > 0)
        self.add_button.setEnabled(True)
        self.forgot_button.setEnabled(True)

    def _choose_mode(self) -> None:
        """The PIN when the chosen account has one, else the master password."""
        email = self.account.currentText()
        self._set_mode(pin=bool(email) and SecureChatClient.has_pin(self._data_dir, email))

    def _set_mode(self, pin: bool) -> None:
        self.using_pin = pin
        self.password.clear()
        self.pin.clear()
        for widget in (self.pin_label, self.pin, self.use_password):
            widget.setVisible(pin)
        for widget in (self.password_label, self.password):
            widget.setVisible(not pin)
        (self.pin if pin else self.password).setFocus()

    def unlock(self) -> None:
        """Unlock (the button, or Enter): asks the window, which opens the account with
        `_open` unless an unlock runs already."""
        if self.account.currentText():
            self.unlock_requested.emit(self._open)

    def _open(self) -> None:
        email = self.account.currentText()
        using_pin = self.using_pin

        def opened(client: SecureChatClient) -> None:
            self.password.clear()
            self.pin.clear()
            self.error.clear()
            self.unlocked.emit(client, email)

        def failed(message: str) -> None:
            if using_pin and not SecureChatClient.has_pin(self._data_dir, email):
                self._set_mode(pin=False)  # too many wrong PINs: the PIN is gone
            self.error.setText(message)
            (self.pin if self.using_pin else self.password).selectAll()
            self.failed.emit(message)

        if using_pin:
            d = SecureChatClient.open_with_pin(self._reactor, self._data_dir, self._url, email,
                                               self.pin.text(), ca_file=self._ca_file,
                                               insecure_ws=self._insecure_ws)
        else:
            d = SecureChatClient.open(self._reactor, self._data_dir, self._url, email,
                                      self.password.text(), ca_file=self._ca_file,
                                      insecure_ws=self._insecure_ws)
        call(d, opened, failed)
