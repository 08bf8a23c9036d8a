"""My account's devices: the "new device" notice, the linked-devices list and removing one
(which asks for the master password)."""

from __future__ import annotations

import datetime
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import DeviceNotice, LinkedDevice, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.status import StatusLabel


def when(timestamp_ms: int | None) -> str:
    if not timestamp_ms:
        return S.UNKNOWN_TIME
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000).strftime("%Y-%m-%d %H:%M")


class RemoveDeviceDialog(QDialog):
    """"Remove <device>?" with the master password; `removed` once the relay did it."""

    removed = pyqtSignal(str)  # the device id
    failed = pyqtSignal(str)  # the message shown

    def __init__(self, client: SecureChatClient, device_id: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.device_id = client, device_id
        self.setWindowTitle(S.REMOVE_DEVICE_TITLE)
        layout = QVBoxLayout(self)
        body = plain_label(S.REMOVE_DEVICE_BODY.format(name=device_id))
        body.setWordWrap(True)
        layout.addWidget(body)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(S.MASTER_PASSWORD)
        self.password.returnPressed.connect(self.confirm)
        layout.addWidget(self.password)
        self.error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.remove_button = primary_button(S.REMOVE_DEVICE)
        buttons.addButton(self.remove_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.remove_button.clicked.connect(self.confirm)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def confirm(self) -> Any:
        password = self.password.text()
        if not password:
            return None
        self.remove_button.setEnabled(False)
        self.error.setText(S.WORKING)

        def done(_: Any) -> None:
            self.password.clear()
            self.removed.emit(self.device_id)
            self.accept()

        def refused(message: str) -> None:
            self.remove_button.setEnabled(True)
            self.password.clear()
            self.error.setText(message)
            self.failed.emit(message)
        return call(self.client.remove_device(self.device_id, password), done, refused)


def _ask_removal(client: SecureChatClient, device_id: str, parent: QWidget,
                 removed: Any) -> RemoveDeviceDialog:
    dialog = RemoveDeviceDialog(client, device_id, parent)
    dialog.removed.connect(removed)
    dialog.open()
    return dialog


class DeviceRow(QWidget):
    def __init__(self, device: LinkedDevice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = device
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        texts = QVBoxLayout()
        name = S.THIS_DEVICE.format(name=device.name) if device.this_device else device.name
        self.name_label = plain_label(name)
        seen = (S.DEVICE_LAST_SEEN.format(when=when(device.last_seen)) if device.last_seen
                else S.DEVICE_NEVER_SEEN)
        self.detail_label = plain_label(
            f"{S.DEVICE_ADDED_AT.format(when=when(device.added_at))} · {seen}")
        self.detail_label.setObjectName("muted")
        texts.addWidget(self.name_label)
        texts.addWidget(self.detail_label)
        layout.addLayout(texts, 1)
        self.remove_button = QPushButton(S.REMOVE_DEVICE)
        self.remove_button.setVisible(not device.this_device)
        layout.addWidget(self.remove_button)


class LinkedDevicesDialog(QDialog):
    """Account → Linked devices…: every device of my account, with Remove."""

    loaded = pyqtSignal()
    error = pyqtSignal(str)

    def __init__(self, client: SecureChatClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.devices: list[LinkedDevice] = []
        self._news = ""  # what the next list comes with ("… was removed")
        self.setWindowTitle(S.LINKED_DEVICES_TITLE)
        self.resize(460, 360)
        layout = QVBoxLayout(self)
        help_text = plain_label(S.LINKED_DEVICES_HELP)
        help_text.setWordWrap(True)
        help_text.setObjectName("muted")
        layout.addWidget(help_text)
        self.list = QListWidget()
        layout.addWidget(self.list, 1)
        self.status = plain_label(S.LOADING)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def reload(self) -> Any:
        def got(devices: list[LinkedDevice]) -> None:
            self.devices = devices
            self._render()
            self.status.setText(self._news)
            self._news = ""
            self.loaded.emit()

        def failed(message: str) -> None:
            self.status.setText(message)
            self.error.emit(message)
        return call(self.client.linked_devices(), got, failed)

    def row(self, device_id: str) -> DeviceRow | None:
        for i in range(self.list.count()):
            widget = self.list.itemWidget(self.list.item(i))
            if isinstance(widget, DeviceRow) and widget.device.device_id == device_id:
                return widget
        return None

    def _render(self) -> None:
        self.list.clear()
        for device in self.devices:
            item = QListWidgetItem()
            row = DeviceRow(device)
            row.remove_button.clicked.connect(
                lambda _=False, d=device.device_id: self.ask_removal(d))
            item.setSizeHint(row.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, row)

    def ask_removal(self, device_id: str) -> RemoveDeviceDialog:
        def removed(name: str) -> None:
            self._news = S.DEVICE_REMOVED_MESSAGE.format(name=name)  # shown with the list
            self.reload()
        return _ask_removal(self.client, device_id, self, removed)


class DeviceNoticeBar(QFrame):
    """"A new device was added to your account" for each one I have not acknowledged,
    with Remove it (master password) and It was me."""

    rendered = pyqtSignal()
    error = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.client: SecureChatClient | None = None
        self.notices: list[DeviceNotice] = []
        self._layout = QVBoxLayout(self)
        self._rows: list[QWidget] = []
        self.hide()

    def set_client(self, client: SecureChatClient | None) -> Any:
        self.client = client
        return self.refresh()

    def refresh(self) -> Any:
        client = self.client
        if client is None:
            self.notices = []
            self._render()
            return None

        def got(notices: list[DeviceNotice]) -> None:
            if self.client is client:  # not locked or switched meanwhile
                self.notices = notices
                self._render()
        return call(client.device_notices(), got, self.error.emit)

    def _render(self) -> None:
        for row in self._rows:
            row.deleteLater()
        self._rows = []
        for notice in self.notices:
            row = QWidget()
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            text = plain_label(S.NEW_DEVICE_NOTICE.format(name=notice.device_id,
                                                          when=when(notice.noticed_at)))
            text.setWordWrap(True)
            remove = primary_button(
                S.REMOVE_IT, lambda _=False, d=notice.device_id: self.ask_removal(d))
            mine = QPushButton(S.IT_WAS_ME)
            mine.clicked.connect(lambda _=False, d=notice.device_id: self.dismiss(d))
            layout.addWidget(text, 1)
            layout.addWidget(remove)
            layout.addWidget(mine)
            row.setProperty("device_id", notice.device_id)
            self._layout.addWidget(row)
            self._rows.append(row)
        self.setVisible(bool(self.notices))
        self.rendered.emit()

    def buttons(self, device_id: str) -> dict[str, QPushButton]:
        """The notice's buttons by their text (for keyboard users' tests and the like)."""
        for row in self._rows:
            if row.property("device_id") == device_id:
                return {b.text(): b for b in row.findChildren(QPushButton)}
        return {}

    def ask_removal(self, device_id: str) -> RemoveDeviceDialog | None:
        if self.client is None:
            return None
        return _ask_removal(self.client, device_id, self, lambda _d: self.refresh())

    def dismiss(self, device_id: str) -> Any:
        if self.client is None:
            return None
        return call(self.client.dismiss_device_notice(device_id), lambda _: self.refresh(),
                    self.error.emit)
