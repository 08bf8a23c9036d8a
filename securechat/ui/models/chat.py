"""One conversation's messages: a bounded window over its history, paged in at either end."""

from __future__ import annotations

import datetime
from typing import Any

import attrs
from PyQt6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt

from securechat.client import MessageExtras, MessageType, Sender, StoredMessage
from securechat.ui import strings as S
from securechat.ui.call_log import call_line, is_call
from securechat.ui.format import day_label
from securechat.ui.models.roles import Roles
from securechat.ui.widgets.files import shown_text


def system_line(message: StoredMessage, name: str) -> str:
    """What a system row of a conversation says (the contact's name filled in)."""
    if message.type == MessageType.DEVICE_ADDED:
        return S.DEVICE_ADDED_LINE.format(name=name)
    if message.type == MessageType.DEVICE_REMOVED:
        return S.DEVICE_REMOVED_LINE.format(name=name)
    return message.text


def deleted_line(message: StoredMessage) -> str:
    """What an unsent message's marker says, on the sender's side and the other."""
    return S.MESSAGE_DELETED_MINE if message.sender == Sender.ME else S.MESSAGE_DELETED


_EXTRA_ROLES = (Roles.REACTIONS, Roles.EDITED, Roles.REPLY_AUTHOR, Roles.MY_REACTION)


def reaction_summary(extras: MessageExtras) -> str:
    """"👍 2  ❤️": each emoji once, with how many chose it when more than one did."""
    counts: dict[str, int] = {}
    for _, emoji in extras.reactions:
        counts[emoji] = counts.get(emoji, 0) + 1
    return "  ".join(emoji if n == 1 else f"{emoji} {n}" for emoji, n in counts.items())


class ChatModel(QAbstractListModel):
    """A window of one conversation, oldest first: at most MAX_ROWS messages.

    Scrolling up prepends older pages and scrolling down appends newer ones; what
    falls outside the window is dropped from the other end, so that a list view's
    relayout on every insert stays bounded however long the history is. `at_start`
    and `at_end` say whether the oldest and the newest messages are in the window.
    Day separators and size keys are worked out once per insert, not in `data()`,
    which the view calls for every row on every layout."""

    PAGE = 50
    MAX_ROWS = 600

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StoredMessage] = []
        self._dates: list[int] = []  # each row's local calendar day (ordinal)
        self._by_id: dict[str, StoredMessage] = {}
        self._extras: dict[str, MessageExtras] = {}  # reactions and edited marks, by id
        self.peer: str | None = None
        self.peer_name = ""  # for system lines ("… signed in on a new device")
        self.at_start = False
        self.at_end = True
        self.generation = 0

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def message(self, row: int) -> StoredMessage:
        return self._rows[row]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = index.row()
        m = self._rows[row]
        if role == Roles.SIZE_KEY:  # everything the bubble's size depends on
            extras = self._extras.get(m.id)
            return (m.id, self._starts_day(row), len(m.text), hash(m.text), extras)
        if role in _EXTRA_ROLES:
            return self._extra(m, role)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if is_call(m):  # calls (issue 15): a centred line like the system ones
                return call_line(m, self.peer_name)
            if m.type == MessageType.DELETED:
                return deleted_line(m)
            return system_line(m, self.peer_name) if m.sender == Sender.SYSTEM else shown_text(m)
        if role == Roles.DELETED:
            return m.type == MessageType.DELETED
        if role == Roles.SYSTEM:
            return m.sender == Sender.SYSTEM or is_call(m)
        if role == Roles.MESSAGE:
            return m
        if role == Roles.MESSAGE_ID:
            return m.id
        if role == Roles.FROM_ME:
            return m.sender == "me"
        if role == Roles.STATUS:
            return m.status
        if role == Roles.TIMESTAMP:
            return m.timestamp
        if role == Roles.TIME:
            return datetime.datetime.fromtimestamp(m.timestamp / 1000).strftime("%H:%M")
        if role == Roles.DAY:
            return day_label(m.timestamp) if self._starts_day(row) else None
        if role == Roles.REPLY_QUOTE:
            if not m.reply_to:
                return None
            original = self._by_id.get(m.reply_to)
            if original is None:
                return S.DELETED_ORIGINAL
            if original.type == MessageType.DELETED:
                return S.DELETED_QUOTE
            return shown_text(original)  # a file by its name, not its stored JSON
        return None

    def _extra(self, m: StoredMessage, role: int) -> Any:
        extras = self._extras.get(m.id) or MessageExtras()
        if role == Roles.EDITED:
            return extras.edited
        if role == Roles.MY_REACTION:
            return extras.mine
        if role == Roles.REACTIONS:
            return reaction_summary(extras)
        original = self._by_id.get(m.reply_to or "")  # REPLY_AUTHOR
        if original is None:
            return None
        return S.ME_AUTHOR if original.sender == Sender.ME else self.peer_name

    def _starts_day(self, row: int) -> bool:
        return row == 0 or self._dates[row - 1] != self._dates[row]

    @staticmethod
    def _date(message: StoredMessage) -> int:
        return datetime.date.fromtimestamp(message.timestamp / 1000).toordinal()

    def reset(self, peer: str | None, messages: list[StoredMessage]) -> None:
        """The newest page of a conversation."""
        self.beginResetModel()
        self.generation += 1  # pages asked for before this are stale
        self.peer = peer
        self._rows = list(messages)
        self._dates = [self._date(m) for m in messages]
        self._by_id = {m.id: m for m in messages}
        self._extras = {}
        self.at_start = len(messages) < self.PAGE
        self.at_end = True
        self.endResetModel()

    def oldest_key(self) -> tuple[int, str] | None:
        return (self._rows[0].timestamp, self._rows[0].id) if self._rows else None

    def newest_key(self) -> tuple[int, str] | None:
        return (self._rows[-1].timestamp, self._rows[-1].id) if self._rows else None

    def prepend(self, older: list[StoredMessage]) -> int:
        """An older page (oldest first) on top; the newest rows beyond MAX_ROWS go.
        Returns how many rows were added."""
        return self._add_page(older, at_front=True)

    def append(self, newer: list[StoredMessage]) -> int:
        """A newer page (oldest first) at the bottom; the oldest rows beyond MAX_ROWS go.
        Returns how many rows were added."""
        return self._add_page(newer, at_front=False)

    def _add_page(self, page: list[StoredMessage], at_front: bool) -> int:
        page = [m for m in page if m.id not in self._by_id]
        if len(page) < self.PAGE:  # a short page: that end of the conversation is here
            if at_front:
                self.at_start = True
            else:
                self.at_end = True
        if not page:
            return 0
        self._insert(0 if at_front else len(self._rows), page)
        if at_front:
            self._changed(len(page))  # the row below may have lost its day separator
        self._trim(keep_newest=not at_front)
        return len(page)

    def add(self, message: StoredMessage, keep_newest: bool = True) -> bool:
        """A new message (sent or received), in (timestamp, id) order, if it falls inside
        the window (else it comes with its page). When that overfills the window, the
        oldest rows go (`keep_newest`: the user is at the bottom) or the newest do (the
        user is reading further up: what is on screen must not move)."""
        if message.id in self._by_id:
            return False
        key = (message.timestamp, message.id)
        newest, oldest = self.newest_key(), self.oldest_key()
        if newest is None:
            if not self.at_end:
                return False
        elif (not self.at_end and key > newest) or (not self.at_start and key < oldest):
            return False
        row = len(self._rows)
        while row > 0 and (self._rows[row - 1].timestamp, self._rows[row - 1].id) > key:
            row -= 1
        self._insert(row, [message])
        self._changed(row + 1)
        self._trim(keep_newest)
        return message.id in self._by_id

    def _trim(self, keep_newest: bool) -> None:
        """Drop the rows beyond MAX_ROWS: the oldest (`keep_newest`) or the newest."""
        excess = len(self._rows) - self.MAX_ROWS
        if excess <= 0:
            return
        if keep_newest:
            self._remove(0, excess)
            self.at_start = False
            self._changed(0)  # the new top row starts a day now
        else:
            self._remove(len(self._rows) - excess, len(self._rows))
            self.at_end = False

    def _changed(self, row: int) -> None:
        """Row `row` shows differently (its day separator), if there is such a row."""
        if 0 <= row < len(self._rows):
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def _insert(self, row: int, messages: list[StoredMessage]) -> None:
        self.beginInsertRows(QModelIndex(), row, row + len(messages) - 1)
        self._rows[row:row] = messages
        self._dates[row:row] = [self._date(m) for m in messages]
        self._by_id.update((m.id, m) for m in messages)
        self.endInsertRows()

    def _remove(self, start: int, end: int) -> None:
        self.beginRemoveRows(QModelIndex(), start, end - 1)
        for m in self._rows[start:end]:
            del self._by_id[m.id]
        del self._rows[start:end]
        del self._dates[start:end]
        self.endRemoveRows()

    def row_of(self, message_id: str) -> int:
        if message_id not in self._by_id:
            return -1
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].id == message_id:
                return i
        return -1

    def set_status(self, message_id: str, status: int) -> None:
        i = self.row_of(message_id)
        if i < 0 or self._rows[i].status >= status:
            return
        self._rows[i] = self._by_id[message_id] = attrs.evolve(self._rows[i], status=status)
        index = self.index(i)
        self.dataChanged.emit(index, index, [Roles.STATUS, Roles.MESSAGE])

    def remove(self, message_id: str) -> None:
        i = self.row_of(message_id)
        if i < 0:
            return
        self._remove(i, i + 1)
        self._changed(i)

    # --- reactions and edits --------------------------------------------------------------

    def set_extras(self, found: dict[str, MessageExtras]) -> None:
        """Reactions and edited marks of messages in the window (a page came in)."""
        for message_id, extras in found.items():
            if message_id in self._by_id:
                self._extras[message_id] = extras
                self._changed(self.row_of(message_id))

    def set_reaction(self, message_id: str, reactor: str, emoji: str) -> None:
        if message_id not in self._by_id:
            return
        old = self._extras.get(message_id) or MessageExtras()
        reactions = tuple(r for r in old.reactions if r[0] != reactor)
        if emoji:
            reactions += ((reactor, emoji),)
        self._extras[message_id] = attrs.evolve(old, reactions=reactions)
        self._changed(self.row_of(message_id))

    def set_text(self, message_id: str, text: str) -> None:
        """The author edited it: the new text, and the "edited" mark."""
        i = self.row_of(message_id)
        if i < 0:
            return
        self._rows[i] = self._by_id[message_id] = attrs.evolve(self._rows[i], text=text)
        old = self._extras.get(message_id) or MessageExtras()
        self._extras[message_id] = attrs.evolve(old, edited=True)
        self._changed(i)
        for row, m in enumerate(self._rows):  # replies quoting it show the new text
            if m.reply_to == message_id:
                self._changed(row)

    def mark_unsent(self, marker: StoredMessage) -> None:
        """Unsent: the row stays as its marker (no text, reactions or edited mark), and
        replies quoting it say "deleted message"."""
        i = self.row_of(marker.id)
        if i < 0:
            return
        self._rows[i] = self._by_id[marker.id] = marker
        self._extras.pop(marker.id, None)
        self._changed(i)
        for row, m in enumerate(self._rows):
            if m.reply_to == marker.id:
                self._changed(row)

    def message_ids(self) -> list[str]:
        return [m.id for m in self._rows]
