"""The assistant's settings page (per device): the model (download with progress, resume
and cancel, or choose a .gguf file), its status, the CPU threads. `mount_assistant`
puts the assistant into the main window: its menu, the chat's buttons, and closing it
with the app."""

from __future__ import annotations

import os
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer

from securechat.client import Assistant
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label
from securechat.ui.widgets.assistant_panel import ChatAssistant

STEPS = 1000


class AssistantSettingsDialog(QDialog):
    download_ended = pyqtSignal()  # downloaded, failed or cancelled: the page says which

    def __init__(self, assistant: Assistant, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.assistant = assistant
        self.setWindowTitle(S.AI_SETTINGS_TITLE)
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        body = plain_label(S.AI_SETTINGS_BODY)
        body.setWordWrap(True)
        layout.addWidget(body)
        form = QFormLayout()
        self.model_file = plain_label()
        self.model_file.setWordWrap(True)
        form.addRow(S.AI_MODEL_FILE, self.model_file)
        self.status = plain_label()
        self.status.setWordWrap(True)
        form.addRow("", self.status)
        self.url = QLineEdit(assistant.settings.model_url)
        form.addRow(S.AI_MODEL_URL, self.url)
        self.sha256 = QLineEdit(assistant.settings.model_sha256 or "")
        self.sha256.setPlaceholderText(S.AI_SHA256_HINT)
        form.addRow(S.AI_MODEL_SHA256, self.sha256)
        # A download without a checksum takes a second click, after the warning.
        self._unverified_confirmed = False
        for field in (self.url, self.sha256):
            field.textEdited.connect(self._source_edited)
        self.threads = QSpinBox()
        self.threads.setRange(0, os.cpu_count() or 64)
        self.threads.setSpecialValueText(S.AI_THREADS_ALL)  # 0: all cores
        self.threads.setValue(assistant.settings.threads or 0)
        self.threads.valueChanged.connect(self.set_threads)
        form.addRow(S.AI_THREADS, self.threads)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, STEPS)
        self.progress.hide()
        layout.addWidget(self.progress)
        buttons = QHBoxLayout()
        self.choose_button = QPushButton(S.AI_CHOOSE_FILE)
        self.choose_button.clicked.connect(lambda: self.choose_file())
        self.download_button = QPushButton(S.AI_DOWNLOAD)
        self.download_button.clicked.connect(self.download)
        self.cancel_button = QPushButton(S.AI_CANCEL_DOWNLOAD)
        self.cancel_button.clicked.connect(assistant.cancel_download)
        self.cancel_button.hide()
        for button in (self.choose_button, self.download_button, self.cancel_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        assistant.service.status_listeners.append(self._status_changed)
        self.finished.connect(lambda _: self._status_changed in assistant.service.status_listeners
                              and assistant.service.status_listeners.remove(
                                  self._status_changed))
        self.refresh()

    def refresh(self, message: str | None = None) -> None:
        self.model_file.setText(self.assistant.settings.model_path or S.AI_NO_MODEL)
        service = self.assistant.service
        status = S.AI_STATUS.get(service.status, service.status)
        if service.unsupported is not None:
            status = str(service.unsupported)
        self.status.setText(message or status)

    def _status_changed(self, _status: str) -> None:
        self.refresh()

    def choose_file(self, path: str | None = None) -> Any:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, S.AI_CHOOSE_FILE, "", S.AI_GGUF_FILTER)
            if not path:
                return None
        return call(defer.maybeDeferred(self.assistant.choose_model_file, path),
                    lambda _: self.refresh(), self.refresh)

    def set_threads(self, value: int) -> Any:
        return call(self.assistant.update_settings(threads=value or None))

    def _source_edited(self, _text: str) -> None:
        self._unverified_confirmed = False
        self.download_button.setText(S.AI_DOWNLOAD)

    def download(self) -> Any:
        self.assistant.settings.model_url = self.url.text().strip()
        self.assistant.settings.model_sha256 = self.sha256.text().strip().lower() or None
        verified = self.assistant.settings.model_sha256 is not None
        if not verified and not self._unverified_confirmed:
            self._unverified_confirmed = True  # the next click says yes
            self.download_button.setText(S.AI_DOWNLOAD_UNVERIFIED)
            self.status.setText(S.AI_UNVERIFIED)
            return None
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.download_button.setEnabled(False)
        self.choose_button.setEnabled(False)
        self.status.setText("")

        def over() -> None:
            self.cancel_button.hide()
            self.download_button.setEnabled(True)
            self.choose_button.setEnabled(True)

        def done(_path: str) -> None:
            over()
            self.download_button.setText(S.AI_DOWNLOAD)
            self.refresh(S.AI_DOWNLOADED if verified else S.AI_DOWNLOADED_UNVERIFIED)
            self.download_ended.emit()

        def failed(message: str) -> None:
            over()
            self.progress.hide()
            self.download_button.setText(S.AI_RETRY)
            self.refresh(message)
            self.download_ended.emit()
        return call(defer.maybeDeferred(self.assistant.download_model, self._progress,
                                        allow_unverified=not verified), done, failed)

    def _progress(self, done: int, total: int | None) -> None:
        if total:
            self.progress.setRange(0, STEPS)
            self.progress.setValue(STEPS * done // total)
        else:
            self.progress.setRange(0, 0)  # busy: the size is unknown


def mount_assistant(window: Any) -> Assistant:
    """The device's assistant in the main window: an Assistant menu with its settings
    page, the chat's assistant buttons; it is closed (model unloaded) with the app."""
    assistant = Assistant(window.reactor, window.data_dir)
    window.chat_assistant = ChatAssistant(window.main.chat, assistant)
    menu = window.menuBar().addMenu(S.AI_MENU)
    action = QAction(S.AI_SETTINGS, window)

    def show() -> AssistantSettingsDialog:
        dialog = AssistantSettingsDialog(assistant, window)
        dialog.show()
        window.assistant_dialog = dialog
        return dialog
    action.triggered.connect(show)
    menu.addAction(action)
    window.show_assistant_settings = show
    return assistant
