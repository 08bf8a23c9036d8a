"""A form field that an error is about: outlined in the theme's error colour and given
the focus, until the user edits it (review: "the field itself is not highlighted")."""

from __future__ import annotations

from PyQt6.QtWidgets import QLineEdit

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
