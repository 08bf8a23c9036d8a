"""Qt models over the client core's state: the session list and one chat's messages."""

from __future__ import annotations

import datetime
from typing import Any

import attrs
from PyQt6.QtCore import QAbstractListModel, QModelIndex, QObject, QSortFilterProxyModel, Qt

from securechat.client.storage import Contact, StoredMessage
from securechat.ui import strings as S

R = Qt.ItemDataRole.UserRole


class Roles:
    PEER = R + 1
    NAME = R + 2
    INITIALS = R + 3
    LAST_TEXT = R + 4
    TIME = R + 5  # formatted
    UNREAD = R + 6
    ONLINE = R + 7
    TYPING = R + 8
    KEY_CHANGED = R + 9
    SEARCH = R + 10
    # chat rows
    MESSAGE = R + 20
    FROM_ME = R + 21
    STATUS = R + 22
    DAY = R + 23  # a day separator above this message, or None
    REPLY_QUOTE = R + 24
    MESSAGE_ID = R + 25
    TIMESTAMP = R + 26


def initials(name: str) -> str:
    if "@" in name:  # an email: its local part
        name = name.split("@", 1)[0]
    words = [w for w in name.replace(".", " ").replace("_", " ").split() if w]
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


@attrs.define
class SessionRow:
    peer: str
    sid: str
    name: str
    email: str
    last_text: str = ""
    last_from_me: bool = False
    last_timestamp: int = 0
    unread: int = 0
    online: bool = False
    typing: bool = False
    key_changed: bool = False


class SessionListModel(QAbstractListModel):
    """One row per contact, most recent conversation first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SessionRow] = []

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Roles.NAME):
            return row.name
        if role == Roles.PEER:
            return row.peer
        if role == Roles.INITIALS:
            return initials(row.name)
        if role == Roles.LAST_TEXT:
            if row.typing:
                return S.TYPING
            if not row.last_timestamp:
                return S.NO_MESSAGES
            text = row.last_text.replace("\n", " ")
            return (S.YOU + text) if row.last_from_me else text
        if role == Roles.TIME:
            return short_time(row.last_timestamp)
        if role == Roles.TIMESTAMP:
            return row.last_timestamp
        if role == Roles.UNREAD:
            return row.unread
        if role == Roles.ONLINE:
            return row.online
        if role == Roles.TYPING:
            return row.typing
        if role == Roles.KEY_CHANGED:
            return row.key_changed
        if role == Roles.SEARCH:
            return f"{row.name} {row.email}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.email
        return None

    def row_for(self, peer: str) -> int:
        for i, row in enumerate(self._rows):
            if row.peer == peer:
                return i
        return -1

    def session(self, peer: str) -> SessionRow | None:
        i = self.row_for(peer)
        return self._rows[i] if i >= 0 else None

    def peer_for_sid(self, sid: str) -> str | None:
        return next((row.peer for row in self._rows if row.sid == sid), None)

    def set_contacts(self, contacts: list[Contact], online: Any = None) -> None:
        """Add rows for new contacts, drop rows of removed ones, refresh names."""
        known = {c.peer_user_id: c for c in contacts}
        for i in reversed(range(len(self._rows))):
            if self._rows[i].peer not in known:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
        for contact in contacts:
            i = self.row_for(contact.peer_user_id)
            if i < 0:
                self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
                self._rows.append(SessionRow(
                    contact.peer_user_id, contact.sid, contact.display_name, contact.peer_email,
                    online=bool(online and online(contact.peer_user_id)),
                    key_changed=contact.changed_identity_key is not None))
                self.endInsertRows()
            else:
                self.update(contact.peer_user_id, name=contact.display_name,
                            key_changed=contact.changed_identity_key is not None)
        self._resort()

    def update(self, peer: str, **changes: Any) -> None:
        i = self.row_for(peer)
        if i < 0:
            return
        row = self._rows[i]
        for key, value in changes.items():
            setattr(row, key, value)
        index = self.index(i)
        self.dataChanged.emit(index, index)
        if "last_timestamp" in changes:
            self._resort()

    def set_last(self, peer: str, message: StoredMessage | None) -> None:
        if message is None:
            self.update(peer, last_text="", last_timestamp=0, last_from_me=False)
        else:
            self.update(peer, last_text=message.text, last_timestamp=message.timestamp,
                        last_from_me=message.sender == "me")

    def _resort(self) -> None:
        self.layoutAboutToBeChanged.emit()
        old = list(self._rows)
        self._rows.sort(key=lambda r: (-r.last_timestamp, r.name.lower()))
        moved = {id(r): i for i, r in enumerate(self._rows)}
        self.changePersistentIndexList(
            [self.index(i) for i in range(len(old))],
            [self.index(moved[id(r)]) for r in old])
        self.layoutChanged.emit()


class SessionFilterModel(QSortFilterProxyModel):
    """The search box: matches name or email, case-insensitively."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(Roles.SEARCH)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)


class ChatModel(QAbstractListModel):
    """The loaded tail of one conversation, oldest first; older pages are prepended."""

    PAGE = 50

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StoredMessage] = []
        self._by_id: dict[str, StoredMessage] = {}
        self.peer: str | None = None
        self.at_start = False  # the whole history is loaded

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def message(self, row: int) -> StoredMessage:
        return self._rows[row]

    def messages(self) -> list[StoredMessage]:
        return list(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        m = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return m.text
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
            return self._day_header(index.row())
        if role == Roles.REPLY_QUOTE:
            if not m.reply_to:
                return None
            original = self._by_id.get(m.reply_to)
            return original.text if original is not None else S.DELETED_ORIGINAL
        return None

    def _day_header(self, row: int) -> str | None:
        this = datetime.datetime.fromtimestamp(self._rows[row].timestamp / 1000).date()
        if row > 0:
            previous = datetime.datetime.fromtimestamp(self._rows[row - 1].timestamp / 1000)
            if previous.date() == this:
                return None
        return day_label(self._rows[row].timestamp)

    def reset(self, peer: str | None, messages: list[StoredMessage]) -> None:
        self.beginResetModel()
        self.peer = peer
        self._rows = list(messages)
        self._by_id = {m.id: m for m in messages}
        self.at_start = len(messages) < self.PAGE
        self.endResetModel()

    def oldest_key(self) -> tuple[int, str] | None:
        return (self._rows[0].timestamp, self._rows[0].id) if self._rows else None

    def prepend(self, older: list[StoredMessage]) -> int:
        """Older messages (oldest first) go on top; returns how many were new."""
        older = [m for m in older if m.id not in self._by_id]
        if len(older) < self.PAGE:
            self.at_start = True
        if not older:
            return 0
        self.beginInsertRows(QModelIndex(), 0, len(older) - 1)
        self._rows[:0] = older
        self._by_id.update((m.id, m) for m in older)
        self.endInsertRows()
        # the first previously loaded row may lose its day separator
        first_old = self.index(len(older))
        self.dataChanged.emit(first_old, first_old)
        return len(older)

    def add(self, message: StoredMessage) -> bool:
        """A new message (sent or received): appended in (timestamp, id) order."""
        if message.id in self._by_id:
            return False
        key = (message.timestamp, message.id)
        row = len(self._rows)
        while row > 0 and (self._rows[row - 1].timestamp, self._rows[row - 1].id) > key:
            row -= 1
        if row == 0 and self._rows and not self.at_start:
            return False  # older than what is loaded: it comes with its page
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, message)
        self._by_id[message.id] = message
        self.endInsertRows()
        return True

    def _find(self, message_id: str) -> int:
        if message_id not in self._by_id:
            return -1
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].id == message_id:
                return i
        return -1

    def set_status(self, message_id: str, status: int) -> None:
        i = self._find(message_id)
        if i < 0 or self._rows[i].status >= status:
            return
        self._rows[i] = self._by_id[message_id] = attrs.evolve(self._rows[i], status=status)
        index = self.index(i)
        self.dataChanged.emit(index, index, [Roles.STATUS, Roles.MESSAGE])

    def mark_all_read(self) -> None:
        """Received messages shown as read (after mark_read)."""
        for i, m in enumerate(self._rows):
            if m.sender == "other" and not m.is_read:
                self._rows[i] = self._by_id[m.id] = attrs.evolve(m, is_read=True)

    def remove(self, message_id: str) -> None:
        i = self._find(message_id)
        if i < 0:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        del self._by_id[message_id]
        self.endRemoveRows()
        if i < len(self._rows):
            index = self.index(i)
            self.dataChanged.emit(index, index)
