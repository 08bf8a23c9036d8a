"""The vault's second factor: turn it on (the otpauth:// QR code and its key as text,
confirmed by a first code, then the recovery codes shown once) or off (with a code).

    loading --> off --Set up--> scan --a right code--> recovery codes --done--> on
                 ^                                                              |
                 +---------------------- Turn off (a right code) ---------------+

What is secret (the key, the recovery codes) is held by the widgets only while its
page shows: it is cleared when the page is left or the dialog closes."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from securechat.client import MfaSetup, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label, wrapped_label
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.windows.profile import qr_image

LOADING, OFF, SCAN, RECOVERY, ON = range(5)


def grouped(secret: str, size: int = 4) -> str:
    """A base32 key in groups of four, as authenticator apps let one type it."""
    return " ".join(secret[i:i + size] for i in range(0, len(secret), size))


class MfaDialog(QDialog):
    enabled = pyqtSignal()  # a first code confirmed it: the recovery codes show
    disabled = pyqtSignal()
    failed = pyqtSignal(str)  # the core refused: the message shown
    shown = pyqtSignal(int)  # the page now showing (LOADING ... ON)

    def __init__(self, client: SecureChatClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self._codes: tuple[str, ...] = ()  # the recovery codes, until shown
        self.setWindowTitle(S.MFA_TITLE)
        layout = QVBoxLayout(self)
        self.stack = QStackedWidget()
        layout.addWidget(self.stack)
        self.stack.addWidget(QWidget())  # LOADING
        self.stack.addWidget(self._off_page())
        self.stack.addWidget(self._scan_page())
        self.stack.addWidget(self._recovery_page())
        self.stack.addWidget(self._on_page())
        self.error = wrapped_label(style="error")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(lambda _: self._forget_secrets())
        call(client.mfa.is_enabled(), lambda on: self._show(ON if on else OFF), self._refused)

    @property
    def page(self) -> int:
        return self.stack.currentIndex()

    # --- pages ----------------------------------------------------------------------

    def _off_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(wrapped_label(S.MFA_OFF_BODY))
        self.set_up_button = primary_button(S.MFA_SET_UP, self.set_up)
        layout.addWidget(self.set_up_button)
        layout.addStretch(1)
        return page

    def _scan_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(wrapped_label(S.MFA_SCAN))
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.qr)
        layout.addWidget(plain_label(S.MFA_SECRET))
        self.secret = plain_label()
        self.secret.setStyleSheet("font-family: monospace; font-size: 15px;")
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secret.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.secret)
        row = QHBoxLayout()
        self.confirm_code = QLineEdit()
        self.confirm_code.setPlaceholderText(S.MFA_CODE)
        self.confirm_code.returnPressed.connect(self.confirm)
        self.confirm_button = primary_button(S.MFA_CONFIRM, self.confirm)
        row.addWidget(self.confirm_code, 1)
        row.addWidget(self.confirm_button)
        layout.addLayout(row)
        return page

    def _recovery_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(wrapped_label(S.MFA_RECOVERY_TITLE, "title"))
        layout.addWidget(wrapped_label(S.MFA_RECOVERY_BODY))
        self.recovery = plain_label()
        self.recovery.setStyleSheet("font-family: monospace; font-size: 15px; padding: 8px;")
        self.recovery.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.recovery)
        self.recovery_done_button = primary_button(S.MFA_RECOVERY_DONE, lambda: self._show(ON))
        layout.addWidget(self.recovery_done_button)
        return page

    def _on_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(wrapped_label(S.MFA_ON_BODY))
        row = QHBoxLayout()
        self.disable_code = QLineEdit()
        self.disable_code.setPlaceholderText(S.MFA_CODE)
        self.disable_code.returnPressed.connect(self.disable)
        self.disable_button = QPushButton(S.MFA_DISABLE)
        self.disable_button.clicked.connect(self.disable)
        row.addWidget(self.disable_code, 1)
        row.addWidget(self.disable_button)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _show(self, page: int) -> None:
        if page != SCAN:
            self.qr.clear()
            self.secret.clear()
        if page != RECOVERY:
            self.recovery.clear()  # shown once
        self.stack.setCurrentIndex(page)
        self.shown.emit(page)

    def _forget_secrets(self) -> None:
        self._codes = ()
        for widget in (self.qr, self.secret, self.recovery, self.confirm_code,
                       self.disable_code):
            widget.clear()

    # --- actions --------------------------------------------------------------------

    def set_up(self) -> Any:
        self.set_up_button.setEnabled(False)

        def provisioned(setup: MfaSetup) -> None:
            self.set_up_button.setEnabled(True)
            self.error.clear()
            self.qr.setPixmap(QPixmap.fromImage(qr_image(setup.uri.encode())))
            self.secret.setText(grouped(setup.secret))
            self._codes = setup.recovery_codes  # shown once the first code confirms it
            self._show(SCAN)
            self.confirm_code.setFocus()

        def failed(message: str) -> None:
            self.set_up_button.setEnabled(True)
            self._refused(message)

        return call(self.client.mfa.provision(), provisioned, failed)

    def confirm(self) -> Any:
        code = self.confirm_code.text().strip()
        if not code:
            self.error.setText(S.MFA_CODE_MISSING)
            return None
        self.confirm_button.setEnabled(False)

        def confirmed(_: Any) -> None:
            self.confirm_button.setEnabled(True)
            self.confirm_code.clear()
            self.error.clear()
            codes, self._codes = self._codes, ()
            self._show(RECOVERY)
            self.recovery.setText("\n".join(codes))
            self.enabled.emit()

        def failed(message: str) -> None:
            self.confirm_button.setEnabled(True)
            self.confirm_code.clear()
            self._refused(message)

        return call(self.client.mfa.confirm(code), confirmed, failed)

    def disable(self) -> Any:
        code = self.disable_code.text().strip()
        if not code:
            self.error.setText(S.MFA_CODE_MISSING)
            return None
        self.disable_button.setEnabled(False)

        def disabled(_: Any) -> None:
            self.disable_button.setEnabled(True)
            self.disable_code.clear()
            self.error.setText(S.MFA_DISABLED)
            self._show(OFF)
            self.disabled.emit()

        def failed(message: str) -> None:
            self.disable_button.setEnabled(True)
            self.disable_code.clear()
            self._refused(message)

        return call(self.client.mfa.disable(code), disabled, failed)

    def _refused(self, message: str) -> None:
        self.error.setText(message)
        self.failed.emit(message)
