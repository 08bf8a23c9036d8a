"""Links in messages: found in the text (http, https and mailto only), drawn as links,
and opened only after the whole address was shown: a link's text cannot hide where it
goes, because a message's text is all there is (no markup)."""

from __future__ import annotations

import re
from typing import Any

from PyQt6.QtCore import QUrl
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import QWidget

from securechat.ui import strings as S
from securechat.ui.widgets.confirm import Question, ask

_URL = re.compile(r"\b(?:https?://|mailto:)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""  # punctuation after a link, not part of it


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of each link in `text`, in order."""
    found = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING and not (url[-1] == ")" and "(" in url):
            url = url[:-1]
        if len(url) > len(match.group(0).split(":", 1)[0]) + 3:
            found.append((match.start(), match.start() + len(url), url))
    return found


def url_at(text: str, position: int) -> str | None:
    """The link that the character at `position` belongs to, if any."""
    return next((url for start, end, url in find_urls(text) if start <= position < end),
                None)


def open_link(parent: QWidget, url: str) -> Question:
    """Ask, showing the full address, then open it in the browser."""
    return ask(parent, S.OPEN_LINK_TITLE, S.OPEN_LINK_BODY.format(url=url), S.OPEN_LINK,
               lambda: _open(url))


def _open(url: str) -> Any:
    return QDesktopServices.openUrl(QUrl(url, QUrl.ParsingMode.StrictMode))
