"""How names and times read on screen: avatar initials, the session list's short time,
the chat's day separators."""

from __future__ import annotations

import datetime

from securechat.ui import strings as S


def initials(name: str) -> str:
    if "@" in name:  # an email: its local part
        name = name.split("@", 1)[0]
    words = [w for w in name.replace(".", " ").replace("_", " ").split() if w]
    # "Bobby 🐻": the letters make the initials, not the emoji (review: "B🐻")
    words = [w for w in words if w[0].isalnum()] or words
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[1][0]).upper()


def short_time(timestamp_ms: int, now: datetime.datetime | None = None) -> str:
    if not timestamp_ms:
        return ""
    when = datetime.datetime.fromtimestamp(timestamp_ms / 1000)
    now = now or datetime.datetime.now()
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if (now.date() - when.date()).days < 7:
        return when.strftime("%a")
    return when.strftime("%d/%m/%y")


def day_label(timestamp_ms: int, now: datetime.datetime | None = None) -> str:
    day = datetime.datetime.fromtimestamp(timestamp_ms / 1000).date()
    today = (now or datetime.datetime.now()).date()
    if day == today:
        return S.TODAY
    if (today - day).days == 1:
        return S.YESTERDAY
    return day.strftime("%A, %d %B %Y")
