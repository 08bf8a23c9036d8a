"""Emoji: the quick reactions of a message's menu, and the composer's picker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QGridLayout, QMenu, QToolButton, QWidget, QWidgetAction

from securechat.ui import strings as S

QUICK_REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")
PICKER = ("😀 😃 😄 😁 😆 😅 🤣 😂 🙂 😉 😊 😇 🥰 😍 🤩 😘 😋 😛 😜 🤪 🤔 🤨 😐 😑 "
          "😶 🙄 😏 😬 😌 😔 😪 😴 😷 🤒 🥵 🥶 😎 🤓 😕 😟 😮 😲 😳 🥺 😢 😭 😱 "
          "😤 😡 👍 👎 👏 🙌 🙏 🤝 💪 👋 ✌️ 🤞 👌 ❤️ 🧡 💛 💚 💙 💜 🖤 💯 🔥 ✨ 🎉 "
          "🎂 🎁 ☕ 🍕 🍺 🌸 🌞 🌙 ⭐ ⚡ ✅ ❌ ❓ ❗ 👀 💡 📎 📅 🚀 🏠").split()


def reaction_menu(parent: QWidget, mine: str, pick: Callable[[str], Any]) -> QMenu:
    """"React ▸": the quick reactions (mine checked), and taking mine back."""
    menu = QMenu(S.REACT, parent)
    for emoji in QUICK_REACTIONS:
        action = menu.addAction(emoji, lambda e=emoji: pick(e))
        assert action is not None
        action.setCheckable(True)
        action.setChecked(emoji == mine)
    if mine:
        menu.addSeparator()
        menu.addAction(S.REMOVE_REACTION, lambda: pick(""))
    return menu


class EmojiPicker(QToolButton):
    """The composer's "😀" button: a grid of emoji; a click inserts one."""

    COLUMNS = 10

    def __init__(self, insert: Callable[[str], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setText("😀")
        self.setToolTip(S.EMOJI_PICKER)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        grid_widget = QWidget(menu)
        grid = QGridLayout(grid_widget)
        grid.setSpacing(2)
        self.buttons: list[QToolButton] = []
        for i, emoji in enumerate(PICKER):
            button = QToolButton(grid_widget)
            button.setText(emoji)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, e=emoji: (insert(e), menu.close()))
            grid.addWidget(button, i // self.COLUMNS, i % self.COLUMNS)
            self.buttons.append(button)
        action = QWidgetAction(menu)
        action.setDefaultWidget(grid_widget)
        menu.addAction(action)
        self.setMenu(menu)
