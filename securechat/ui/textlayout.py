"""Message text laid out to a width: lines break between words, and a word wider than
the line (a long URL, a key, a hash) breaks anywhere rather than being cut off."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QSize
from PyQt6.QtGui import QFont, QPainter, QTextLayout, QTextOption


def _layout(font: QFont, text: str, width: int) -> tuple[QTextLayout, QSize]:
    # QTextLayout knows line separators, not "\n".
    layout = QTextLayout(text.replace("\r\n", "\n").replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
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
              width: int) -> None:
    """Draw `text` wrapped to `width` from (left, top), in the painter's pen."""
    _layout(font, text, width)[0].draw(painter, QPointF(left, top))
