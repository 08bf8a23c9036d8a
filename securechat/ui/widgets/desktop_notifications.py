"""Desktop notifications without a tray (issue 11): the freedesktop notification
service (`org.freedesktop.Notifications`, on the session bus) through QtDBus.

A notification goes as one asynchronous `Notify` call (the loop never waits on the
bus); it expires on its own (`expire_timeout`), and its body is escaped, since a
service may read markup in it (`body-markup`): what others wrote shows as the text
they typed, never as tags or links. When no service answers (no session bus, nobody
owns the name, an error, or no reply within REPLY_MS), the notification goes to the
fallback instead: the window's in-app banner.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QMetaType, QObject, pyqtSignal
from PyQt6.QtDBus import (
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusPendingCallWatcher,
    QDBusPendingReply,
)
from twisted.logger import Logger

from securechat.ui import strings as S

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
REPLY_MS = 3000  # a service that has not answered by then is not there


def markup_escaped(text: str) -> str:
    """Text for a notification body that may be read as markup: '&', '<' and '>' as
    entities (the zero-width spaces `plaintext.plain_notification` put in for the tray's
    balloons are taken out first: entities need none)."""
    return html.escape(text.replace("&\u200b", "&").replace("<\u200b", "<"), quote=False)


class DesktopNotifications(QObject):
    log = Logger()
    answered = pyqtSignal(bool)  # a Notify call ended: whether the service showed it

    def __init__(self, fallback: Callable[[str, str], Any],
                 bus: QDBusConnection | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fallback = fallback
        self._bus = bus  # None: the session bus, asked for at the first notification
        self._waiting: set[QDBusPendingCallWatcher] = set()

    def show(self, title: str, body: str, expire_ms: int) -> None:
        """`title` and `body` as plain text (already bounded by the caller)."""
        bus = self._bus if self._bus is not None else QDBusConnection.sessionBus()
        if not bus.isConnected():
            self._fallback(title, body)
            return
        call = QDBusMessage.createMethodCall(SERVICE, PATH, SERVICE, "Notify")
        replaces = QDBusArgument()
        replaces.add(0, QMetaType.Type.UInt.value)
        actions = QDBusArgument()
        actions.add([], QMetaType.Type.QStringList.value)
        call.setArguments([S.APP_NAME, replaces, "", title, markup_escaped(body), actions,
                           {}, int(expire_ms)])
        watcher = QDBusPendingCallWatcher(bus.asyncCall(call, REPLY_MS), self)
        self._waiting.add(watcher)
        watcher.finished.connect(lambda w: self._answered(w, title, body))

    def _answered(self, watcher: QDBusPendingCallWatcher, title: str, body: str) -> None:
        self._waiting.discard(watcher)
        watcher.deleteLater()
        reply = QDBusPendingReply(watcher)
        if reply.isError():
            self.log.info("no desktop notification service ({name}): shown in the window",
                          name=reply.error().name())
            self._fallback(title, body)
        self.answered.emit(not reply.isError())
