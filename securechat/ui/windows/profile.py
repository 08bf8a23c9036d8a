"""A contact's profile: name, email, safety number (12 groups of 5) and its QR code."""

from __future__ import annotations

import qrcode
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage, QPixmap
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from securechat.ui import strings as S


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
    def __init__(self, name: str, email: str, safety_number: str, qr_payload: bytes,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(S.PROFILE_TITLE)
        layout = QVBoxLayout(self)
        title = QLabel(name)
        title.setObjectName("title")
        layout.addWidget(title)
        email_label = QLabel(email)
        email_label.setObjectName("muted")
        layout.addWidget(email_label)
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
        help_text = QLabel(S.SAFETY_HELP.format(name=name))
        help_text.setWordWrap(True)
        help_text.setObjectName("muted")
        layout.addWidget(help_text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
