"""The assistant in a chat: "Polish" by the composer, "Suggest replies" and "Summarize"
in the chat header, and a panel above the composer where the answer appears as it is
written, with Stop; quick replies become chips. Nothing is ever sent from here: "Use"
and the chips only fill the message box, and the user sends (or not)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QObject, pyqtSignal
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer

from securechat.client import Assistant, GenerationCancelled, QuickReply
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label

COMPOSE, REPLIES, SUMMARY = "compose", "replies", "summary"


def _button_text(text: str) -> str:
    return text.replace("&", "&&")  # a model's "&" is not a keyboard shortcut


class AssistantPanel(QFrame):
    """The answer being written (plain text), its status, Stop / Use / Discard, chips."""

    finished = pyqtSignal(str)  # the kind, once the answer is complete (or failed)

    def __init__(self, chat: Any, assistant: Assistant, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chat, self.assistant = chat, assistant
        self.setObjectName("banner")
        self.generation: Any = None
        self.kind: str | None = None
        self.peer: str | None = None
        self.result: Any = None
        layout = QVBoxLayout(self)
        self.status = plain_label()
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.output = QPlainTextEdit()  # plain text: the model's words, steered by peers'
        self.output.setReadOnly(True)
        self.output.setMaximumHeight(140)
        self.chips_row = QHBoxLayout()
        self.chips: list[QPushButton] = []
        buttons = QHBoxLayout()
        self.stop_button = QPushButton(S.AI_STOP)
        self.stop_button.clicked.connect(self.stop)
        self.use_button = QPushButton(S.AI_USE)
        self.use_button.clicked.connect(self.use)
        self.discard_button = QPushButton(S.AI_DISCARD)
        self.discard_button.clicked.connect(self.discard)
        buttons.addWidget(self.status, 1)
        for button in (self.stop_button, self.use_button, self.discard_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addWidget(self.output)
        layout.addLayout(self.chips_row)
        self.hide()

    # --- starting ---------------------------------------------------------------------------

    def polish(self) -> None:
        draft = self.chat.composer.toPlainText()
        self._start(COMPOSE, lambda: defer.maybeDeferred(self.assistant.compose, draft))

    def replies(self) -> None:
        client, peer = self.chat.client, self.chat.peer
        self._start(REPLIES, lambda: self.assistant.quick_replies(client, peer))

    def summary(self, unread_only: bool = False) -> None:
        client, peer = self.chat.client, self.chat.peer
        self._start(SUMMARY, lambda: self.assistant.summary(client, peer, unread_only))

    def _start(self, kind: str, begin: Any) -> None:
        if self.chat.client is None or not self.chat.peer:
            return
        self.stop()
        self.kind, self.peer, self.result = kind, self.chat.peer, None
        self._clear_chips()
        self.output.clear()
        self.output.setVisible(kind != REPLIES)
        self.status.setText(S.AI_QUEUED)
        self._buttons(running=True)
        self.show()
        call(begin(), self._started, self._failed)

    def _started(self, generation: Any) -> None:
        if self.kind is None:  # discarded meanwhile
            generation.cancel()
            return
        self.generation = generation
        generation.on_token(self._token)
        call(generation.done, self._done, self._failed)

    def _token(self, piece: str) -> None:
        if self.status.text() != S.AI_WORKING:
            self.status.setText(S.AI_WORKING)
        cursor = self.output.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(piece)

    # --- ending -----------------------------------------------------------------------------

    def _done(self, result: Any) -> None:
        self.generation, self.result = None, result
        self.status.setText("")
        if self.kind == REPLIES:
            for reply in result:
                self._add_chip(reply)
        elif self.kind == COMPOSE:
            self.output.setPlainText(result)
        self._buttons(running=False)
        self.finished.emit(self.kind or "")

    def _failed(self, message: str) -> None:
        self.generation = None
        self._buttons(running=False)
        self.use_button.setEnabled(False)
        self.status.setText(message)
        self.finished.emit(self.kind or "")

    def stop(self) -> None:
        """Stop the generation now (the text so far stays)."""
        if self.generation is not None:
            generation, self.generation = self.generation, None
            generation.done.addErrback(lambda f: f.trap(GenerationCancelled))
            generation.cancel()
            self.status.setText(S.AI_STOPPED)
            self._buttons(running=False)
            self.use_button.setEnabled(self.kind == COMPOSE and bool(self.output.toPlainText()))

    def use(self) -> None:
        """The polished draft (or summary) goes into the message box, to edit or send."""
        text = self.result if isinstance(self.result, str) else self.output.toPlainText()
        if text:
            self.chat.composer.setPlainText(text)
            self.chat.composer.setFocus()
        self.discard()

    def discard(self) -> None:
        self.stop()
        self.kind = self.peer = self.result = None
        self._clear_chips()
        self.hide()

    def chat_changed(self) -> None:
        """Another chat (or none) is open: what was asked about this one goes."""
        if self.kind is not None and self.chat.peer != self.peer:
            self.discard()

    # --- pieces -----------------------------------------------------------------------------

    def _buttons(self, running: bool) -> None:
        self.stop_button.setVisible(running)
        self.use_button.setVisible(not running and self.kind == COMPOSE)
        self.use_button.setEnabled(True)
        self.discard_button.setVisible(not running)

    def _add_chip(self, reply: QuickReply) -> None:
        chip = QPushButton(_button_text(reply.text))
        chip.setToolTip(S.AI_CHIP_TIP)
        chip.setProperty("label", reply.label)
        chip.clicked.connect(lambda _=False, text=reply.text: self._chip_clicked(text))
        self.chips_row.addWidget(chip)
        self.chips.append(chip)

    def _chip_clicked(self, text: str) -> None:
        self.chat.composer.setPlainText(text)
        self.chat.composer.setFocus()
        self.discard()

    def _clear_chips(self) -> None:
        for chip in self.chips:
            self.chips_row.removeWidget(chip)
            chip.deleteLater()
        self.chips = []


class _FollowVisibility(QObject):
    """Shows `widget` exactly when `leader` is visible (the chat's own header buttons)."""

    def __init__(self, leader: QWidget, widget: QWidget) -> None:
        super().__init__(widget)
        self.widget = widget
        leader.installEventFilter(self)
        widget.setVisible(leader.isVisible())

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is not None and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.widget.setVisible(event.type() == QEvent.Type.Show)
        return False


class ChatAssistant:
    """The assistant's buttons and panel, mounted into a ChatView."""

    def __init__(self, chat: Any, assistant: Assistant) -> None:
        self.panel = AssistantPanel(chat, assistant)
        chat.layout().insertWidget(chat.layout().indexOf(chat.bottom), self.panel)
        self.polish_button = QPushButton(S.AI_POLISH)
        self.polish_button.setToolTip(S.AI_POLISH_TIP)
        self.polish_button.clicked.connect(self.panel.polish)
        chat.bottom.layout().insertWidget(1, self.polish_button)
        # One "Assistant" menu in the header, not three buttons: the header also holds the
        # avatar, the name, the call buttons and Profile, and must fit a narrow window.
        self.header = self.menu_button = QToolButton()
        self.menu_button.setText(S.AI_MENU)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        self.replies_action = menu.addAction(S.AI_REPLIES)
        self.replies_action.triggered.connect(self.panel.replies)
        self.summary_action = menu.addAction(S.AI_SUMMARY)
        self.summary_action.triggered.connect(lambda: self.panel.summary(False))
        self.unread_action = menu.addAction(S.AI_SUMMARY_UNREAD)
        self.unread_action.triggered.connect(lambda: self.panel.summary(True))
        self.menu_button.setMenu(menu)
        titles = chat.profile_button.parentWidget().layout()
        titles.insertWidget(titles.indexOf(chat.profile_button), self.header)
        self._follow = _FollowVisibility(chat.profile_button, self.header)
        chat.model.modelReset.connect(self.panel.chat_changed)
