"""Light and dark palettes that follow the system colour scheme."""

from __future__ import annotations

import os

import attrs
from PyQt6.QtCore import QPointF, Qt, QTemporaryDir
from PyQt6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPixmap, QPolygonF
from PyQt6.QtWidgets import QApplication, QWidget


@attrs.frozen
class Theme:
    dark: bool
    window: str
    base: str
    text: str
    muted: str
    accent: str
    bubble_me: str
    bubble_me_text: str
    bubble_other: str
    bubble_other_text: str
    tick_read: str
    online: str
    banner: str
    separator: str
    error: str  # error messages and the offline/failed connection state


LIGHT = Theme(False, "#f4f5f7", "#ffffff", "#1c1e21", "#6b7280", "#2563eb", "#2563eb",
              "#ffffff", "#e9ebef", "#1c1e21", "#a7f3d0", "#22c55e", "#fef3c7", "#e5e7eb",
              "#dc2626")
DARK = Theme(True, "#18191c", "#222327", "#e8e9ec", "#9ca3af", "#60a5fa", "#1d4ed8",
             "#ffffff", "#2f3136", "#e8e9ec", "#6ee7b7", "#22c55e", "#4a3b12", "#2f3136",
             "#f87171")

_current = LIGHT


def current() -> Theme:
    return _current


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply(app: QApplication, dark: bool | None = None) -> Theme:
    """Style the application for the system's (or the given) colour scheme."""
    global _current
    _current = DARK if (system_is_dark() if dark is None else dark) else LIGHT
    t = _current
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: t.window, QPalette.ColorRole.Base: t.base,
        QPalette.ColorRole.AlternateBase: t.window, QPalette.ColorRole.Text: t.text,
        QPalette.ColorRole.WindowText: t.text, QPalette.ColorRole.Button: t.base,
        QPalette.ColorRole.ButtonText: t.text, QPalette.ColorRole.Highlight: t.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: t.base,
        QPalette.ColorRole.ToolTipText: t.text, QPalette.ColorRole.PlaceholderText: t.muted,
        QPalette.ColorRole.Link: t.accent,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    # Disabled items look disabled (a menu's "Remove PIN" when there is no PIN).
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        disabled = QColor(t.muted)
        disabled.setAlpha(150)
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setStyleSheet(
        f"QLineEdit, QPlainTextEdit {{ border: 1px solid {t.separator}; border-radius: 8px;"
        f" padding: 6px; background: {t.base}; }}"
        # the lock screen's account list looks like the fields around it (review)
        f"QLineEdit[invalid=\"true\"] {{ border: 1px solid {t.error}; }}"  # widgets.fields
        f"QComboBox {{ border: 1px solid {t.separator}; border-radius: 8px; padding: 5px 10px;"
        f" background: {t.base}; }}"
        f"QComboBox::drop-down {{ border: none; width: 24px; }}"
        f"QComboBox::down-arrow {{ image: url({_down_arrow(t.muted)}); }}"
        f"QPushButton {{ border: 1px solid {t.separator}; border-radius: 8px; padding: 6px 14px;"
        f" background: {t.base}; }}"
        f"QPushButton:default, QPushButton[primary=\"true\"] {{ background: {t.accent};"
        f" color: white; border: none; }}"
        f"QListView {{ border: none; background: {t.base}; }}"
        f"#banner {{ background: {t.banner}; border-radius: 8px; }}"
        f"#muted {{ color: {t.muted}; }}"
        f"#error {{ color: {t.error}; }}"
        f"#title {{ font-size: 20px; font-weight: 600; }}")
    return t


_arrows = QTemporaryDir()  # the combo boxes' arrows, drawn once per colour


def _down_arrow(colour: str) -> str:
    """A small triangle in `colour`, as a PNG file a stylesheet can name (a stylesheet
    draws images from files only; the package ships none)."""
    path = os.path.join(_arrows.path(), f"down-{colour.lstrip('#')}.png")
    if not os.path.exists(path):
        pixmap = QPixmap(10, 6)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(colour))
        p.drawPolygon(QPolygonF([QPointF(0, 0), QPointF(10, 0), QPointF(5, 6)]))
        p.end()
        pixmap.save(path, "PNG")
    return path.replace("\\", "/")


def restyle(widget: QWidget, name: str) -> None:
    """Give `widget` one of the stylesheet's names ("muted", "error", or "" for none)
    and have the stylesheet applied again (a name changed later is not seen otherwise)."""
    if widget.objectName() != name:
        widget.setObjectName(name)
        repolish(widget)


def repolish(widget: QWidget) -> None:
    """Apply the stylesheet again (after a name or a property it reads changed)."""
    style = widget.style()
    if style is not None:
        style.unpolish(widget)
        style.polish(widget)


# The user's choice (Settings ▸ Theme): follow the system, or always light or dark.
CHOICES = ("system", "light", "dark")
_choice = "system"


def choose(app: QApplication, choice: str) -> Theme:
    """Apply the user's choice of theme (one of CHOICES; anything else: the system's)."""
    global _choice
    _choice = choice if choice in CHOICES else "system"
    return apply(app, None if _choice == "system" else _choice == "dark")


def choice() -> str:
    return _choice


def follow_system(app: QApplication, on_change: object = None) -> None:
    """Re-apply the theme whenever the system switches between light and dark (unless
    the user chose one)."""
    def changed(_scheme: Qt.ColorScheme) -> None:
        if _choice != "system":
            return
        apply(app)
        if callable(on_change):
            on_change()
    app.styleHints().colorSchemeChanged.connect(changed)
