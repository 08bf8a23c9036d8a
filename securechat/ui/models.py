"""Qt models over the client core's state: the session list and one chat's messages."""

from __future__ import annotations

import bisect
import datetime
from typing import Any

import attrs
from PyQt6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    pyqtSignal,
)

from securechat.client.model import Contact, MessageType, Sender, StoredMessage
from securechat.ui import strings as S
from securechat.ui.plaintext import plain_tooltip

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
    SIZE_KEY = R + 27  # what a bubble's size depends on, besides the view's width
    TYPING_PHASE = R + 28  # the typing dots' animation frame
    SYSTEM = R + 29  # a line the client wrote ("Bob signed in on a new device"), not a bubble


def system_line(message: StoredMessage, name: str) -> str:
    """What a system row of a conversation says (the contact's name filled in)."""
    if message.type == MessageType.DEVICE_ADDED:
        return S.DEVICE_ADDED_LINE.format(name=name)
    if message.type == MessageType.DEVICE_REMOVED:
        return S.DEVICE_REMOVED_LINE.format(name=name)
    return message.text


def preview(message: StoredMessage) -> str:
    """A message as the session list's preview line shows it."""
    if message.sender != Sender.SYSTEM:
        return message.text
    return {MessageType.DEVICE_ADDED: S.DEVICE_ADDED_PREVIEW,
            MessageType.DEVICE_REMOVED: S.DEVICE_REMOVED_PREVIEW}.get(message.type, message.text)


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
    """One row per contact, most recent conversation first (ties: by name).

    Built to stay cheap with thousands of contacts: rows are looked up through a
    peer -> row dict, a whole list of contacts or summaries is applied with one sort,
    one row's change moves only that row (beginMoveRows) to its new place, and the
    unread total is kept as rows change (`unread_changed`), not recounted."""

    unread_changed = pyqtSignal(int)  # the sum of every row's unread count

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SessionRow] = []
        self._row_of: dict[str, int] = {}  # peer -> row
        self._peer_of_sid: dict[str, str] = {}
        self.unread_total = 0
        self.typing_phase = 0  # which of the typing dots is lit

    @staticmethod
    def _key(row: SessionRow) -> tuple[int, str, str]:
        return (-row.last_timestamp, row.name.lower(), row.peer)

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
        if role == Roles.TYPING_PHASE:
            return self.typing_phase
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
            return plain_tooltip(row.email)
        return None

    def row_for(self, peer: str) -> int:
        return self._row_of.get(peer, -1)

    def session(self, peer: str) -> SessionRow | None:
        i = self._row_of.get(peer, -1)
        return self._rows[i] if i >= 0 else None

    def peer_for_sid(self, sid: str) -> str | None:
        return self._peer_of_sid.get(sid)

    # --- whole-list changes -----------------------------------------------------------

    def set_contacts(self, contacts: list[Contact], online: Any = None) -> None:
        """Add rows for new contacts, drop rows of removed ones, refresh names; one sort."""
        known = {c.peer_user_id: c for c in contacts}
        if not self._rows or not known:  # the first fill, or the list emptied: a reset
            self.beginResetModel()
            self._rows = [self._new_row(c, online) for c in known.values()]
            self._rows.sort(key=self._key)
            self._reindex()
            self.endResetModel()
            self._recount_unread()
            return
        # removed contacts, bottom up, a contiguous run at a time
        gone = [i for i, row in enumerate(self._rows) if row.peer not in known]
        while gone:
            last = first = gone.pop()
            while gone and gone[-1] == first - 1:
                first = gone.pop()
            self.beginRemoveRows(QModelIndex(), first, last)
            for row in self._rows[first:last + 1]:
                del self._row_of[row.peer]
                if self._peer_of_sid.get(row.sid) == row.peer:
                    del self._peer_of_sid[row.sid]
            del self._rows[first:last + 1]
            self._reindex(first)
            self.endRemoveRows()
        # renamed, re-keyed or moved to another session id
        changed: list[SessionRow] = []
        for peer, contact in known.items():
            row = self.session(peer)
            if row is None:
                continue
            key_changed = contact.changed_identity_key is not None
            if (row.name, row.sid, row.email, row.key_changed) != (
                    contact.display_name, contact.sid, contact.peer_email, key_changed):
                if self._peer_of_sid.get(row.sid) == peer:
                    del self._peer_of_sid[row.sid]
                row.name, row.sid, row.email = contact.display_name, contact.sid, contact.peer_email
                row.key_changed = key_changed
                self._peer_of_sid[row.sid] = peer
                changed.append(row)
        # new contacts, at the end in one insert; the sort below puts them in place
        new = [self._new_row(c, online) for p, c in known.items() if p not in self._row_of]
        if new:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            self._rows.extend(new)
            self._reindex(start)
            self.endInsertRows()
        self._resort()
        for row in changed:
            index = self.index(self._row_of[row.peer])
            self.dataChanged.emit(index, index)
        self._recount_unread()

    def apply_summaries(self, summaries: dict[str, Any]) -> None:
        """Each peer's last message and unread count (ConversationSummary-like: with
        `last_message` and `unread`), applied at once: one sort, one dataChanged."""
        for peer, summary in summaries.items():
            row = self.session(peer)
            if row is not None:
                self._set_last_fields(row, summary.last_message)
                row.unread = summary.unread
        if not self._rows:
            return
        self._resort()
        self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))
        self._recount_unread()

    def _new_row(self, contact: Contact, online: Any) -> SessionRow:
        return SessionRow(contact.peer_user_id, contact.sid, contact.display_name,
                          contact.peer_email,
                          online=bool(online and online(contact.peer_user_id)),
                          key_changed=contact.changed_identity_key is not None)

    def _reindex(self, start: int = 0) -> None:
        """Row numbers from `start` on (the dicts hold no removed peers by then)."""
        if start == 0:
            self._row_of, self._peer_of_sid = {}, {}
        for i in range(start, len(self._rows)):
            row = self._rows[i]
            self._row_of[row.peer] = i
            self._peer_of_sid[row.sid] = row.peer

    def _resort(self) -> None:
        """Sort every row, as one layout change (only if the order is not right already)."""
        keys = [self._key(row) for row in self._rows]
        if all(keys[i] < keys[i + 1] for i in range(len(keys) - 1)):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        peers = [self._rows[i.row()].peer if 0 <= i.row() < len(self._rows) else None
                 for i in persistent]
        self._rows.sort(key=self._key)
        self._row_of = {row.peer: i for i, row in enumerate(self._rows)}
        self.changePersistentIndexList(
            persistent, [self.index(self._row_of[p]) if p is not None else QModelIndex()
                         for p in peers])
        self.layoutChanged.emit()

    def _recount_unread(self) -> None:
        self._set_unread_total(sum(row.unread for row in self._rows))

    def _set_unread_total(self, total: int) -> None:
        if total != self.unread_total:
            self.unread_total = total
            self.unread_changed.emit(total)

    # --- one row's changes ------------------------------------------------------------

    def update(self, peer: str, **changes: Any) -> None:
        """Change one row's fields; it moves to its new place if its order changed."""
        i = self._row_of.get(peer, -1)
        if i < 0:
            return
        row = self._rows[i]
        before, unread = self._key(row), row.unread
        for key, value in changes.items():
            setattr(row, key, value)
        if "sid" in changes:
            self._peer_of_sid = {r.sid: r.peer for r in self._rows}
        if self._key(row) != before:
            i = self._move(i)
        index = self.index(i)
        self.dataChanged.emit(index, index)
        if row.unread != unread:
            self._set_unread_total(self.unread_total + row.unread - unread)

    def advance_typing(self) -> bool:
        """The next frame of the typing dots; False when nobody is typing."""
        rows = [i for i, row in enumerate(self._rows) if row.typing]
        self.typing_phase = (self.typing_phase + 1) % 3
        for i in rows:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Roles.TYPING_PHASE])
        return bool(rows)

    def set_last(self, peer: str, message: StoredMessage | None) -> None:
        if message is None:
            self.update(peer, last_text="", last_timestamp=0, last_from_me=False)
        else:
            self.update(peer, last_text=preview(message), last_timestamp=message.timestamp,
                        last_from_me=message.sender == "me")

    @staticmethod
    def _set_last_fields(row: SessionRow, message: StoredMessage | None) -> None:
        if message is None:
            row.last_text, row.last_timestamp, row.last_from_me = "", 0, False
        else:
            row.last_text, row.last_timestamp = preview(message), message.timestamp
            row.last_from_me = message.sender == "me"

    def _move(self, i: int) -> int:
        """Row i's key changed, the others are in order: move it where it belongs.
        Returns its new row."""
        rows, row = self._rows, self._rows[i]
        key = self._key(row)
        if i > 0 and key < self._key(rows[i - 1]):
            j = bisect.bisect_left(rows, key, 0, i, key=self._key)  # moves up to j
            destination = j
        elif i + 1 < len(rows) and self._key(rows[i + 1]) < key:
            j = bisect.bisect_left(rows, key, i + 1, len(rows), key=self._key) - 1
            destination = j + 1  # before the row that is at j + 1 now
        else:
            return i
        self.beginMoveRows(QModelIndex(), i, i, QModelIndex(), destination)
        del rows[i]
        rows.insert(j, row)
        for k in range(min(i, j), max(i, j) + 1):
            self._row_of[rows[k].peer] = k
        self.endMoveRows()
        return j


class SessionFilterModel(QSortFilterProxyModel):
    """The search box: matches name or email, case-insensitively."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(Roles.SEARCH)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)


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
        if role == Roles.SIZE_KEY:
            return (m.id, self._starts_day(row))
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return system_line(m, self.peer_name) if m.sender == Sender.SYSTEM else m.text
        if role == Roles.SYSTEM:
            return m.sender == Sender.SYSTEM
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
            return original.text if original is not None else S.DELETED_ORIGINAL
        return None

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
        older = [m for m in older if m.id not in self._by_id]
        if len(older) < self.PAGE:
            self.at_start = True
        if not older:
            return 0
        self._insert(0, older)
        first_old = self.index(len(older))  # it may have lost its day separator
        self.dataChanged.emit(first_old, first_old)
        excess = len(self._rows) - self.MAX_ROWS
        if excess > 0:
            self._remove(len(self._rows) - excess, len(self._rows))
            self.at_end = False
        return len(older)

    def append(self, newer: list[StoredMessage]) -> int:
        """A newer page (oldest first) at the bottom; the oldest rows beyond MAX_ROWS go.
        Returns how many rows were added."""
        newer = [m for m in newer if m.id not in self._by_id]
        if len(newer) < self.PAGE:
            self.at_end = True
        if not newer:
            return 0
        self._insert(len(self._rows), newer)
        excess = len(self._rows) - self.MAX_ROWS
        if excess > 0:
            self._remove(0, excess)
            self.at_start = False
            first = self.index(0)
            self.dataChanged.emit(first, first)
        return len(newer)

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
        if row + 1 < len(self._rows):
            below = self.index(row + 1)
            self.dataChanged.emit(below, below)
        excess = len(self._rows) - self.MAX_ROWS
        if excess > 0 and keep_newest:
            self._remove(0, excess)
            self.at_start = False
            first = self.index(0)
            self.dataChanged.emit(first, first)
        elif excess > 0:
            self._remove(len(self._rows) - excess, len(self._rows))
            self.at_end = False
        return message.id in self._by_id

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
        if i < len(self._rows):
            index = self.index(i)
            self.dataChanged.emit(index, index)
