"""Receiving while locked (issue 11): "a locked app can still receive and notify (name
only) if the user allows it".

With the setting on (off by default; the settings window explains the trade-off),
Lock hides the account behind this page instead of closing it: the client stays open
and connected, messages keep arriving, notifications name only the sender with the
unread count (never the text: `Notifier.locked`), and the title and tray keep the
count. Unlocking checks the PIN (if one is set; wrong ones count towards its limit, as
on the lock screen) or the master password against this device's sealed keys
(`client.screen_lock`); "Close the account" locks for real, as Lock does with the
setting off. The price, written beside the setting: the account's keys, its database
key among them, stay in memory while locked."""

from __future__ import annotations

import re
from typing import Any

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from securechat.client import SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import wrapped_label
from securechat.ui.widgets.banner import NotificationBanner
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.status import StatusLabel
from securechat.ui.windows.lock import centred_column

RECEIVE_WHILE_LOCKED_KEY = "security/receive_while_locked"
PIN_SHAPE = re.compile(r"[0-9]{4,12}")


def receive_while_locked(settings: QSettings) -> bool:
    return str(settings.value(RECEIVE_WHILE_LOCKED_KEY, "false")).lower() == "true"


class ScreenLockPage(QWidget):
    """The page over an account locked while receiving."""

    unlocked = pyqtSignal()
    close_requested = pyqtSignal()  # lock for real: close the account

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client: SecureChatClient | None = None
        page = QVBoxLayout(self)
        self.banner = NotificationBanner()  # no tray: notifications show here while locked
        page.addWidget(self.banner)
        outer = QHBoxLayout()
        page.addLayout(outer, 1)
        column = centred_column(outer)  # as the lock screen
        title = QLabel(S.SCREEN_LOCKED_TITLE)
        title.setObjectName("title")
        column.addWidget(title)
        self.info = wrapped_label("")
        column.addWidget(self.info)
        self.unread = QLabel("")
        column.addWidget(self.unread)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(S.MASTER_PASSWORD)
        self.password.returnPressed.connect(self.unlock)
        column.addWidget(self.password)
        self.error = StatusLabel()
        column.addWidget(self.error)
        buttons = QHBoxLayout()
        self.close_account = QPushButton(S.SCREEN_CLOSE_ACCOUNT)
        self.close_account.clicked.connect(self.close_requested)
        buttons.addWidget(self.close_account)
        buttons.addStretch(1)
        self.unlock_button = primary_button(S.SCREEN_UNLOCK)
        self.unlock_button.clicked.connect(self.unlock)
        buttons.addWidget(self.unlock_button)
        column.addLayout(buttons)
        column.addStretch(2)

    def lock(self, client: SecureChatClient, email: str, unread: int) -> None:
        self.client = client
        self.info.setText(S.SCREEN_LOCKED_INFO.format(email=email))
        self.show_unread(unread)
        self.password.setPlaceholderText(S.SCREEN_PIN_OR_PASSWORD if client.screen_lock.has_pin
                                         else S.MASTER_PASSWORD)
        self.password.clear()
        self.error.setText("")
        self.password.setFocus()

    def show_unread(self, count: int) -> None:
        self.unread.setText(S.SCREEN_LOCKED_UNREAD.format(count=count) if count else "")

    def unlock(self) -> Any:
        if self.client is None or not self.unlock_button.isEnabled():
            return None
        self.unlock_button.setEnabled(False)

        def done(_: Any) -> None:
            self.unlock_button.setEnabled(True)
            self.password.clear()
            self.error.setText("")
            self.unlocked.emit()

        def failed(message: str) -> None:
            self.unlock_button.setEnabled(True)
            self.error.setText(message)
            self.password.selectAll()
        text, lock = self.password.text(), self.client.screen_lock
        # A PIN is 4 to 12 digits; a master password is at least 10 characters: all
        # digits, 10 to 12 long, it is tried as the PIN (as its own field would be).
        checked = (lock.check_pin(text) if lock.has_pin and PIN_SHAPE.fullmatch(text)
                   else lock.check_password(text))
        return call(checked, done, failed)


def mount_screen_lock(window: Any) -> ScreenLockPage:
    """The page in the window's stack, its banner fed by the notifier."""
    page = ScreenLockPage()
    window.stack.addWidget(page)
    window.notifier.in_app.connect(page.banner.show_notification)
    page.unlocked.connect(window.end_screen_lock)
    page.close_requested.connect(window.close_after_screen_lock)
    window.main.unread_total_changed.connect(page.show_unread)
    return page
