"""The settings window: appearance (theme, language), notifications (what they show,
close to tray), calls (microphone, camera), security (PIN, master password, linked
devices), and About.

Every choice applies at once and is remembered in the window's QSettings; the security
buttons are the Account menu's own actions, so they are enabled exactly when those are."""

from __future__ import annotations

import glob
import os
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import securechat
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.plaintext import wrapped_label
from securechat.ui.widgets.device_picker import DevicePickers
from securechat.ui.windows.screen_lock import RECEIVE_WHILE_LOCKED_KEY, receive_while_locked

THEME_KEY = "appearance/theme"
LANGUAGE_KEY = "appearance/language"  # "" for the system's (read by ui.app at start)
CLOSE_TO_TRAY_KEY = "window/close_to_tray"


def close_to_tray(settings: QSettings) -> bool:
    return str(settings.value(CLOSE_TO_TRAY_KEY, "true")).lower() == "true"


def languages() -> list[str]:
    """The languages a translation was compiled for (securechat_<lang>.qm)."""
    found = glob.glob(os.path.join(S.I18N_DIR, f"{S.CONTEXT}_*.qm"))
    return sorted(os.path.basename(f)[len(S.CONTEXT) + 1:-3] for f in found)


class ActionButton(QPushButton):
    """A button for one of the menu's actions, enabled when it is (a bound slot: the
    connection goes with the button)."""

    def __init__(self, action: QAction) -> None:
        super().__init__(action.text().replace("&", ""))
        self.action = action
        self.clicked.connect(action.trigger)
        action.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        self.setEnabled(self.action.isEnabled())


class SettingsDialog(QDialog):
    def __init__(self, settings: QSettings, notification_choices: dict[str, QAction],
                 has_tray: bool, security: list[QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(S.SETTINGS_TITLE)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        # appearance
        appearance = QGroupBox(S.SETTINGS_APPEARANCE)
        form = QFormLayout(appearance)
        self.theme = QComboBox()
        for name in theme.CHOICES:
            self.theme.addItem(S.THEME_NAMES[name], name)
        self.theme.setCurrentIndex(theme.CHOICES.index(theme.choice()))
        self.theme.currentIndexChanged.connect(self._theme_chosen)
        form.addRow(S.SETTINGS_THEME, self.theme)
        self.language = QComboBox()
        self.language.addItem(S.LANGUAGE_SYSTEM, "")
        self.language.addItem("English", "en")
        for code in languages():
            if code != "en":
                self.language.addItem(code, code)
        current = self.language.findData(str(settings.value(LANGUAGE_KEY, "")))
        self.language.setCurrentIndex(max(current, 0))
        self.language.currentIndexChanged.connect(
            lambda _: settings.setValue(LANGUAGE_KEY, self.language.currentData()))
        form.addRow(S.SETTINGS_LANGUAGE, self.language)
        form.addRow(wrapped_label(S.LANGUAGE_NEXT_START))
        layout.addWidget(appearance)
        # notifications
        notifications = QGroupBox(S.SETTINGS_NOTIFICATIONS)
        form = QFormLayout(notifications)
        self.notify = QComboBox()
        for content, act in notification_choices.items():
            self.notify.addItem(act.text(), content)
            if act.isChecked():
                self.notify.setCurrentIndex(self.notify.count() - 1)
        self.notify.currentIndexChanged.connect(
            lambda _: notification_choices[self.notify.currentData()].trigger())
        form.addRow(S.NOTIFY_SHOWS, self.notify)
        self.close_to_tray = QCheckBox(S.CLOSE_TO_TRAY)
        self.close_to_tray.setChecked(has_tray and close_to_tray(settings))
        self.close_to_tray.setEnabled(has_tray)
        self.close_to_tray.toggled.connect(
            lambda on: settings.setValue(CLOSE_TO_TRAY_KEY, "true" if on else "false"))
        form.addRow(self.close_to_tray)
        if not has_tray:
            form.addRow(wrapped_label(S.NO_TRAY))
        # issue 11: a locked app can still receive and notify, name only (screen_lock.py)
        self.receive_while_locked = QCheckBox(S.RECEIVE_WHILE_LOCKED)
        self.receive_while_locked.setChecked(receive_while_locked(settings))
        self.receive_while_locked.toggled.connect(lambda on: settings.setValue(
            RECEIVE_WHILE_LOCKED_KEY, "true" if on else "false"))
        form.addRow(self.receive_while_locked)
        self.receive_while_locked_info = wrapped_label(S.RECEIVE_WHILE_LOCKED_INFO)
        form.addRow(self.receive_while_locked_info)
        layout.addWidget(notifications)
        self.devices = DevicePickers(settings)  # the microphone and camera calls use
        layout.addWidget(self.devices)
        # security: the Account menu's actions
        box = QGroupBox(S.SETTINGS_SECURITY)
        buttons = QVBoxLayout(box)
        self.security_buttons = [ActionButton(act) for act in security]
        for button in self.security_buttons:
            buttons.addWidget(button)
        layout.addWidget(box)
        # about
        about = QGroupBox(S.SETTINGS_ABOUT)
        QVBoxLayout(about).addWidget(about_label())
        layout.addWidget(about)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)

    def _theme_chosen(self, _: Any) -> None:
        choice = self.theme.currentData()
        self.settings.setValue(THEME_KEY, choice)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.choose(app, choice)
            for widget in app.topLevelWidgets():
                widget.update()


def about_label() -> QLabel:
    label = wrapped_label(S.ABOUT_TEXT.format(version=securechat.__version__), "")
    label.setObjectName("about")
    return label
