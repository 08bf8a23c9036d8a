"""A new device getting its history from my other devices (issue 13's HistoryProgress):
a line and a bar at the top of the main window, gone once the last page came."""

from __future__ import annotations

from PyQt6.QtWidgets import QFrame, QProgressBar, QVBoxLayout, QWidget

from securechat.client import SecureChatClient
from securechat.client import events as ev
from securechat.ui import strings as S
from securechat.ui.plaintext import plain_label


class HistoryProgressBar(QFrame):
    """Shown while a history comes in: "Getting your history from your other device:
    1,200 of 5,000" (`total` is the sender's estimate: several devices may answer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.text = plain_label()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(6)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        self.client: SecureChatClient | None = None
        self.shown: list[str] = []  # every line shown, in order (tests, tooling)
        self.hide()

    def set_client(self, client: SecureChatClient | None) -> None:
        if self.client is not None:
            self.client.events.unsubscribe(self._progress)
        self.client = client
        self.hide()  # what one account was getting is not the next one's
        if client is not None:
            client.events.subscribe(self._progress, ev.HistoryProgress)

    def _progress(self, event: ev.HistoryProgress) -> None:
        # All there, or the last page came: a page fetched from the mailbox may be
        # handled after the last one pushed live, so either ends it.
        if event.done or event.received >= event.total:
            self.hide()
            return
        total = event.total
        line = S.HISTORY_PROGRESS.format(received=f"{event.received:,}", total=f"{total:,}")
        self.text.setText(line)
        self.shown.append(line)
        self.bar.setRange(0, total)
        self.bar.setValue(event.received)
        self.show()
