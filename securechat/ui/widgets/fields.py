"""Form fields (issue 11's review): the field an error is about, outlined in the theme's
error colour and given the focus until the user edits it ("the field itself is not
highlighted"); and an eye that shows a password as typed ("no show-password toggle")."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PyQt6.QtWidgets import QLineEdit

from securechat.ui import strings as S
from securechat.ui import theme

_CLEARS = "invalidClears"  # the field's own edits already take the outline away


def flag_invalid(field: QLineEdit) -> None:
    _outline(field, True)
    field.setFocus()
    field.selectAll()
    if not field.property(_CLEARS):
        field.setProperty(_CLEARS, True)
        field.textEdited.connect(lambda _text: _outline(field, False))


def unflag(field: QLineEdit) -> None:
    """The field was cleared by the app (another account opened): no outline."""
    _outline(field, False)


def is_flagged(field: QLineEdit) -> bool:
    return bool(field.property("invalid"))


def _outline(field: QLineEdit, on: bool) -> None:
    if is_flagged(field) != on:
        field.setProperty("invalid", on)
        theme.repolish(field)


def add_reveal(field: QLineEdit) -> QAction:
    """An eye at the end of a password field: checked, the password shows as typed
    (to check a long one before creating an account with it), unchecked, dots."""
    action = QAction(_eye(), S.SHOW_PASSWORD, field)
    action.setCheckable(True)

    def toggled(on: bool) -> None:
        field.setEchoMode(QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password)
        action.setToolTip(S.HIDE_PASSWORD if on else S.SHOW_PASSWORD)
    action.toggled.connect(toggled)
    field.addAction(action, QLineEdit.ActionPosition.TrailingPosition)
    return action


def _eye() -> QIcon:
    """An eye drawn in the theme's muted colour (the package ships no image files)."""
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(theme.current().muted))
    pen.setWidthF(2.5)
    p.setPen(pen)
    outline = QPainterPath()
    outline.moveTo(3, 16)
    outline.quadTo(16, 3, 29, 16)
    outline.quadTo(16, 29, 3, 16)
    p.drawPath(outline)
    p.setBrush(QColor(theme.current().muted))
    p.drawEllipse(QPointF(16, 16), 4.5, 4.5)
    p.end()
    return QIcon(pixmap)
