"""The vault's item editor: a password (with the generator), a note, or a file's title.

The editor only collects what is typed; the vault window saves it through the core and
tells the editor how that went (`saved`, or `show_error` to let the user try again)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from securechat.client import ClientError, VaultItemType, generate_password
from securechat.ui import strings as S
from securechat.ui.plaintext import plain_label, wrapped_label

GENERATED_LENGTH = 20
MAX_GENERATED = 128


class ItemEditor(QDialog):
    save_requested = pyqtSignal(dict)  # the item's title and fields, as typed

    def __init__(self, kind: VaultItemType, values: dict[str, Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        values = values or {}
        self.setWindowTitle({VaultItemType.PASSWORD: S.EDITOR_PASSWORD_TITLE,
                             VaultItemType.NOTE: S.EDITOR_NOTE_TITLE,
                             VaultItemType.FILE: S.EDITOR_FILE_TITLE}[kind])
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.title = QLineEdit(str(values.get("title", "")))
        form.addRow(S.EDITOR_ITEM_TITLE, self.title)
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {}
        if kind == VaultItemType.PASSWORD:
            self._password_rows(form, values)
        elif kind == VaultItemType.NOTE:
            text = QPlainTextEdit(str(values.get("text", "")))
            self.fields["text"] = text
            form.addRow(S.EDITOR_TEXT, text)
        layout.addLayout(form)
        self.error = wrapped_label(style="error")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        save.setText(S.SAVE_ITEM)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _password_rows(self, form: QFormLayout, values: dict[str, Any]) -> None:
        self.username = QLineEdit(str(values.get("username", "")))
        self.password = QLineEdit(str(values.get("password", "")))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_password = QCheckBox(S.EDITOR_SHOW)
        self.show_password.toggled.connect(lambda on: self.password.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        row = QHBoxLayout()
        row.addWidget(self.password, 1)
        row.addWidget(self.show_password)
        self.url = QLineEdit(str(values.get("url", "")))
        self.notes = QPlainTextEdit(str(values.get("notes", "")))
        form.addRow(S.EDITOR_USERNAME, self.username)
        form.addRow(S.EDITOR_PASSWORD, row)
        # the generator: length and symbols, then Generate fills the password field
        generator = QHBoxLayout()
        self.length = QSpinBox()
        self.length.setRange(4, MAX_GENERATED)
        self.length.setValue(GENERATED_LENGTH)
        self.symbols = QCheckBox(S.EDITOR_SYMBOLS)
        self.symbols.setChecked(True)
        self.generate_button = QPushButton(S.EDITOR_GENERATE)
        self.generate_button.clicked.connect(self.generate)
        generator.addWidget(plain_label(S.EDITOR_LENGTH))
        generator.addWidget(self.length)
        generator.addWidget(self.symbols)
        generator.addStretch(1)
        generator.addWidget(self.generate_button)
        form.addRow("", generator)
        form.addRow(S.EDITOR_URL, self.url)
        form.addRow(S.EDITOR_NOTES, self.notes)
        self.fields.update(username=self.username, password=self.password, url=self.url,
                           notes=self.notes)

    def generate(self) -> None:
        try:
            self.password.setText(generate_password(self.length.value(),
                                                    self.symbols.isChecked()))
        except ClientError as e:
            self.show_error(str(e))

    def values(self) -> dict[str, str]:
        """The title and the fields of this kind, as typed."""
        found = {"title": self.title.text().strip()}
        for name, field in self.fields.items():
            found[name] = (field.toPlainText() if isinstance(field, QPlainTextEdit)
                           else field.text())
        return found

    def submit(self) -> None:
        values = self.values()
        if not values["title"]:
            self.show_error(S.EDITOR_TITLE_MISSING)
            return
        self.buttons.setEnabled(False)
        self.error.setText(S.VAULT_SAVING)
        self.save_requested.emit(values)

    def saved(self) -> None:
        for field in self.fields.values():
            field.clear()  # the secrets leave the widgets
        self.accept()

    def show_error(self, message: str) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(message)
