"""Painting: session rows (avatar, name, preview, time, badge, presence) and chat bubbles."""

from __future__ import annotations

from PyQt6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPainterPath, QPalette
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
)

from securechat.client import MessageStatus
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.models.roles import Roles
from securechat.ui.plaintext import plain_tooltip
from securechat.ui.textlayout import draw_text, position_at, text_size
from securechat.ui.widgets.links import url_at

_Index = QModelIndex | QPersistentModelIndex
AVATAR_COLOURS = ["#ef4444", "#f97316", "#eab308", "#22c55e", "#14b8a6", "#3b82f6",
                  "#8b5cf6", "#ec4899"]


def avatar_colour(key: str) -> QColor:
    return QColor(AVATAR_COLOURS[sum(key.encode()) % len(AVATAR_COLOURS)])


def tick_text(status: int) -> str:
    return {MessageStatus.PENDING: "○", MessageStatus.SENT: "✓", MessageStatus.DELIVERED: "✓✓",
            MessageStatus.READ: "✓✓"}.get(status, "")


class SessionDelegate(QStyledItemDelegate):
    HEIGHT = 64

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(option.rect.width(), self.HEIGHT)

    def paint(self, p: QPainter | None, option: QStyleOptionViewItem, index: _Index) -> None:
        assert p is not None
        t = theme.current()
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            p.fillRect(r, option.palette.color(QPalette.ColorRole.Highlight).lighter(
                170 if not t.dark else 60))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            p.fillRect(r, QColor(t.separator))
        # avatar with initials and the online dot
        peer = index.data(Roles.PEER) or ""
        avatar = QRectF(r.left() + 12, r.top() + 10, 44, 44)
        p.setPen(Qt.PenStyle.NoPen)
        picture = index.data(Roles.AVATAR)
        if picture is not None:
            p.drawPixmap(avatar.toRect(), picture)
        else:
            p.setBrush(avatar_colour(peer))
            p.drawEllipse(avatar)
        font = QFont(option.font)
        font.setBold(True)
        p.setFont(font)
        p.setPen(QColor("#ffffff"))
        if picture is None:
            p.drawText(avatar, Qt.AlignmentFlag.AlignCenter, index.data(Roles.INITIALS) or "?")
        if index.data(Roles.ONLINE):
            dot = QRectF(avatar.right() - 12, avatar.bottom() - 12, 12, 12)
            p.setBrush(QColor(t.online))
            p.setPen(QColor(t.base))
            p.drawEllipse(dot)
        left = int(avatar.right()) + 12
        right = r.right() - 12
        # time, then name
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        p.setFont(small)
        p.setPen(QColor(t.muted))
        time_text = index.data(Roles.TIME) or ""
        time_w = QFontMetrics(small).horizontalAdvance(time_text)
        p.drawText(QRect(right - time_w, r.top() + 12, time_w, 18),
                   Qt.AlignmentFlag.AlignRight, time_text)
        p.setFont(font)
        p.setPen(QColor(t.text))
        name = QFontMetrics(font).elidedText(index.data(Roles.NAME) or "",
                                             Qt.TextElideMode.ElideRight,
                                             right - time_w - 8 - left)
        p.drawText(QRect(left, r.top() + 10, right - time_w - 8 - left, 20),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        # preview and unread badge
        unread = int(index.data(Roles.UNREAD) or 0)
        badge_w = 0
        if unread:
            badge = str(unread) if unread < 1000 else "999+"
            badge_w = max(22, QFontMetrics(small).horizontalAdvance(badge) + 12)
            rect = QRectF(right - badge_w, r.top() + 34, badge_w, 20)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.accent))
            p.drawRoundedRect(rect, 10, 10)
            p.setFont(small)
            p.setPen(QColor("#ffffff"))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)
        typing = bool(index.data(Roles.TYPING))
        preview_font = QFont(option.font)
        preview_font.setItalic(typing)
        p.setFont(preview_font)
        p.setPen(QColor(t.accent if typing else t.muted))
        width = right - left - (badge_w + 8 if badge_w else 0)
        text = S.TYPING_LABEL if typing else (index.data(Roles.LAST_TEXT) or "")
        preview = QFontMetrics(preview_font).elidedText(text, Qt.TextElideMode.ElideRight, width)
        p.drawText(QRect(left, r.top() + 34, width, 20),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, preview)
        if typing:  # three dots, one lit at a time (the page's timer steps the phase)
            x = left + QFontMetrics(preview_font).horizontalAdvance(preview) + 6
            phase = int(index.data(Roles.TYPING_PHASE) or 0)
            p.setPen(Qt.PenStyle.NoPen)
            for i in range(3):
                dot = QColor(t.accent)
                dot.setAlpha(255 if i == phase else 90)
                p.setBrush(dot)
                p.drawEllipse(QRectF(x + i * 9, r.top() + 42, 5, 5))
        p.restore()


class BubbleDelegate(QStyledItemDelegate):
    """Chat bubbles: text, time and ticks, an optional reply quote and day separator."""

    PAD = 10  # inside the bubble
    MARGIN = 12  # bubble to the view's edge
    GAP = 4  # between bubbles
    DAY_H = 30
    QUOTE_H = 22
    FOOT_H = 16
    REACT_H = 22
    TICK_PAD = 4  # either side of the ticks inside the "read" badge
    CACHE_LIMIT = 5000

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view
        self._cache: dict[tuple[str, bool], QSize] = {}  # by Roles.SIZE_KEY, at _width
        self._width = 0

    def _max_text_width(self) -> int:
        viewport = self._view.viewport()
        width = viewport.width() if viewport is not None else 600
        return max(120, int(width * 0.72) - 2 * self.PAD)

    def _text_rect(self, option: QStyleOptionViewItem, text: str, width: int,
                   index: _Index | None = None) -> QRect:
        font = option.font if index is None else self._body_font(option, index)
        return QRect(QPoint(0, 0), text_size(font, text, width))

    @staticmethod
    def _body_font(option: QStyleOptionViewItem, index: _Index) -> QFont:
        """The bubble text's font: italics for an unsent message's marker."""
        font = QFont(option.font)
        font.setItalic(bool(index.data(Roles.DELETED)))
        return font

    def _layout(self, option: QStyleOptionViewItem, index: _Index) -> tuple[QSize, QRect]:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        width = self._max_text_width()
        body = self._text_rect(option, text, width, index)
        if index.data(Roles.SYSTEM):  # a centred line, no bubble
            return QSize(body.width() + 2 * self.PAD, body.height() + self.PAD), body
        foot_w = QFontMetrics(option.font).horizontalAdvance(self._foot_sample(index)) + 8
        reactions = index.data(Roles.REACTIONS) or ""
        react_w = QFontMetrics(option.font).horizontalAdvance(reactions) + 16 if reactions else 0
        inner_w = max(body.width(), foot_w, react_w,
                      160 if index.data(Roles.REPLY_QUOTE) else 0)
        inner_h = body.height() + self.FOOT_H + (
            self.QUOTE_H + 4 if index.data(Roles.REPLY_QUOTE) else 0) + (
            self.REACT_H + 2 if reactions else 0)
        bubble = QSize(min(inner_w, width) + 2 * self.PAD, inner_h + 2 * self.PAD - 4)
        return bubble, body

    @staticmethod
    def _foot_sample(index: _Index) -> str:
        edited = f"{S.EDITED} " if index.data(Roles.EDITED) else ""
        return f"{edited}00:00 ✓✓  "  # the ticks' badge pads them

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        # The view asks for every row's size on every relayout: a dictionary lookup.
        width = self._max_text_width()
        if width != self._width:
            self._cache.clear()
            self._width = width
        key = index.data(Roles.SIZE_KEY)
        size = self._cache.get(key)
        if size is None:
            if len(self._cache) > self.CACHE_LIMIT:
                self._cache.clear()  # rows long gone from the window
            bubble, _ = self._layout(option, index)
            height = bubble.height() + self.GAP + (self.DAY_H if index.data(Roles.DAY) else 0)
            size = self._cache[key] = QSize(bubble.width() + 2 * self.MARGIN, height)
        return size

    def paint(self, p: QPainter | None, option: QStyleOptionViewItem, index: _Index) -> None:
        assert p is not None
        t = theme.current()
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect
        top = r.top()
        day = index.data(Roles.DAY)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.5))
        if day:
            p.setFont(small)
            w = QFontMetrics(small).horizontalAdvance(day) + 20
            pill = QRectF(r.center().x() - w / 2, top + 6, w, 20)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.separator))
            p.drawRoundedRect(pill, 10, 10)
            p.setPen(QColor(t.muted))
            p.drawText(pill, Qt.AlignmentFlag.AlignCenter, day)
            top += self.DAY_H
        if index.data(Roles.SYSTEM):
            self._paint_system(p, option, index, top)
            p.restore()
            return
        mine = bool(index.data(Roles.FROM_ME))
        bubble_size, body = self._layout(option, index)
        x = (r.right() - self.MARGIN - bubble_size.width()) if mine else r.left() + self.MARGIN
        bubble = QRectF(x, top, bubble_size.width(), bubble_size.height())
        fill = QColor(t.bubble_me if mine else t.bubble_other)
        ink = QColor(t.bubble_me_text if mine else t.bubble_other_text)
        if option.state & QStyle.StateFlag.State_Selected:
            fill = fill.darker(115)
        path = QPainterPath()
        path.addRoundedRect(bubble, 14, 14)
        p.fillPath(path, fill)
        y = int(bubble.top()) + self.PAD - 2
        left = int(bubble.left()) + self.PAD
        inner_w = int(bubble.width()) - 2 * self.PAD
        quote = index.data(Roles.REPLY_QUOTE)
        if quote:
            bar = QColor(ink)
            bar.setAlpha(60)
            p.fillRect(QRectF(left, y, inner_w, self.QUOTE_H), bar)
            p.fillRect(QRectF(left, y, 3, self.QUOTE_H), ink)
            p.setFont(small)
            p.setPen(ink)
            author = index.data(Roles.REPLY_AUTHOR)
            quoted = quote.replace("\n", " ")
            if author:  # who wrote the original, in bold before it
                bold = QFont(small)
                bold.setBold(True)
                p.setFont(bold)
                name = QFontMetrics(bold).elidedText(author + ": ", Qt.TextElideMode.ElideRight,
                                                     (inner_w - 10) // 2)
                p.drawText(QRect(left + 8, y, inner_w - 10, self.QUOTE_H),
                           Qt.AlignmentFlag.AlignVCenter, name)
                shift = QFontMetrics(bold).horizontalAdvance(name)
                p.setFont(small)
            else:
                shift = 0
            p.drawText(QRect(left + 8 + shift, y, inner_w - 10 - shift, self.QUOTE_H),
                       Qt.AlignmentFlag.AlignVCenter,
                       QFontMetrics(small).elidedText(quoted, Qt.TextElideMode.ElideRight,
                                                      inner_w - 10 - shift))
            y += self.QUOTE_H + 4
        body_font = self._body_font(option, index)
        if index.data(Roles.DELETED):  # an unsent message's marker: muted italics
            ink_body = QColor(ink)
            ink_body.setAlpha(150)
        else:
            ink_body = ink
        p.setFont(body_font)
        p.setPen(ink_body)
        draw_text(p, body_font, index.data(Qt.ItemDataRole.DisplayRole) or "", left, y,
                  inner_w, ink if mine else QColor(t.accent))
        y += body.height()
        reactions = index.data(Roles.REACTIONS)
        if reactions:  # a pill under the text: each emoji, and how many chose it
            p.setFont(option.font)
            pill_w = QFontMetrics(option.font).horizontalAdvance(reactions) + 16
            pill = QRectF(left, y + 2, min(pill_w, inner_w), self.REACT_H)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.base))
            p.drawRoundedRect(pill, 11, 11)
            p.setPen(QColor(t.text))
            p.drawText(pill, Qt.AlignmentFlag.AlignCenter, reactions)
            y += self.REACT_H + 2
        foot = index.data(Roles.TIME) or ""
        if index.data(Roles.EDITED):
            foot = f"{S.EDITED} {foot}"
        p.setFont(small)
        muted = QColor(ink)
        muted.setAlpha(170)
        foot_rect = QRect(left, y, inner_w, self.FOOT_H)
        if mine:
            tick_w = self._paint_ticks(p, option, int(index.data(Roles.STATUS)), foot_rect,
                                       muted, fill)
            foot_rect.setRight(foot_rect.right() - tick_w - 4)
        p.setFont(small)
        p.setPen(muted)
        p.drawText(foot_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, foot)
        p.restore()

    def _paint_ticks(self, p: QPainter, option: QStyleOptionViewItem, status: int,
                     foot: QRect, muted: QColor, fill: QColor) -> int:
        """The ticks at the foot's right, in the body font (the small one made them
        specks): delivered faint, read as a solid badge with the ticks cut out, which
        no one mistakes for a shade of the other (review: #5F8DF0 against #5FA3DF).
        Returns the width taken."""
        ticks = tick_text(status)
        font = QFont(option.font)
        read = status == MessageStatus.READ
        font.setBold(read)
        p.setFont(font)
        width = QFontMetrics(font).horizontalAdvance(ticks)
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if not read:
            p.setPen(muted)
            p.drawText(foot, align, ticks)
            return width
        width += 2 * self.TICK_PAD
        badge = QRectF(foot.right() - width, foot.top(), width, foot.height())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(theme.current().tick_read))
        p.drawRoundedRect(badge, foot.height() / 2, foot.height() / 2)
        p.setPen(fill)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, ticks)
        return width

    def text_origin(self, option: QStyleOptionViewItem, index: _Index) -> tuple[QPoint, int]:
        """Where a bubble's text starts in the view, and the width it wraps to (as
        `paint` lays it out)."""
        r = option.rect
        top = r.top() + (self.DAY_H if index.data(Roles.DAY) else 0)
        bubble_size, _ = self._layout(option, index)
        mine = bool(index.data(Roles.FROM_ME))
        x = (r.right() - self.MARGIN - bubble_size.width()) if mine else r.left() + self.MARGIN
        y = top + self.PAD - 2 + (self.QUOTE_H + 4 if index.data(Roles.REPLY_QUOTE) else 0)
        return QPoint(x + self.PAD, y), bubble_size.width() - 2 * self.PAD

    def quote_rect(self, option: QStyleOptionViewItem, index: _Index) -> QRect | None:
        """Where a reply's quote of its original is drawn in the view, if it has one."""
        if not index.data(Roles.REPLY_QUOTE) or index.data(Roles.SYSTEM):
            return None
        origin, width = self.text_origin(option, index)
        return QRect(origin.x(), origin.y() - self.QUOTE_H - 4, width, self.QUOTE_H)

    def helpEvent(self, event: QHelpEvent | None, view: QAbstractItemView | None,
                  option: QStyleOptionViewItem, index: _Index) -> bool:
        """Hovering a quote shows all of it (drawn on one line, it ends in "…")."""
        if event is not None and event.type() == QEvent.Type.ToolTip:
            rect = self.quote_rect(option, index)
            if rect is not None and rect.contains(event.pos()):
                author = index.data(Roles.REPLY_AUTHOR)
                quote = index.data(Roles.REPLY_QUOTE)
                QToolTip.showText(event.globalPos(),
                                  plain_tooltip(f"{author}: {quote}" if author else quote), view)
                return True
        return super().helpEvent(event, view, option, index)

    def link_at(self, option: QStyleOptionViewItem, index: _Index, pos: QPoint) -> str | None:
        """The link under `pos` (view coordinates) in this bubble, if any."""
        if index.data(Roles.SYSTEM):
            return None
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        origin, width = self.text_origin(option, index)
        char = position_at(option.font, text, width, pos.x() - origin.x(),
                           pos.y() - origin.y())
        return None if char is None else url_at(text, char)

    def _paint_system(self, p: QPainter, option: QStyleOptionViewItem, index: _Index,
                      top: int) -> None:
        """A line the client wrote ("Bob signed in on a new device"): centred, muted."""
        t = theme.current()
        size, _ = self._layout(option, index)
        r = option.rect
        pill = QRectF(r.center().x() - size.width() / 2, top, size.width(), size.height())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(t.separator))
        p.drawRoundedRect(pill, 10, 10)
        p.setFont(option.font)
        p.setPen(QColor(t.muted))
        p.drawText(pill.toRect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                   index.data(Qt.ItemDataRole.DisplayRole) or "")

    def clear_cache(self) -> None:
        self._cache.clear()
