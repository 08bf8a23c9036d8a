"""Edit my own profile: the display name my contacts see and my avatar (a picture I pick,
cropped to its centre square and scaled to 256x256 at most here with Qt, shown before
it is saved; the core checks and scales it again: client.profiles)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QBuffer, QIODevice, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import MAX_PROFILE_NAME, SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label
from securechat.ui.widgets.avatars import round_avatar

AVATAR_SIDE = 256
PREVIEW = 96


def cropped_png(image: QImage) -> bytes:
    """The centre square of `image`, scaled down to AVATAR_SIDE at most, as PNG."""
    side = min(image.width(), image.height())
    square = image.copy((image.width() - side) // 2, (image.height() - side) // 2, side, side)
    if side > AVATAR_SIDE:
        square = square.scaled(AVATAR_SIDE, AVATAR_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    square.save(buffer, "PNG")
    return bytes(buffer.data())


class MyProfileDialog(QDialog):
    """Name and avatar; Save hands them to the core, which tells my contacts and my
    other devices."""

    def __init__(self, client: SecureChatClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.setWindowTitle(S.MY_PROFILE_TITLE)
        mine = client.profiles.mine
        self.picture: bytes | None = mine.avatar  # what Save sends (None: none)
        layout = QVBoxLayout(self)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.preview)
        pictures = QHBoxLayout()
        self.choose = QPushButton(S.CHOOSE_PICTURE)
        self.choose.clicked.connect(self._choose)
        self.remove = QPushButton(S.REMOVE_PICTURE)
        self.remove.clicked.connect(lambda: self._set_picture(None))
        pictures.addWidget(self.choose)
        pictures.addWidget(self.remove)
        layout.addLayout(pictures)
        layout.addWidget(QLabel(S.DISPLAY_NAME))
        self.name = QLineEdit(mine.name)
        self.name.setMaxLength(MAX_PROFILE_NAME)
        self.name.textChanged.connect(lambda _: self._show_preview())
        layout.addWidget(self.name)
        self.status = plain_label()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Close)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._show_preview()

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, S.CHOOSE_PICTURE, "", S.PICTURE_FILTER)
        if path:
            self.load_picture(path)

    def load_picture(self, path: str) -> bool:
        """Read, crop and scale a picture file (what Choose does); False if unreadable."""
        image = QImage(path)
        if image.isNull():
            self.status.setText(S.PICTURE_UNREADABLE)
            return False
        self._set_picture(cropped_png(image))
        return True

    def _set_picture(self, picture: bytes | None) -> None:
        self.picture = picture
        self.status.clear()
        self._show_preview()

    def _show_preview(self) -> None:
        self.preview.setPixmap(round_avatar(self.picture, PREVIEW, self.name.text(),
                                            self.client.me.user_id))
        self.remove.setEnabled(self.picture is not None)

    def save(self) -> Any:
        mine = self.client.profiles.mine
        changed = self.picture != mine.avatar
        self.save_button.setEnabled(False)

        def saved(_: Any) -> None:
            self.save_button.setEnabled(True)
            self.status.setText(S.PROFILE_SAVED)

        def failed(message: str) -> None:
            self.save_button.setEnabled(True)
            self.status.setText(message)

        return call(self.client.profiles.set(
            name=self.name.text(), avatar=self.picture if changed else None,
            remove_avatar=changed and self.picture is None), saved, failed)


def open_my_profile(parent: QWidget, client: SecureChatClient | None) -> MyProfileDialog | None:
    """The dialog for the open account (none while locked)."""
    if client is None:
        return None
    dialog = MyProfileDialog(client, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
