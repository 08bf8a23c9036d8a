"""Showing text that others chose (names, emails, messages) as the characters it is.

Qt guesses: a QLabel, a tooltip or a tray balloon renders anything that looks like markup
as rich text (`Qt.mightBeRichText`), so a stranger named `<b>Bob ✔ verified</b>` would be
shown in bold, with whatever layout they like. Every widget that shows peer-controlled
text goes through these helpers instead (review finding M9).
"""

from __future__ import annotations

import html

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QWidget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that never interprets its text as markup."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def wrapped_label(text: str = "", style: str = "muted") -> QLabel:
    """A plain, word-wrapped label styled by the theme's object name ("muted", "error",
    "title")."""
    label = plain_label(text)
    label.setObjectName(style)
    label.setWordWrap(True)
    return label


def make_plain(label: QLabel) -> QLabel:
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tooltip(text: str) -> str:
    """A tooltip (always rich text to Qt's guess) that shows `text` literally, its
    lines as lines."""
    return f"<qt>{html.escape(text).replace(chr(10), '<br>')}</qt>" if text else ""


def plain_notification(text: str) -> str:
    """Text for a desktop notification, whose daemon may read markup: a zero-width space
    after every '<' and '&' keeps tags and entities from forming, and shows nothing."""
    return text.replace("&", "&\u200b").replace("<", "<\u200b")
