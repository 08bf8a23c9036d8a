"""Buttons as the theme styles them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QPushButton


def primary_button(text: str, on_click: Callable[[], Any] | None = None) -> QPushButton:
    """The screen's main action (the theme's accent colour)."""
    button = QPushButton(text)
    button.setProperty("primary", True)
    if on_click is not None:
        button.clicked.connect(on_click)
    return button
