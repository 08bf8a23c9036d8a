"""A conversation's menu in the session list: mute its notifications, block or unblock
the contact. Mutes are this device's choice (QSettings, per account and contact);
blocking is the core's (client.block: nothing from them reaches me)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QMenu, QWidget

from securechat.client import SecureChatClient
from securechat.ui import strings as S
from securechat.ui.bridge import call


class Mutes:
    """Which contacts' messages notify nobody (still counted unread)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings

    @staticmethod
    def _key(account: str, peer: str) -> str:
        return f"mute/{account}/{peer}"

    def muted(self, account: str, peer: str) -> bool:
        return (self.settings is not None
                and str(self.settings.value(self._key(account, peer), "")) == "true")

    def set_muted(self, account: str, peer: str, muted: bool) -> None:
        if self.settings is None:
            return
        if muted:
            self.settings.setValue(self._key(account, peer), "true")
        else:
            self.settings.remove(self._key(account, peer))


def contact_menu(parent: QWidget, client: SecureChatClient, peer: str, mutes: Mutes,
                 failed: Callable[[str], Any]) -> QMenu:
    menu = QMenu(parent)
    account = client.me.user_id
    muted = mutes.muted(account, peer)
    menu.addAction(S.UNMUTE if muted else S.MUTE,
                   lambda: mutes.set_muted(account, peer, not muted))
    blocked = peer in client.blocked
    menu.addAction(S.UNBLOCK if blocked else S.BLOCK,
                   lambda: call(client.block(peer, not blocked), failed=failed))
    return menu
