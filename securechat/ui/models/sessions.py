"""The session list: one row per contact, most recent conversation first, and the
search box's filter over it."""

from __future__ import annotations

import bisect
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

from securechat.client import Contact, MessageType, Sender, StoredMessage
from securechat.ui import strings as S
from securechat.ui.format import initials, short_time
from securechat.ui.models.roles import Roles
from securechat.ui.plaintext import plain_tooltip
from securechat.ui.widgets.files import shown_text


def preview(message: StoredMessage) -> str:
    """A message as the session list's preview line shows it."""
    if message.type == MessageType.DELETED:  # unsent: the marker's words, never its text
        return S.MESSAGE_DELETED_MINE if message.sender == Sender.ME else S.MESSAGE_DELETED
    if message.sender != Sender.SYSTEM:
        return shown_text(message)  # a file: its name, not its stored JSON
    return {MessageType.DEVICE_ADDED: S.DEVICE_ADDED_PREVIEW,
            MessageType.DEVICE_REMOVED: S.DEVICE_REMOVED_PREVIEW}.get(message.type, message.text)


def _prefixed_mine(message: StoredMessage) -> bool:
    """Whether the preview starts "You: " (not before "You deleted this message")."""
    return message.sender == Sender.ME and message.type != MessageType.DELETED


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
        self.avatars: dict[str, Any] = {}  # peer -> QPixmap (ui.widgets.avatars)

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
        if role == Roles.AVATAR:
            return self.avatars.get(row.peer)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(f"{row.name}\n{row.email}")  # the whole name: rows elide it
        return None

    def set_avatar(self, peer: str, pixmap: Any) -> None:
        """The contact's picture (None: their initials)."""
        if pixmap is None:
            self.avatars.pop(peer, None)
        else:
            self.avatars[peer] = pixmap
        i = self._row_of.get(peer, -1)
        if i >= 0:
            self.dataChanged.emit(self.index(i), self.index(i), [Roles.AVATAR])

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
                        last_from_me=_prefixed_mine(message))

    @staticmethod
    def _set_last_fields(row: SessionRow, message: StoredMessage | None) -> None:
        if message is None:
            row.last_text, row.last_timestamp, row.last_from_me = "", 0, False
        else:
            row.last_text, row.last_timestamp = preview(message), message.timestamp
            row.last_from_me = _prefixed_mine(message)

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
