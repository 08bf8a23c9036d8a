"""Avatars on screen: round pictures (or initials on a colour when there is none) in the
session list, the chat header and notifications, kept current as profiles change
(events.ProfileUpdated).

The pictures come from the core (client.profiles), which decoded, bounded and
re-encoded every one of them; Qt only draws them here. `AvatarDecorations.mount` wires
it all into the main window with one line.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QObject, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPainterPath, QPixmap
from PyQt6.QtWidgets import QPushButton, QWidget

from securechat.client import SecureChatClient, events
from securechat.ui.delegates import avatar_colour
from securechat.ui.format import initials


def round_avatar(data: bytes | None, size: int, name: str, key: str) -> QPixmap:
    """The picture in `data` (PNG or JPEG) cut to a circle of `size` pixels; without one
    (or if Qt cannot read it), the name's initials on the key's colour."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    image = QImage.fromData(data) if data else QImage()
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    circle = QPainterPath()
    circle.addEllipse(QRectF(0, 0, size, size))
    p.setClipPath(circle)
    if not image.isNull():
        p.drawImage(QRectF(0, 0, size, size), image)
    else:
        p.fillPath(circle, avatar_colour(key))
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(8, size * 2 // 5))
        p.setFont(font)
        p.setPen(QColor("#ffffff"))
        p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter,
                   initials(name) or "?")
    p.end()
    return pixmap


class AvatarButton(QPushButton):
    """A round avatar that opens the profile when clicked (the chat header's)."""

    SIZE = 36

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFlat(True)
        self.setFixedSize(self.SIZE + 4, self.SIZE + 4)
        self.setIconSize(QPixmap(self.SIZE, self.SIZE).size())
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.pixmap: QPixmap | None = None

    def show_avatar(self, pixmap: QPixmap | None) -> None:
        self.pixmap = pixmap
        self.setIcon(QIcon() if pixmap is None else QIcon(pixmap))
        self.setVisible(pixmap is not None)


class AvatarDecorations(QObject):
    """One per open account in the main window: the session list's avatar role, the
    chat header's avatar and the notifications' icon, from client.profiles."""

    changed = pyqtSignal(str)  # a user id whose avatar changed

    def __init__(self, main: Any, client: SecureChatClient) -> None:
        super().__init__(main)
        self._main = main
        self._client = client
        self._cache: dict[tuple[str, int], QPixmap] = {}
        chat = main.chat
        if getattr(chat, "avatar_button", None) is None:
            chat.avatar_button = AvatarButton()
            chat.avatar_button.clicked.connect(
                lambda: chat.peer and chat.profile_requested.emit(chat.peer))
            chat.header_layout.insertWidget(0, chat.avatar_button)
        chat.model.modelReset.connect(self._chat_opened)
        main.sessions.modelReset.connect(self._all)
        client.events.subscribe(self._profile_updated, events.ProfileUpdated)
        self._all()
        self._chat_opened()

    @classmethod
    def mount(cls, main: Any, client: SecureChatClient | None) -> AvatarDecorations | None:
        old = getattr(main, "avatars", None)
        if old is not None:
            old.close()
        main.avatars = cls(main, client) if client is not None else None
        if client is None and getattr(main.chat, "avatar_button", None) is not None:
            main.chat.avatar_button.show_avatar(None)
        return main.avatars

    def close(self) -> None:
        self._client.events.unsubscribe(self._profile_updated)
        self._main.chat.model.modelReset.disconnect(self._chat_opened)
        self._main.sessions.modelReset.disconnect(self._all)
        self.setParent(None)

    def pixmap(self, user_id: str, size: int) -> QPixmap:
        """A contact's (or my) avatar, round, `size` pixels: initials if none."""
        key = (user_id, size)
        if key not in self._cache:
            contact = self._client.contacts.get(user_id)
            name = contact.display_name if contact else self._client.me.public_name
            self._cache[key] = round_avatar(self._client.profiles.avatar(user_id), size,
                                            name, user_id)
        return self._cache[key]

    def has_picture(self, user_id: str) -> bool:
        return self._client.profiles.avatar(user_id) is not None

    def _profile_updated(self, event: Any) -> None:
        for key in [k for k in self._cache if k[0] == event.user_id]:
            del self._cache[key]
        self._show(event.user_id)
        self.changed.emit(event.user_id)

    def _all(self) -> None:
        for peer in list(self._client.contacts):
            self._show(peer, chat=False)

    def _show(self, peer: str, chat: bool = True) -> None:
        sessions = self._main.sessions
        sessions.set_avatar(peer, self.pixmap(peer, 44) if self.has_picture(peer) else None)
        if chat and self._main.chat.peer == peer:
            self._chat_opened()

    def _chat_opened(self) -> None:
        peer = self._main.chat.peer
        button = self._main.chat.avatar_button
        button.show_avatar(self.pixmap(peer, AvatarButton.SIZE) if peer else None)

