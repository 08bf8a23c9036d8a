"""Approving a new device: the new device's page ("Approve from another device") and the
existing device's dialog ("A new device wants to join your account"). Both show the same
short code; the user confirms on both (see securechat/client/linking.py)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import (
    Approval,
    ClientError,
    KdfCost,
    LinkCode,
    NewDeviceLink,
    SecureChatClient,
)
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.widgets.buttons import primary_button


def _plain(text: str = "", object_name: str = "") -> QLabel:
    """A label for text the relay or a peer controls: never rich text."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if object_name:
        label.setObjectName(object_name)
    return label


class LinkCodeView(QWidget):
    """The 7 emoji (with their names) and the 3 numbers, large enough to compare."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.emoji = _plain()
        self.emoji.setStyleSheet("font-size: 28px;")
        self.names = _plain(object_name="muted")
        self.decimals = _plain()
        self.decimals.setStyleSheet("font-family: monospace; font-size: 20px;")
        for label in (self.emoji, self.names, self.decimals):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        self.setVisible(False)

    def show_code(self, code: LinkCode | None) -> None:
        self.emoji.setText("  ".join(e for e, _ in code.emoji) if code else "")
        self.names.setText("  ·  ".join(name for _, name in code.emoji) if code else "")
        self.decimals.setText(code.decimal_text if code else "")
        self.setVisible(code is not None)
        self.changed.emit()


class NewDeviceLinkPage(QWidget):
    """On the new device. Emits `done(client, email)` once the account key arrived.
    Start asks the window to run the request (`submit`), as the onboarding's forms do."""

    submit = pyqtSignal(object)  # a callable that sends the request, if none runs
    done = pyqtSignal(object, str)
    failed = pyqtSignal(str)
    back = pyqtSignal()

    def __init__(self, reactor: Any, data_dir: str, url: str, cost: KdfCost | None = None,
                 ca_file: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reactor, self._data_dir, self._url, self._cost = reactor, data_dir, url, cost
        self._ca_file = ca_file  # trusted for a wss:// relay
        self.link: NewDeviceLink | None = None
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel(S.LINK_TITLE)
        title.setObjectName("title")
        layout.addWidget(title)
        layout.addWidget(_plain(S.LINK_BODY, "muted"))
        form = QFormLayout()
        self.email = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(S.EMAIL, self.email)
        form.addRow(S.MASTER_PASSWORD, self.password)
        layout.addLayout(form)
        self.status = _plain()
        layout.addWidget(self.status)
        self.code = LinkCodeView()
        layout.addWidget(self.code)
        row = QHBoxLayout()
        self.cancel_button = QPushButton(S.LINK_CANCEL)
        self.cancel_button.clicked.connect(self.cancel)
        self.start_button = primary_button(S.LINK_START, self.start)
        self.password.returnPressed.connect(self.start)
        self.confirm_button = primary_button(S.LINK_CONFIRM, self.confirm)
        self.confirm_button.setVisible(False)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.start_button)
        row.addWidget(self.confirm_button)
        layout.addLayout(row)
        layout.addStretch(2)

    def reset(self, email: str = "", password: str = "") -> None:
        self.link = None
        self.email.setText(email)
        self.password.setText(password)
        self.status.clear()
        self.code.show_code(None)
        self._editing(True)

    def _editing(self, editing: bool) -> None:
        """Before the request goes out (or after it failed): the fields and Start."""
        self.email.setReadOnly(not editing)
        self.password.setReadOnly(not editing)
        self.start_button.setEnabled(editing)
        self.start_button.setVisible(editing)
        self.confirm_button.setVisible(False)

    def start(self) -> None:
        self.submit.emit(self._start)

    def _start(self) -> None:
        email = self.email.text().strip()
        self._editing(False)
        self.status.setText(S.WORKING)

        def linked(link: NewDeviceLink) -> None:
            self.link = link
            self.status.setText(S.LINK_WAITING)
            call(link.wait_code(), self._show_code)
            call(link.wait_result(), lambda client: self.done.emit(client, email), self._failed)

        call(SecureChatClient.link(self._reactor, self._data_dir, self._url, email,
                                   self.password.text(), self._cost, ca_file=self._ca_file),
             linked, self._failed)

    def _show_code(self, code: LinkCode) -> None:
        self.status.setText(S.LINK_COMPARE)
        self.confirm_button.setVisible(True)
        self.code.show_code(code)  # last: it tells whoever waits for the code

    def confirm(self) -> None:
        if self.link is not None:
            self.link.confirm()
            self.confirm_button.setVisible(False)
            self.status.setText(S.LINK_CONFIRMED)

    def cancel(self) -> None:
        """Cancel (or: the codes differ). The new device is removed from the account."""
        if self.link is not None:
            self.link.cancel()
        else:
            self.back.emit()

    def withdraw(self) -> None:
        """The app is closing: a request under way is cancelled (its device removed)."""
        if self.link is not None:
            self.link.cancel()

    def _failed(self, message: str) -> None:
        self.link = None
        self.code.show_code(None)
        self._editing(True)
        self.status.setText(message)
        self.failed.emit(message)


class ApprovalDialog(QDialog):
    """On an existing device: compare the code with the new device's, then confirm."""

    def __init__(self, client: SecureChatClient, device_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.device_id = client, device_id
        self.approval: Approval | None = None
        self.setWindowTitle(S.APPROVAL_TITLE)
        layout = QVBoxLayout(self)
        title = QLabel(S.APPROVAL_TITLE)
        title.setObjectName("title")
        layout.addWidget(title)
        layout.addWidget(_plain(S.APPROVAL_BODY.format(device=device_id)))
        self.status = _plain()
        layout.addWidget(self.status)
        self.code = LinkCodeView()
        layout.addWidget(self.code)
        row = QHBoxLayout()
        self.refuse_button = QPushButton(S.APPROVAL_REFUSE)
        self.refuse_button.clicked.connect(self.refuse)
        self.compare_button = primary_button(S.APPROVAL_COMPARE, self.compare)
        self.mismatch_button = QPushButton(S.APPROVAL_MISMATCH)
        self.mismatch_button.clicked.connect(self.refuse)
        self.confirm_button = primary_button(S.APPROVAL_CONFIRM, self.confirm)
        for button in (self.mismatch_button, self.confirm_button):
            button.setVisible(False)
        for button in (self.refuse_button, self.mismatch_button):
            row.addWidget(button)
        row.addStretch(1)
        for button in (self.compare_button, self.confirm_button):
            row.addWidget(button)
        layout.addLayout(row)

    def compare(self) -> None:
        try:
            self.approval = self.client.approve_device(self.device_id)
        except ClientError as e:  # written for the user
            self._ended(str(e))
            return
        self.compare_button.setVisible(False)
        self.refuse_button.setVisible(False)
        self.status.setText(S.WORKING)
        call(self.approval.wait_code(), self._show_code)
        call(self.approval.wait_done(), lambda _: self._ended(S.APPROVAL_DONE), self._ended)

    def _show_code(self, code: LinkCode) -> None:
        self.status.setText(S.LINK_COMPARE)
        self.mismatch_button.setVisible(True)
        self.confirm_button.setVisible(True)
        self.code.show_code(code)  # last: it tells whoever waits for the code

    def confirm(self) -> None:
        if self.approval is not None:
            self.approval.confirm()
            self.confirm_button.setVisible(False)
            self.status.setText(S.LINK_CONFIRMED)

    def refuse(self) -> None:
        """Not me, or the codes differ: the new device is removed."""
        if self.approval is not None:
            self.approval.reject()
        else:
            self.client.reject_device(self.device_id)
            self._ended(S.LINK_CANCEL)

    def _ended(self, message: str) -> None:
        self.code.show_code(None)
        for button in (self.compare_button, self.confirm_button, self.mismatch_button,
                       self.refuse_button):
            button.setVisible(False)
        self.status.setText(message)
