"""Message text laid out to a width: lines break between words, and a word wider than
the line (a long URL, a key, a hash) breaks anywhere rather than being cut off. Links
are drawn as links, and a point can be mapped back to a character (to click them)."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QSize
from PyQt6.QtGui import QColor, QFont, QPainter, QTextCharFormat, QTextLayout, QTextOption

from securechat.ui.widgets.links import find_urls

CACHED_LAYOUTS = 128  # bubbles on screen, and a few pages around them
_cache: dict[tuple[str, str, int, str | None], tuple[QTextLayout, QSize]] = {}


def _layout(font: QFont, text: str, width: int,
            link: QColor | None = None) -> tuple[QTextLayout, QSize]:
    # A view repaints the same few bubbles again and again (scrolling, a tick, typing
    # dots): a 60,000-character message is laid out once per width, not per paint.
    key = (font.key(), text, width, link.name() if link is not None else None)
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= CACHED_LAYOUTS:
            _cache.clear()  # rows long scrolled away
        found = _cache[key] = _laid_out(font, text, width, link)
    return found


def _laid_out(font: QFont, text: str, width: int,
              link: QColor | None) -> tuple[QTextLayout, QSize]:
    # QTextLayout knows line separators, not "\n" (same length: positions stay valid).
    layout = QTextLayout(text.replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    if link is not None:
        formats = []
        for start, end, _ in find_urls(text):
            span = QTextLayout.FormatRange()
            span.start, span.length = start, end - start
            span.format = QTextCharFormat()
            span.format.setFontUnderline(True)
            span.format.setForeground(link)
            formats.append(span)
        layout.setFormats(formats)
    layout.beginLayout()
    height = 0.0
    widest = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, height))
        height += line.height()
        widest = max(widest, line.naturalTextWidth())
    layout.endLayout()
    return layout, QSize(min(width, int(widest + 0.999)), int(height + 0.999))


def text_size(font: QFont, text: str, width: int) -> QSize:
    """The size `text` takes wrapped to `width` (never wider than `width`)."""
    return _layout(font, text, width)[1]


def draw_text(painter: QPainter, font: QFont, text: str, left: int, top: int,
              width: int, link: QColor | None = None) -> None:
    """Draw `text` wrapped to `width` from (left, top), in the painter's pen; links
    underlined in `link`."""
    _layout(font, text, width, link)[0].draw(painter, QPointF(left, top))


def position_at(font: QFont, text: str, width: int, x: float, y: float) -> int | None:
    """The character of `text` (wrapped to `width`) at (x, y) from its top left, or None
    off the text."""
    layout, size = _layout(font, text, width)
    if not (0 <= x <= size.width() and 0 <= y < size.height()):
        return None
    for i in range(layout.lineCount()):
        line = layout.lineAt(i)
        if line.y() <= y < line.y() + line.height():
            if x > line.naturalTextWidth():
                return None
            return min(max(line.xToCursor(x, line.CursorPosition.CursorOnCharacter), 0),
                       max(len(text) - 1, 0))
    return None
