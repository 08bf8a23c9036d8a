"""A contact's profile: name, email, nickname, safety number (12 groups of 5), its QR code
and the verified mark."""

from __future__ import annotations

import qrcode
from PyQt6 import sip
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import MAX_ALIAS, Contact
from securechat.ui import strings as S
from securechat.ui.plaintext import plain_label


def format_safety_number(digits: str) -> str:
    """60 digits as 12 groups of 5, four groups a line."""
    groups = [digits[i:i + 5] for i in range(0, len(digits), 5)]
    return "\n".join(" ".join(groups[i:i + 4]) for i in range(0, len(groups), 4))


def qr_image(payload: bytes, scale: int = 6) -> QImage:
    """The QR code of `payload` (binary mode), black on white with a quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    image = QImage(size, size, QImage.Format.Format_RGB32)
    white, black = QColor("#ffffff").rgb(), QColor("#000000").rgb()
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            image.setPixel(x, y, black if dark else white)
    return image.scaled(size * scale, size * scale, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.FastTransformation)


class ProfileDialog(QDialog):
    """Shows a contact; the nickname and verified mark go back as signals (the page
    owning the dialog calls the core)."""

    alias_changed = pyqtSignal(str)
    notes_changed = pyqtSignal(str)  # private notes, synced to my own devices only
    verified_changed = pyqtSignal(bool)
    refused = pyqtSignal(str)  # the core refused a change: the message shown
    verified_saved = pyqtSignal()  # the core took the verified mark (or its removal)

    def __init__(self, contact: Contact, safety_number: str, qr_payload: bytes,
                 parent: QWidget | None = None, avatar: QPixmap | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(S.PROFILE_TITLE)
        layout = QVBoxLayout(self)
        self.avatar = QLabel()  # their picture (or initials), drawn by ui.widgets.avatars
        self.avatar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if avatar is not None:
            self.avatar.setPixmap(avatar)
        layout.addWidget(self.avatar)
        title = plain_label(contact.display_name)  # names and emails: shown literally
        title.setObjectName("title")
        layout.addWidget(title)
        email_label = plain_label(contact.peer_email)
        email_label.setObjectName("muted")
        layout.addWidget(email_label)
        alias_row = QHBoxLayout()
        self.alias = QLineEdit(contact.alias_name or "")
        self.alias.setPlaceholderText(S.NICKNAME)
        self.alias.setMaxLength(MAX_ALIAS)
        self.alias.returnPressed.connect(self._save_alias)
        save = QPushButton(S.SAVE)
        save.clicked.connect(self._save_alias)
        alias_row.addWidget(self.alias, 1)
        alias_row.addWidget(save)
        layout.addLayout(alias_row)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText(S.NOTES)
        self.notes.setMaximumHeight(72)
        layout.addWidget(self.notes)
        self.save_notes = QPushButton(S.SAVE_NOTES)
        self.save_notes.clicked.connect(lambda: self.notes_changed.emit(
            self.notes.toPlainText()))
        layout.addWidget(self.save_notes, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(QLabel(f"<b>{S.SHARED_MEDIA}</b>"))
        self.shared_media = plain_label(S.SHARED_MEDIA_NONE.format(name=contact.display_name))
        self.shared_media.setWordWrap(True)
        self.shared_media.setObjectName("muted")
        layout.addWidget(self.shared_media)
        layout.addWidget(QLabel(f"<b>{S.SAFETY_NUMBER}</b>"))
        self.number = QLabel(format_safety_number(safety_number))
        self.number.setStyleSheet("font-family: monospace; font-size: 16px;")
        self.number.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.number)
        self.qr = QLabel()
        self.qr.setPixmap(QPixmap.fromImage(qr_image(qr_payload)))
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.qr)
        help_text = plain_label(S.SAFETY_HELP.format(name=contact.display_name))
        help_text.setWordWrap(True)
        help_text.setObjectName("muted")
        layout.addWidget(help_text)
        # Their devices changed since I verified them: the mark was taken back; say why.
        self.recheck = plain_label(S.DEVICES_CHANGED_RECHECK.format(name=contact.display_name))
        self.recheck.setWordWrap(True)
        self.recheck.setStyleSheet("color: #b45309; font-weight: 600;")
        self.recheck.setVisible(contact.devices_changed)
        layout.addWidget(self.recheck)
        self.verified = QCheckBox(S.MARK_VERIFIED)
        self.verified.setChecked(contact.verified)
        self.verified.toggled.connect(self.verified_changed)
        layout.addWidget(self.verified)
        self.error = plain_label()
        self.error.setWordWrap(True)
        self.error.setObjectName("error")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def show_notes(self, notes: str | None) -> None:
        """The stored notes, once read (the dialog may have closed meanwhile)."""
        if not sip.isdeleted(self.notes):
            self.notes.setPlainText(notes or "")

    def _save_alias(self) -> None:
        self.alias_changed.emit(self.alias.text())

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.refused.emit(message)

    def verified_settled(self) -> None:
        """The core took the mark (or its removal): the re-check notice is done."""
        self.recheck.hide()
        self.verified_saved.emit()

    def verified_refused(self, message: str) -> None:
        """The core did not take the mark: the box shows what is stored."""
        self.verified.blockSignals(True)
        self.verified.setChecked(not self.verified.isChecked())
        self.verified.blockSignals(False)
        self.show_error(message)
