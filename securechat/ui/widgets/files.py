"""A conversation's files: attach (the 📎 button, drag and drop onto the chat, paste into
the composer), a preview to confirm (images shown), and the conversation's latest files
with a progress bar and Cancel while they move, Download for one offered, Save… once it
is here. Everything is `client.files`; this only shows it."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from typing import Any

from PyQt6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, Qt, pyqtSignal
from PyQt6.QtGui import QGuiApplication, QImage, QKeyEvent, QKeySequence, QPixmap
from PyQt6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from securechat.client import MediaItem, MediaStatus, MessageType, SecureChatClient, events
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label
from securechat.ui.widgets.elided import ElidedLabel

SHOWN = 4  # the conversation's latest files listed under it
THUMBNAIL_PX = 160  # the thumbnail sent with an image (FILE_INFO) and shown here
MAX_THUMBNAIL = 96 * 1024  # characters of a thumbnail data: URL (protocol.frames)
PROGRESS_STEPS = 1000


def size_text(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def shown_text(message: Any) -> str:
    """What a conversation or the session list shows of a message: for a file, its name,
    size and caption (its stored text is the spec's JSON), else the text itself."""
    if message.type not in (MessageType.IMAGE, MessageType.FILE):
        return str(message.text)
    try:
        body = json.loads(message.text)
        line = S.FILE_LINE.format(name=body["filename"], size=size_text(int(body["size"])))
    except (ValueError, KeyError, TypeError):
        return str(message.text)
    caption = body.get("caption")
    return f"{line}\n{caption}" if isinstance(caption, str) and caption else line


def thumbnail_of(image: QImage) -> str:
    """A small JPEG of the image as a data: URL ("" if it cannot be made small enough)."""
    if image.isNull():
        return ""
    small = image.scaled(THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    small.save(buffer, "JPEG", 70)
    url = "data:image/jpeg;base64," + base64.b64encode(bytes(data.data())).decode()
    return url if len(url) <= MAX_THUMBNAIL else ""


def pixmap_of(data_url: str) -> QPixmap | None:
    """The image of a data: URL a peer sent (decoded by Qt as an image, nothing else)."""
    if not data_url.startswith("data:image/") or ";base64," not in data_url:
        return None
    try:
        raw = base64.b64decode(data_url.split(";base64,", 1)[1], validate=True)
    except ValueError:
        return None
    pixmap = QPixmap()
    return pixmap if pixmap.loadFromData(raw) else None


class FileRow(QFrame):
    """One file: its thumbnail, name and size, a progress bar, and what can be done now."""

    def __init__(self, bar: FileBar, item: MediaItem) -> None:
        super().__init__()
        self.item = item
        self._bar = bar
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        self.thumbnail = QLabel()
        pixmap = pixmap_of(item.thumbnail)
        if pixmap is not None:
            self.thumbnail.setPixmap(pixmap.scaled(48, 48, Qt.AspectRatioMode.KeepAspectRatio))
        layout.addWidget(self.thumbnail)
        texts = QVBoxLayout()
        # the name the peer chose, of any length: one line, "…" (never widens the chat)
        self.name = ElidedLabel(S.FILE_SIZE.format(name=item.original_name,
                                                   size=size_text(item.file_size)))
        self.state = plain_label()  # a reason may quote the peer's file name
        self.state.setObjectName("muted")
        texts.addWidget(self.name)
        texts.addWidget(self.state)
        layout.addLayout(texts, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setMaximumWidth(160)
        layout.addWidget(self.progress)
        self.action = QPushButton()
        self.action.clicked.connect(self._act)
        layout.addWidget(self.action)
        self.show_item(item)

    def show_item(self, item: MediaItem) -> None:
        self.item = item
        moving = item.status in (MediaStatus.UPLOADING, MediaStatus.DOWNLOADING)
        self.progress.setVisible(moving)
        if item.status == MediaStatus.FAILED:
            self.state.setText(S.FILE_FAILED.format(reason=item.error or ""))
        elif item.status == MediaStatus.CANCELED:
            self.state.setText(S.FILE_CANCELED)
        self.action.setText(S.CANCEL if moving else S.FILE_SAVE if item.available
                            else S.FILE_DOWNLOAD)

    def progressed(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setValue(PROGRESS_STEPS * done // max(total, 1))

    def _act(self) -> None:
        if self.item.status in (MediaStatus.UPLOADING, MediaStatus.DOWNLOADING):
            self._bar.cancel(self.item)
        elif self.item.available:
            self._bar.save(self.item)
        else:
            self._bar.download(self.item)


class FileBar(QWidget):
    """Mounted under a ChatView's messages; `attach_button` goes beside the composer."""

    error = pyqtSignal(str)
    changed = pyqtSignal()  # rows or their state changed (tests, tooling)

    def __init__(self, chat: QWidget, composer: QWidget) -> None:
        super().__init__(chat)
        self.client: SecureChatClient | None = None
        self.peer: str | None = None
        self.sid: str | None = None
        self.picked: str | None = None  # the file previewed, waiting for confirmation
        self.rows: dict[str, FileRow] = {}
        self.attach_button = QPushButton(S.ATTACH)
        self.attach_button.setToolTip(S.ATTACH_TIP)
        self.attach_button.clicked.connect(self.choose)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # the preview of a picked file, with Send / Cancel
        self.preview = QFrame()
        preview = QHBoxLayout(self.preview)
        self.preview_image = QLabel()
        self.preview_name = ElidedLabel()
        self.send_button = QPushButton(S.FILE_SEND)
        self.send_button.clicked.connect(self.confirm)
        cancel = QPushButton(S.CANCEL)
        cancel.clicked.connect(self.unpick)
        preview.addWidget(self.preview_image)
        preview.addWidget(self.preview_name, 1)
        preview.addWidget(self.send_button)
        preview.addWidget(cancel)
        self.preview.hide()
        layout.addWidget(self.preview)
        self.list = QVBoxLayout()
        layout.addLayout(self.list)
        self._temporary = tempfile.TemporaryDirectory(prefix="securechat-paste-")
        chat.setAcceptDrops(True)
        chat.installEventFilter(self)
        composer.installEventFilter(self)

    # --- which conversation -------------------------------------------------------------

    def show_conversation(self, client: SecureChatClient | None, peer: str | None) -> None:
        if self.client is not None:
            self.client.events.unsubscribe(self._event)
        self.client, self.peer = client, peer
        self.sid = client.contacts[peer].sid if client is not None and peer else None
        self.unpick()
        for row in self.rows.values():
            row.deleteLater()
        self.rows = {}
        self.attach_button.setEnabled(self.sid is not None)
        if client is None or peer is None:
            return
        client.events.subscribe(self._event)
        call(client.files.shared_media(peer), self._listed, self.error.emit)

    def _listed(self, items: list[MediaItem]) -> None:
        for item in reversed(items[:SHOWN]):
            self._show(item)

    def _show(self, item: MediaItem) -> FileRow:
        row = self.rows.get(item.message_id)
        if row is None:
            row = self.rows[item.message_id] = FileRow(self, item)
            self.list.addWidget(row)
            while len(self.rows) > SHOWN:
                oldest = next(iter(self.rows))
                self.rows.pop(oldest).deleteLater()
        else:
            row.show_item(item)
        self.changed.emit()
        return row

    # --- attaching ----------------------------------------------------------------------

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, S.ATTACH_CHOOSE)
        if path:
            self.pick(path)

    def pick(self, path: str) -> None:
        """Preview a file (an image shown) before it is sent."""
        if self.sid is None:
            return
        self.picked = path
        name = os.path.basename(path)
        try:
            size = size_text(os.path.getsize(path))
        except OSError:
            size = "?"
        self.preview_name.setText(S.FILE_SIZE.format(name=name, size=size))
        image = QImage(path)
        if not image.isNull():
            self.preview_image.setPixmap(QPixmap.fromImage(image.scaled(
                THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio)))
            self.preview_image.show()
        else:
            self.preview_image.clear()
            self.preview_image.hide()
        self.preview.show()
        self.send_button.setFocus()

    def unpick(self) -> None:
        self.picked = None
        self.preview.hide()

    def confirm(self) -> Any:
        """Send the previewed file (its thumbnail made here, for an image)."""
        if self.client is None or self.peer is None or self.picked is None:
            return None
        path, self.picked = self.picked, None
        self.preview.hide()
        return call(self.client.files.send(self.peer, path,
                                           thumbnail=thumbnail_of(QImage(path))),
                    failed=self.error.emit)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None or self.sid is None:
            return False
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()  # type: ignore[attr-defined]
            if mime is not None and any(u.isLocalFile() for u in mime.urls()):
                event.acceptProposedAction()  # type: ignore[attr-defined]
                return True
        elif kind == QEvent.Type.Drop:
            mime = event.mimeData()  # type: ignore[attr-defined]
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime else []
            if files:
                event.acceptProposedAction()  # type: ignore[attr-defined]
                self.pick(files[0])
                return True
        elif (kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
              and event.matches(QKeySequence.StandardKey.Paste)):
            return self.paste()
        return False

    def paste(self) -> bool:
        """A file or an image on the clipboard is attached (True); text is left to the
        composer (False)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return False
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if files:
            self.pick(files[0])
            return True
        if mime.hasImage():
            path = os.path.join(self._temporary.name, S.FILE_PASTED)
            if QImage(mime.imageData()).save(path, "PNG"):
                self.pick(path)
                return True
        return False

    # --- transfers ----------------------------------------------------------------------

    def cancel(self, item: MediaItem) -> Any:
        assert self.client is not None
        return call(self.client.files.cancel(item.message_id), failed=self.error.emit)

    def download(self, item: MediaItem) -> Any:
        assert self.client is not None
        return call(self.client.files.download(item.message_id), failed=self.error.emit)

    def save(self, item: MediaItem) -> Any:
        path, _ = QFileDialog.getSaveFileName(self, S.FILE_SAVE_AS, item.original_name)
        if not path or self.client is None:
            return None
        row = self.rows.get(item.message_id)
        return call(self.client.files.save(item.message_id, path),
                    lambda saved: row and row.state.setText(S.FILE_SAVED.format(path=saved)),
                    self.error.emit)

    def _event(self, event: Any) -> None:
        if isinstance(event, events.FileProgress):
            row = self.rows.get(event.message_id)
            if row is not None:
                row.progressed(event.done, event.total)
        elif isinstance(event, events.FileOffered | events.FileTransferred):
            if event.item.sid == self.sid:
                self._show(event.item)
        elif isinstance(event, events.MessageSent | events.MessageReceived):
            if event.message.sid == self.sid and event.message.type in ("image", "file"):
                self._refresh(event.message.id)
        elif isinstance(event, events.FileFailed) and event.message_id in self.rows:
            self._refresh(event.message_id)

    def _refresh(self, message_id: str) -> None:
        assert self.client is not None
        call(self.client.files.item(message_id),
             lambda item: item is not None and item.sid == self.sid and self._show(item))
