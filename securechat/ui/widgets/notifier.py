"""Desktop notifications (through the tray icon, where the desktop has one; else the
desktop's notification service over DBus, else the window's banner) and the
application's icon."""

from __future__ import annotations

from collections import deque

from PyQt6.QtCore import QObject, QRect, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PyQt6.QtWidgets import QMenu, QSystemTrayIcon

from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.plaintext import plain_notification
from securechat.ui.widgets.desktop_notifications import DesktopNotifications


def app_icon(unread: int = 0) -> QIcon:
    """The "S" icon; with a red badge counting the unread messages, if any."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(theme.LIGHT.accent))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(2, 2, 60, 60)
    font = QFont()
    font.setPixelSize(34)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("#ffffff"))
    p.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "S")
    if unread:
        badge = str(unread) if unread < 100 else "99+"
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.LIGHT.error))
        p.drawEllipse(30, 0, 34, 34)
        font.setPixelSize(20 if len(badge) < 3 else 14)
        p.setFont(font)
        p.setPen(QColor("#ffffff"))
        p.drawText(QRect(30, 0, 34, 34), Qt.AlignmentFlag.AlignCenter, badge)
    p.end()
    return QIcon(pixmap)


class Notifier(QObject):
    """Desktop notifications through the tray icon, where the desktop has a tray; else
    through the desktop's notification service (DBus), else the window's banner.

    What they reveal is the user's choice (as in Signal): sender and text, the sender
    only, or nothing but that something arrived: a notification is on screen for
    whoever stands nearby, and desktop notification daemons may keep a history."""

    FULL, NAME_ONLY, NOTHING = "full", "name", "none"
    SHOWN_KEPT = 50
    PREVIEW_CHARS = 200  # of a message's text in a notification: a preview, not the text
    SHOWN_MS = 5000  # a balloon goes after this long
    in_app = pyqtSignal(str, str)  # no tray: the window shows it (title, body)
    activated = pyqtSignal()
    quit_requested = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # what was notified, newest last: the last SHOWN_KEPT only, forgotten on lock
        self.shown: deque[tuple[str, str]] = deque(maxlen=self.SHOWN_KEPT)
        self.content = self.FULL
        # Locked while receiving (issue 11): the sender's name and the unread count only.
        self.locked = False
        self.unread = 0
        self.last_icon: QPixmap | None = None  # of the last notification (tests, tooling)
        self.tray: QSystemTrayIcon | None = None
        # No tray: the desktop's notification service, else the window's banner.
        self.desktop = DesktopNotifications(self.in_app.emit, parent=self)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip(S.APP_NAME)
            self.tray.activated.connect(lambda _reason: self.activated.emit())
            self.tray.messageClicked.connect(self.activated)
            self.menu = QMenu()
            self.menu.addAction(S.TRAY_SHOW, self.activated.emit)
            self.menu.addAction(S.ACTION_QUIT.replace("&", ""), self.quit_requested.emit)
            self.tray.setContextMenu(self.menu)
            self.tray.show()

    def message(self, name: str, text: str, avatar: QPixmap | None = None) -> None:
        """`avatar`: the sender's picture, shown when the sender is (not with NOTHING)."""
        # A name and a text chosen by others: never markup to a notification daemon.
        name, text = plain_notification(name), plain_notification(preview(text))
        if self.locked and self.content != self.NOTHING:
            self.notify(S.NOTIFY_MESSAGE.format(name=name),
                        S.NOTIFY_LOCKED_BODY.format(count=self.unread), avatar)
        elif self.content == self.FULL:
            self.notify(S.NOTIFY_MESSAGE.format(name=name), text, avatar)
        elif self.content == self.NAME_ONLY:
            self.notify(S.NOTIFY_MESSAGE.format(name=name), S.NOTIFY_HIDDEN_TEXT, avatar)
        else:
            self.notify(S.APP_NAME, S.NOTIFY_SOMETHING_NEW)

    def request(self, email: str) -> None:
        if self.content == self.NOTHING:
            self.notify(S.APP_NAME, S.NOTIFY_SOMETHING_NEW)
        else:
            self.notify(S.NOTIFY_REQUEST,
                        S.NOTIFY_REQUEST_BODY.format(email=plain_notification(email)))

    def clear(self) -> None:
        """Forget what was notified (the account is locked)."""
        self.shown.clear()

    def notify(self, title: str, body: str, icon: QPixmap | None = None) -> None:
        self.shown.append((title, body))
        self.last_icon = icon
        if self.tray is not None and icon is not None:
            self.tray.showMessage(title, body, QIcon(icon), self.SHOWN_MS)
        elif self.tray is not None:
            self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information,
                                  self.SHOWN_MS)
        else:
            self.desktop.show(title, body, self.SHOWN_MS)


def preview(text: str, limit: int = Notifier.PREVIEW_CHARS) -> str:
    """The first `limit` characters of a message on one line, "…" if there is more."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"
