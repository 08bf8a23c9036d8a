"""The vault window: unlocked with the MFA code (if on) and, for an account opened with
its PIN, the master password; then its items, searched by title, added, edited,
deleted; a password copied for 30 s; files imported and exported.

The window follows the vault's lock (`client.vault.lock_state`), which the core drives:
when the vault locks — the Lock button, idle minutes, the app locking, or this window
closing — the items leave the screen and the unlock form shows again.

File dialogs are methods (`choose_import_path`, `choose_export_path`) and so is the
yes/no question (`confirm`): tests replace them instead of driving native dialogs."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from twisted.internet import defer
from twisted.internet import reactor as default_reactor
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from securechat.client import (
    VAULT_RESET_CONFIRMATION,
    SecureChatClient,
    VaultCorrupted,
    VaultItem,
    VaultItemType,
)
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import plain_label, wrapped_label
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.clipboard import CLEAR_AFTER_MS, SecretClipboard
from securechat.ui.widgets.countdown import ButtonCountdown
from securechat.ui.windows.vault_editor import ItemEditor

ID_ROLE = Qt.ItemDataRole.UserRole


class VaultWindow(QDialog):
    unlocked = pyqtSignal()
    locked = pyqtSignal()  # the vault locked: nothing of it is on screen any more
    changed = pyqtSignal()  # an item was saved, imported or deleted (the list shows it)
    failed = pyqtSignal(str)  # the core refused something: the message shown
    exported = pyqtSignal(str)  # a file item was written to this path
    reset_done = pyqtSignal()
    mfa_checked = pyqtSignal(bool)  # whether the code is asked (known once the core says)

    def __init__(self, client: SecureChatClient, clear_after_ms: int = CLEAR_AFTER_MS,
                 parent: QWidget | None = None, clock: IReactorTime | None = None) -> None:
        """`clock` ticks the unlock button's countdown (the reactor; tests: a Clock)."""
        super().__init__(parent)
        self.client = client
        self.vault = client.vault
        self.setWindowTitle(S.VAULT_TITLE)
        self.resize(560, 520)
        self.clipboard = SecretClipboard(clear_after_ms, self)
        self.clipboard.cleared.connect(
            lambda wiped: wiped and self.status.setText(S.VAULT_CLIPBOARD_CLEARED))
        self.editor: ItemEditor | None = None
        self._shown: dict[str, VaultItem] = {}  # listed: by id, in the list's order
        self.stack = QStackedWidget()
        QVBoxLayout(self).addWidget(self.stack)
        self.stack.addWidget(self._unlock_page())
        self.countdown = ButtonCountdown(self.unlock_button, S.VAULT_UNLOCK_WAIT,
                                         clock if clock is not None else default_reactor)
        self.countdown.finished.connect(self.unlock_error.clear)
        self.stack.addWidget(self._items_page())
        self.vault.lock_state.on_lock.append(self._vault_locked)
        self.finished.connect(self._closed)
        self._mfa_on = False
        call(client.mfa.is_enabled(), self._show_code_field, self._refused)
        if self.vault.is_unlocked:
            self._opened(None)

    # --- pages ----------------------------------------------------------------------

    def _unlock_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.VAULT_TITLE, "title"))
        layout.addWidget(wrapped_label(S.VAULT_LOCKED_BODY))
        self.code_label = plain_label(S.VAULT_CODE)
        self.code = QLineEdit()
        self.code.returnPressed.connect(self.unlock)
        for widget in (self.code_label, self.code):
            widget.hide()  # until the core says MFA is on
            layout.addWidget(widget)
        self.password_label = wrapped_label(S.VAULT_PASSWORD_BODY, "")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(S.MASTER_PASSWORD)
        self.password.returnPressed.connect(self.unlock)
        for widget in (self.password_label, self.password):
            widget.setVisible(self.vault.needs_password)
            layout.addWidget(widget)
        self.unlock_error = wrapped_label(style="error")
        layout.addWidget(self.unlock_error)
        row = QHBoxLayout()
        self.reset_button = QPushButton(S.VAULT_RESET)
        self.reset_button.clicked.connect(self.reset)
        self.reset_button.hide()  # offered when the vault is damaged
        self.unlock_button = primary_button(S.VAULT_UNLOCK, self.unlock)
        row.addWidget(self.reset_button)
        row.addStretch(1)
        row.addWidget(self.unlock_button)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def _items_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText(S.VAULT_SEARCH)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self.refresh())
        self.lock_button = QPushButton(S.VAULT_LOCK)
        self.lock_button.clicked.connect(self.vault.lock)
        top.addWidget(self.search, 1)
        top.addWidget(self.lock_button)
        layout.addLayout(top)
        self.list = QListWidget()
        self.list.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.list.itemDoubleClicked.connect(lambda _: self.edit_selected())
        layout.addWidget(self.list, 1)
        self.empty_hint = wrapped_label(S.VAULT_EMPTY)
        layout.addWidget(self.empty_hint)
        adding = QHBoxLayout()
        self.add_password_button = QPushButton(S.VAULT_ADD_PASSWORD)
        self.add_password_button.clicked.connect(lambda: self.add_item(VaultItemType.PASSWORD))
        self.add_note_button = QPushButton(S.VAULT_ADD_NOTE)
        self.add_note_button.clicked.connect(lambda: self.add_item(VaultItemType.NOTE))
        self.import_button = QPushButton(S.VAULT_IMPORT_FILE)
        self.import_button.clicked.connect(self.import_file)
        for button in (self.add_password_button, self.add_note_button, self.import_button):
            adding.addWidget(button)
        adding.addStretch(1)
        layout.addLayout(adding)
        acting = QHBoxLayout()
        self.copy_button = QPushButton(S.VAULT_COPY_PASSWORD)
        self.copy_button.clicked.connect(self.copy_password)
        self.export_button = QPushButton(S.VAULT_EXPORT_FILE)
        self.export_button.clicked.connect(self.export_selected)
        self.edit_button = QPushButton(S.VAULT_EDIT)
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = QPushButton(S.VAULT_DELETE)
        self.delete_button.clicked.connect(self.delete_selected)
        for button in (self.copy_button, self.export_button, self.edit_button,
                       self.delete_button):
            acting.addWidget(button)
        acting.addStretch(1)
        layout.addLayout(acting)
        self.status = wrapped_label()
        layout.addWidget(self.status)
        self._selection_changed()
        return page

    # --- locking --------------------------------------------------------------------

    def _show_code_field(self, enabled: bool) -> None:
        self._mfa_on = enabled
        self.code_label.setVisible(enabled)
        self.code.setVisible(enabled)
        if enabled:  # wrong codes before this window (even before a restart) still count
            self._count_down()
        self.mfa_checked.emit(enabled)

    def _count_down(self) -> None:
        """After wrong codes the core takes none for a while: the button says how long."""
        def wait(seconds: float) -> None:
            if seconds > 0 and not self.vault.is_unlocked:
                self.unlock_error.setText(S.VAULT_TOO_MANY_CODES)
                self.countdown.start(seconds)
        call(self.client.mfa.retry_after(), wait)

    def unlock(self) -> Any:
        if self.countdown.running:  # Return in the code field while the button waits
            return None
        code = self.code.text().strip() if self._mfa_on else None
        password = self.password.text() if self.vault.needs_password else None
        if self._mfa_on and not code:
            self.unlock_error.setText(S.VAULT_CODE_MISSING)
            return None
        if self.vault.needs_password and not password:
            self.unlock_error.setText(S.VAULT_PASSWORD_MISSING)
            return None
        self.unlock_button.setEnabled(False)
        self.unlock_error.setText(S.VAULT_UNLOCKING)

        def refused(message: str) -> None:
            self.unlock_button.setEnabled(True)
            self.code.clear()  # a code is for one try
            self._refused(message, self.unlock_error)
            if self._mfa_on:
                self._count_down()

        return call(self._offer_reset(self.vault.unlock(code, password)), self._opened,
                    refused)

    def _offer_reset(self, d: defer.Deferred[Any]) -> defer.Deferred[Any]:
        """A damaged vault: the reset button shows (the failure goes on to be shown)."""
        def damaged(f: Failure) -> Failure:
            if f.check(VaultCorrupted):
                self.reset_button.show()
            return f
        return d.addErrback(damaged)

    def _opened(self, _: Any) -> None:
        for field in (self.code, self.password):
            field.clear()
        self.unlock_error.clear()
        self.unlock_button.setEnabled(True)
        self.reset_button.hide()
        self.stack.setCurrentIndex(1)
        self.refresh()
        self.unlocked.emit()

    def _vault_locked(self) -> None:
        """The core locked the vault: nothing of it stays on screen."""
        self.clipboard.clear_now()
        if self.editor is not None:
            self.editor.reject()
            self.editor = None
        self.list.clear()
        self._shown = {}
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.status.clear()
        self.stack.setCurrentIndex(0)
        self.locked.emit()

    def _closed(self, _result: int) -> None:
        """The window goes: the vault locks with it."""
        self.vault.lock()
        self.countdown.stop(finished=False)
        if self._vault_locked in self.vault.lock_state.on_lock:
            self.vault.lock_state.on_lock.remove(self._vault_locked)
        self.clipboard.clear_now()

    def reset(self) -> Any:
        if not self.confirm(S.VAULT_RESET_QUESTION):
            return None

        def done(_: Any) -> None:
            self.reset_button.hide()
            self.unlock_error.setText(S.VAULT_RESET_DONE)
            self.reset_done.emit()

        return call(self.vault.reset(VAULT_RESET_CONFIRMATION), done,
                    lambda m: self._refused(m, self.unlock_error))

    # --- the list -------------------------------------------------------------------

    def refresh(self) -> None:
        """The items whose title holds the search text (the core's titles, by title)."""
        if not self.vault.is_unlocked:
            return
        chosen = self.selected()
        self.list.clear()
        self._shown = {item.id: item for item in self.vault.items(self.search.text())}
        for item in self._shown.values():
            row = QListWidgetItem(S.VAULT_ITEM_ROW.format(
                title=item.title, kind=S.VAULT_KIND[item.type.value]))
            row.setData(ID_ROLE, item.id)
            self.list.addItem(row)
            if chosen is not None and item.id == chosen.id:
                self.list.setCurrentItem(row)
        self.empty_hint.setVisible(self.list.count() == 0 and not self.search.text())
        self._selection_changed()

    def titles(self) -> list[str]:
        """The titles listed, in order (for tests and accessibility tooling)."""
        return [item.title for item in self._rows()]

    def select(self, title: str) -> None:
        for i, item in enumerate(self._rows()):
            if item.title == title:
                self.list.setCurrentRow(i)
                return
        raise KeyError(title)

    def selected(self) -> VaultItem | None:
        row = self.list.currentItem()
        return None if row is None else self._shown.get(str(row.data(ID_ROLE)))

    def _rows(self) -> list[VaultItem]:
        rows = (self.list.item(i) for i in range(self.list.count()))
        return [self._shown[str(row.data(ID_ROLE))] for row in rows if row is not None]

    def _selection_changed(self) -> None:
        item = self.selected()
        kind = None if item is None else item.type
        self.copy_button.setEnabled(kind == VaultItemType.PASSWORD)
        self.export_button.setEnabled(kind == VaultItemType.FILE)
        self.edit_button.setEnabled(item is not None)
        self.delete_button.setEnabled(item is not None)

    # --- items ----------------------------------------------------------------------

    def add_item(self, kind: VaultItemType) -> ItemEditor:
        editor = self._open_editor(kind, {})

        def save(values: dict[str, str]) -> Any:
            title = values.pop("title")
            work = (self.vault.add_password(title, **values) if kind == VaultItemType.PASSWORD
                    else self.vault.add_note(title, values["text"]))
            return self._saving(work, editor)

        editor.save_requested.connect(save)
        return editor

    def edit_selected(self) -> defer.Deferred[ItemEditor | None]:
        """Open the editor on the chosen item, once its data is read; fires with it."""
        item = self.selected()
        if item is None:
            return defer.succeed(None)
        opened: defer.Deferred[ItemEditor | None] = defer.Deferred()

        def read(values: dict[str, Any]) -> None:
            editor = self._open_editor(item.type, values)

            def save(typed: dict[str, str]) -> Any:
                title = typed.pop("title")
                return self._saving(self.vault.edit(item.id, title, **typed), editor)

            editor.save_requested.connect(save)
            opened.callback(editor)

        def failed(message: str) -> None:
            self._refused(message)
            opened.callback(None)

        call(self.vault.get(item.id), read, failed)
        return opened

    def _open_editor(self, kind: VaultItemType, values: dict[str, Any]) -> ItemEditor:
        if self.editor is not None:
            self.editor.reject()
        editor = ItemEditor(kind, values, self)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.finished.connect(lambda _: self.editor is editor and self._forget_editor())
        self.editor = editor
        editor.open()
        return editor

    def _forget_editor(self) -> None:
        self.editor = None

    def _saving(self, work: defer.Deferred[Any], editor: ItemEditor) -> defer.Deferred[Any]:
        def saved(_: Any) -> None:
            editor.saved()
            self.status.setText(S.VAULT_SAVED)
            self.refresh()
            self.changed.emit()

        def refused(message: str) -> None:
            editor.show_error(message)
            self.failed.emit(message)

        return call(self._offer_reset(work), saved, refused)

    def delete_selected(self) -> Any:
        item = self.selected()
        if item is None or not self.confirm(S.VAULT_DELETE_QUESTION.format(title=item.title)):
            return None

        def deleted(_: Any) -> None:
            self.status.setText(S.VAULT_DELETED)
            self.refresh()
            self.changed.emit()

        return call(self._offer_reset(self.vault.delete(item.id)), deleted, self._refused)

    def copy_password(self) -> Any:
        item = self.selected()
        if item is None or item.type != VaultItemType.PASSWORD:
            return None

        def copy(data: dict[str, Any]) -> None:
            if not data.get("password"):
                self.status.setText(S.VAULT_NO_PASSWORD)
                return
            self.clipboard.copy(str(data["password"]))
            self.status.setText(S.VAULT_COPIED.format(
                seconds=round(self.clipboard.clear_after_ms / 1000)))

        return call(self._offer_reset(self.vault.get(item.id)), copy, self._refused)

    def import_file(self) -> Any:
        path = self.choose_import_path()
        if not path:
            return None
        name = os.path.basename(path)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"

        def imported(_: Any) -> None:
            self.status.setText(S.VAULT_IMPORTED.format(name=name))
            self.refresh()
            self.changed.emit()

        self.status.setText(S.VAULT_SAVING)
        return call(self._offer_reset(self.vault.add_file(name, path, mime)), imported,
                    self._refused)

    def export_selected(self) -> Any:
        item = self.selected()
        if item is None or item.type != VaultItemType.FILE:
            return None

        def chosen(data: dict[str, Any]) -> Any:
            path = self.choose_export_path(str(data.get("name") or item.title))
            if not path:
                return None

            def written(_: Any) -> None:
                self.status.setText(S.VAULT_EXPORTED.format(path=path))
                self.exported.emit(path)

            return call(self._offer_reset(self.vault.export_file(item.id, path)), written,
                        self._refused)

        return call(self._offer_reset(self.vault.get(item.id)), chosen, self._refused)

    def _refused(self, message: str, where: Any = None) -> None:
        (where or self.status).setText(message)
        self.failed.emit(message)

    # --- asked of the user (tests replace these) ------------------------------------

    def choose_import_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, S.VAULT_CHOOSE_IMPORT)
        return path or None

    def choose_export_path(self, name: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, S.VAULT_CHOOSE_EXPORT, name)
        return path or None

    def confirm(self, question: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, S.VAULT_TITLE, question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # an item's title is shown literally
        return box.exec() == QMessageBox.StandardButton.Yes
