"""Keeping what the user typed: a counter that appears as a message nears the length
limit, clearing the composer in a way Ctrl+Z can undo, and a draft per conversation."""

from __future__ import annotations

from PyQt6.QtGui import QTextCursor
from PyQt6.QtWidgets import QLabel, QPlainTextEdit, QWidget

from securechat.client import MAX_MESSAGE_LENGTH
from securechat.ui import strings as S
from securechat.ui import theme

SHOW_FROM = 0.9  # of the limit: the counter appears


class LengthCounter(QLabel):
    """"61,203 / 65,536" beside the composer once the draft nears the limit; in the
    error colour once it is over (and the message is not sent)."""

    def __init__(self, editor: QPlainTextEdit, limit: int = MAX_MESSAGE_LENGTH,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.limit = limit
        editor.textChanged.connect(self.refresh)
        self.refresh()

    @property
    def over(self) -> bool:
        return self.count() > self.limit

    def count(self) -> int:
        # Characters as the limit counts them (Python's len): Qt's characterCount()
        # counts UTF-16 units, so an emoji would count twice and the counter would say
        # "over" for a message that goes.
        return len(self.editor.toPlainText())

    def refresh(self) -> None:
        count = self.count()
        self.setVisible(count >= self.limit * SHOW_FROM)
        self.setText(S.LENGTH_COUNTER.format(count=f"{count:,}", limit=f"{self.limit:,}"))
        theme.restyle(self, "error" if count > self.limit else "muted")


class Drafts:
    """What was typed to each conversation, kept while another one is open: a draft
    never follows the user into the next chat (to be sent to the wrong person), and
    comes back with its own. In memory only, and forgotten when the account closes."""

    def __init__(self, editor: QPlainTextEdit) -> None:
        self.editor = editor
        self.restoring = False  # the editor's text changes, but nobody is typing
        self._kept: dict[str, str] = {}

    def leave(self, peer: str | None) -> None:
        text = self.editor.toPlainText()
        if peer is not None and text.strip():
            self._kept[peer] = text
        elif peer is not None:
            self._kept.pop(peer, None)

    def enter(self, peer: str) -> None:
        self._show(self._kept.pop(peer, ""))

    def forget(self) -> None:
        self._kept.clear()
        self._show("")

    def _show(self, text: str) -> None:
        self.restoring = True
        try:
            self.editor.setPlainText(text)
            self.editor.moveCursor(QTextCursor.MoveOperation.End)
        finally:
            self.restoring = False


def clear_undoably(editor: QPlainTextEdit) -> None:
    """Empty the editor as one edit that Ctrl+Z takes back (`clear()` forgets the undo
    history along with the text)."""
    cursor = editor.textCursor()
    cursor.select(QTextCursor.SelectionType.Document)
    cursor.removeSelectedText()
    editor.setTextCursor(cursor)


def restore(editor: QPlainTextEdit, text: str) -> None:
    """Put a draft that could not be sent back, if nothing new was typed since."""
    if not editor.toPlainText():
        editor.insertPlainText(text)
