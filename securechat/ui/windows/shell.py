"""The one top-level window: onboarding, lock screen or the signed-in main page.

Which of them shows, and what may start now, is the window's AccountSession's to say
(securechat/ui/session.py): the pages ask it, it tells the window what to show."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)
from twisted.internet import defer

from securechat.client import KdfCost, SecureChatClient
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from securechat.ui import theme
from securechat.ui.bridge import ClientBridge, call
from securechat.ui.session import AccountSession
from securechat.ui.widgets.banner import NotificationBanner
from securechat.ui.widgets.connection import ConnectionIndicator
from securechat.ui.widgets.notifier import Notifier, app_icon
from securechat.ui.windows.assistant_settings import mount_assistant
from securechat.ui.windows.backup import CreateBackupDialog
from securechat.ui.windows.devices import LinkedDevicesDialog
from securechat.ui.windows.lock import LockPage
from securechat.ui.windows.main import MainPage
from securechat.ui.windows.mfa import MfaDialog
from securechat.ui.windows.my_profile import open_my_profile
from securechat.ui.windows.onboarding import OnboardingPage
from securechat.ui.windows.password import ChangePasswordDialog
from securechat.ui.windows.pin import SetPinDialog
from securechat.ui.windows.screen_lock import mount_screen_lock, receive_while_locked
from securechat.ui.windows.settings import THEME_KEY, SettingsDialog, about_label, close_to_tray
from securechat.ui.windows.vault import VaultWindow

STATUS_MS = 8000  # a status bar message stays this long


class ShellWindow(QMainWindow):
    signed_in = pyqtSignal(object)  # the started client
    locked = pyqtSignal()

    def __init__(self, reactor: Any, data_dir: str, url: str, cost: KdfCost | None = None,
                 settings: QSettings | None = None, parent: QWidget | None = None,
                 ca_file: str | None = None, insecure_ws: bool = False) -> None:
        super().__init__(parent)
        self.reactor, self.data_dir, self.url = reactor, data_dir, url
        self.cost = cost  # Argon2id costs of new password keys (tests lower them)
        self.clock = reactor  # ticks countdowns such as the vault's (tests: a task.Clock)
        self.settings = settings or QSettings()
        self.bridge: ClientBridge | None = None
        self.session = AccountSession(self)
        # The open account's vault, MFA and backup windows: they close when it locks.
        self.account_windows: list[QDialog] = []
        self.setWindowTitle(S.APP_NAME)
        self.setWindowIcon(app_icon())
        self.resize(980, 680)
        self.notifier = Notifier(self)
        self.notifier.activated.connect(self._raise)
        self.notifier.quit_requested.connect(self.quit)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.onboarding = OnboardingPage(reactor, data_dir, url, cost, ca_file=ca_file,
                                         insecure_ws=insecure_ws)
        self.lock_page = LockPage(reactor, data_dir, url, ca_file=ca_file,
                                  insecure_ws=insecure_ws)
        self._wire_pages()
        self.main = MainPage(self.notifier)
        # issue 11: notifications in the window where there is no tray; the theme chosen
        self.banner = NotificationBanner()
        self.banner.clicked.connect(self._raise)
        self.notifier.in_app.connect(self.banner.show_notification)
        self.main.mutes.settings = self.settings
        self.main.calls.settings = self.settings  # the microphone and camera chosen
        self.main.layout().insertWidget(0, self.banner)
        self.quitting = False  # closing the window quits (else it may go to the tray)
        app = QApplication.instance()
        if isinstance(app, QApplication) and self.settings.contains(THEME_KEY):
            theme.choose(app, str(self.settings.value(THEME_KEY)))
        self.main.unread_total_changed.connect(self._show_unread)
        self.main.error.connect(lambda m: self.show_status(m, error=True))
        for page in (self.onboarding, self.lock_page, self.main):
            self.stack.addWidget(page)
        self.connection = ConnectionIndicator()
        self.connection.retry_requested.connect(
            lambda: self.client is not None and self.client.reconnect_now())
        self.statusBar().addPermanentWidget(self.connection)
        self.statusBar().hide()
        self._menus()
        self.assistant = mount_assistant(self)  # the local AI assistant (per device)
        self.screen_lock = mount_screen_lock(self)  # receiving while locked (issue 11)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        content = self.settings.value("notifications/content", Notifier.FULL)
        self.set_notification_content(content if content in self.notification_actions
                                      else Notifier.FULL)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.main.splitter.restoreState(splitter)
        if accounts.known_accounts(data_dir):
            self.show_lock(None)
        else:
            self.session.add_account()

    def _wire_pages(self) -> None:
        """What the pages ask of the session, and how their requests ended."""
        session, lock, onboarding = self.session, self.lock_page, self.onboarding
        lock.unlock_requested.connect(lambda request: session.unlock(request))
        lock.unlocked.connect(lambda client, email: session.opened(client, email))
        lock.failed.connect(lambda _message: session.done())
        lock.add_account.connect(lambda: session.add_account())
        lock.forgot_password.connect(lambda email: session.forgot_password(email))
        onboarding.submit.connect(lambda request: session.submit(request))
        onboarding.answered.connect(lambda: session.done())
        onboarding.failed.connect(lambda _message: session.done())
        onboarding.done.connect(lambda client, email: session.opened(client, email))
        onboarding.registered.connect(lambda client, email: session.registered(client, email))
        onboarding.confirmed.connect(lambda: session.confirmed())
        onboarding.cancelled.connect(lambda: session.to_lock())
        onboarding.password_reset.connect(self._password_reset)

    @property
    def client(self) -> SecureChatClient | None:
        """The open account's client (None while locked)."""
        return self.session.client

    @property
    def email(self) -> str | None:
        """The account opened last (the lock screen offers it first)."""
        return self.session.email

    def _menus(self) -> None:
        bar = self.menuBar()
        assert bar is not None
        menu = bar.addMenu(S.MENU_ACCOUNT)
        assert menu is not None

        def action(text: str, shortcut: QKeySequence | str, slot: Any) -> QAction:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            self.addAction(act)
            return act

        self.find_action = action(S.ACTION_FIND, QKeySequence.StandardKey.Find,
                                  lambda: self.main.search.setFocus())
        self.add_action = action(S.ACTION_ADD_CONTACT, "Ctrl+N",
                                 lambda: self.main.add_email.setFocus())
        self.profile_action = action(S.ACTION_PROFILE, "Ctrl+I",
                                     lambda: self.main.chat.peer
                                     and self.main.show_profile(self.main.chat.peer))
        self.my_profile_action = action(S.ACTION_MY_PROFILE, "Ctrl+Shift+I",
                                        lambda: open_my_profile(self, self.main.client))
        self.next_action = action(S.ACTION_NEXT_CHAT, "Alt+Down",
                                  lambda: self.main.select_relative(1))
        self.previous_action = action(S.ACTION_PREVIOUS_CHAT, "Alt+Up",
                                      lambda: self.main.select_relative(-1))
        menu.addSeparator()
        shown = menu.addMenu(S.MENU_NOTIFICATIONS)
        assert shown is not None
        group = QActionGroup(self)
        self.notification_actions: dict[str, QAction] = {}
        for content, text in ((Notifier.FULL, S.NOTIFY_SHOW_FULL),
                              (Notifier.NAME_ONLY, S.NOTIFY_SHOW_NAME),
                              (Notifier.NOTHING, S.NOTIFY_SHOW_NOTHING)):
            act = QAction(text, group)
            act.setCheckable(True)
            act.triggered.connect(lambda _=False, c=content: self.set_notification_content(c))
            shown.addAction(act)
            self.notification_actions[content] = act
        menu.addSeparator()
        self.vault_action = action(S.ACTION_VAULT, "Ctrl+Shift+V", self.show_vault)
        self.mfa_action = action(S.ACTION_MFA, "", self.show_mfa)
        self.backup_action = action(S.ACTION_BACKUP, "", self.show_backup)
        menu.addSeparator()
        self.devices_action = action(S.ACTION_LINKED_DEVICES, "", self.show_linked_devices)
        self.set_pin_action = action(S.ACTION_SET_PIN, "", self.show_set_pin)
        self.remove_pin_action = action(S.ACTION_REMOVE_PIN, "", self.remove_pin)
        self.change_password_action = action(S.ACTION_CHANGE_PASSWORD, "",
                                             self.show_change_password)
        self.lock_action = action(S.ACTION_LOCK, "Ctrl+L", self.lock)
        # switching closes the account, whether or not locking keeps it receiving
        self.switch_action = action(S.ACTION_SWITCH, "Ctrl+Shift+L",
                                    lambda: self.close_after_screen_lock())
        menu.addSeparator()
        self.settings_action = action(S.ACTION_SETTINGS, QKeySequence.StandardKey.Preferences,
                                      self.show_settings)
        self.about_action = action(S.ACTION_ABOUT, "", self.show_about)
        self.quit_action = action(S.ACTION_QUIT, QKeySequence.StandardKey.Quit, self.quit)
        self._signed_in_actions(False)

    def _signed_in_actions(self, on: bool) -> None:
        for act in (self.find_action, self.add_action, self.profile_action,
                    self.my_profile_action, self.next_action,
                    self.previous_action, self.vault_action, self.mfa_action,
                    self.backup_action, self.devices_action, self.set_pin_action,
                    self.change_password_action, self.lock_action, self.switch_action):
            act.setEnabled(on)
        self.remove_pin_action.setEnabled(
            on and self.email is not None and SecureChatClient.has_pin(self.data_dir, self.email))

    def show_linked_devices(self) -> LinkedDevicesDialog | None:
        if self.client is None:
            return None
        dialog = LinkedDevicesDialog(self.client, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        dialog.reload()
        return dialog

    def show_vault(self) -> VaultWindow | None:
        """The vault's window (one at a time: asked again, the open one comes forward)."""
        if self.client is None:
            return None
        for window in self.account_windows:
            if isinstance(window, VaultWindow):
                window.raise_()
                window.activateWindow()
                return window
        window = VaultWindow(self.client, parent=self, clock=self.clock)
        self._account_window(window)
        window.show()
        return window

    def show_mfa(self) -> MfaDialog | None:
        if self.client is None:
            return None
        dialog = MfaDialog(self.client, self)
        self._account_window(dialog)
        dialog.open()
        return dialog

    def show_backup(self) -> CreateBackupDialog | None:
        if self.client is None:
            return None
        dialog = CreateBackupDialog(self.client, self)
        self._account_window(dialog)
        dialog.open()
        return dialog

    def _account_window(self, window: QDialog) -> None:
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.finished.connect(lambda _: window in self.account_windows
                                and self.account_windows.remove(window))
        self.account_windows.append(window)

    def show_set_pin(self) -> SetPinDialog | None:
        if self.client is None:
            return None
        dialog = SetPinDialog(self.client, self)
        dialog.pin_set.connect(lambda: self._pin_changed(S.PIN_SET))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_change_password(self) -> ChangePasswordDialog | None:
        if self.client is None:
            return None
        dialog = ChangePasswordDialog(self.client, self.cost, self)
        dialog.changed.connect(lambda: self.show_status(S.PASSWORD_CHANGED))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _password_reset(self, email: str) -> None:
        if email in accounts.known_accounts(self.data_dir):  # unlock it with the new one
            self.session.to_lock()
            self.lock_page.account.setCurrentText(email)
            self.lock_page.error.setText(S.RESET_DONE)

    def remove_pin(self) -> Any:
        if self.client is None:
            return None
        return call(self.client.remove_pin(), lambda _: self._pin_changed(S.PIN_REMOVED),
                    lambda m: self.show_status(m, error=True))

    def _pin_changed(self, message: str) -> None:
        self._signed_in_actions(self.client is not None)
        self.show_status(message)

    def show_status(self, message: str, error: bool = False) -> None:
        """A line in the status bar for a while: an error in the theme's one error
        colour (as every form shows them), news in the ordinary one."""
        bar = self.statusBar()
        assert bar is not None
        theme.restyle(bar, "error" if error else "")
        bar.showMessage(message, STATUS_MS)

    def set_notification_content(self, content: str) -> None:
        """What desktop notifications reveal (remembered for next time)."""
        self.notifier.content = content
        self.notification_actions[content].setChecked(True)
        self.settings.setValue("notifications/content", content)

    def _show_unread(self, total: int) -> None:
        self.notifier.unread = total
        title = f"{S.APP_NAME} — {self.email}" if self.email else S.APP_NAME
        self.setWindowTitle(f"({total}) {title}" if total else title)
        if self.notifier.tray is not None:  # the count on the icon; whose, in its tooltip
            self.notifier.tray.setIcon(app_icon(total))
            self.notifier.tray.setToolTip(
                (S.TRAY_UNREAD.format(count=total) if total else S.APP_NAME)
                + (f" — {self.email}" if self.email else ""))

    # --- pages: what the session shows (session.ShellView) -------------------------------

    def show_lock(self, email: str | None) -> None:
        self.lock_page.refresh(email)
        self.stack.setCurrentWidget(self.lock_page)

    def show_unlocking(self) -> None:
        self.lock_page.waiting(S.UNLOCKING)

    def unlock_ended(self) -> None:
        self.lock_page.ready()

    def show_closing(self) -> None:
        self.lock_page.refresh(self.email)
        self.lock_page.waiting(S.CLOSING)  # unlocking it again must wait for this
        self.stack.setCurrentWidget(self.lock_page)

    def show_onboarding(self) -> None:
        self.onboarding.reset(can_cancel=bool(accounts.known_accounts(self.data_dir)))
        self.stack.setCurrentWidget(self.onboarding)

    def show_password_reset(self, email: str) -> None:
        self.onboarding.reset(can_cancel=True)
        self.onboarding.show_reset(email)
        self.stack.setCurrentWidget(self.onboarding)

    def show_working(self, working: bool) -> None:
        self.onboarding.set_busy(working)

    def cancel_onboarding(self) -> None:
        self.onboarding.discard()

    def show_account(self, client: SecureChatClient, email: str) -> None:
        """An opened client (phase 1 done): show its data now, connect in the background."""
        accounts.remember(self.data_dir, email)
        self.bridge = ClientBridge(client, self)
        self.bridge.connection_changed.connect(self.connection.show_state)
        self.main.set_client(client, self.bridge)
        self.stack.setCurrentWidget(self.main)
        self.statusBar().show()
        self._show_unread(self.main.unread_total)
        self._signed_in_actions(True)
        client.start()
        self.signed_in.emit(client)

    @defer.inlineCallbacks
    def hide_account(self) -> Any:
        try:
            yield self.main.chat.finish()  # the read receipt and "stopped typing" go first
        finally:  # and no timer of the chat reaches the client once it is closed
            for window in list(self.account_windows):
                window.close()  # the vault locks with it
            bridge, self.bridge = self.bridge, None
            self._signed_in_actions(False)
            self.main.set_client(None, None)
            self.banner.hide()  # its last notification is not the next account's
            self.statusBar().hide()
            self.setWindowTitle(S.APP_NAME)
            if bridge is not None:
                bridge.close()
                bridge.deleteLater()

    def account_closed(self) -> None:
        self.locked.emit()

    def lock(self) -> defer.Deferred[None]:
        """Close the open account and show the lock screen; fires once it is closed.
        If the user allows receiving while locked, the account stays open behind the
        screen lock instead (ui/windows/screen_lock.py)."""
        if (self.client is not None and self.stack.currentWidget() is self.main
                and receive_while_locked(self.settings)):
            return self.begin_screen_lock()
        self.end_screen_lock(show=False)
        return self.session.close_account()

    # --- receiving while locked (issue 11; ui/windows/screen_lock.py) ---------------------

    def begin_screen_lock(self) -> defer.Deferred[None]:
        assert self.client is not None
        for window in list(self.account_windows):
            window.close()  # the vault locks with it
        self.notifier.locked = True  # name and unread count only
        self._signed_in_actions(False)
        self.statusBar().hide()
        self.screen_lock.lock(self.client, self.email or "", self.main.unread_total)
        self.stack.setCurrentWidget(self.screen_lock)
        return defer.succeed(None)

    def end_screen_lock(self, show: bool = True) -> None:
        if not self.notifier.locked:
            return
        self.notifier.locked = False
        self.screen_lock.client = None
        if show and self.client is not None:
            self._signed_in_actions(True)
            self.statusBar().show()
            self.stack.setCurrentWidget(self.main)
            self.main.chat.mark_read()  # the open chat is on screen again

    def close_after_screen_lock(self) -> defer.Deferred[None]:
        self.end_screen_lock(show=False)
        return self.session.close_account()

    # --- lifetime -------------------------------------------------------------------------

    def quit(self) -> None:
        """Quit for real (the menu's Quit, the tray's Quit)."""
        self.quitting = True
        self.close()

    def show_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.notification_actions,
                                self.notifier.tray is not None,
                                [self.set_pin_action, self.remove_pin_action,
                                 self.change_password_action, self.devices_action], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Information, S.ACTION_ABOUT.replace("&", ""),
                          about_label().text(), QMessageBox.StandardButton.Close, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def closeEvent(self, e: QCloseEvent | None) -> None:
        if (e is not None and not self.quitting and self.notifier.tray is not None
                and close_to_tray(self.settings)):
            e.ignore()  # still receiving and notifying, from the tray
            self.hide()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.main.splitter.saveState())
        if self.notifier.tray is not None:
            self.notifier.tray.hide()
        super().closeEvent(e)

    def changeEvent(self, e: QEvent | None) -> None:
        super().changeEvent(e)
        if (e is not None and e.type() == QEvent.Type.ActivationChange
                and self.isActiveWindow() and self.main.chat.peer
                and self.stack.currentWidget() is self.main):  # not behind a screen lock
            # back to an open conversation: what arrived meanwhile is now read
            self.main.sessions.update(self.main.chat.peer, unread=0)
            self.main.chat.mark_read()

    def shutdown(self) -> defer.Deferred[None]:
        """Close whatever account is open, closing or opening, cleanly (the app stops
        the reactor after this)."""
        closed = self.session.shut_down()
        return closed.addBoth(lambda result: self.assistant.close().addCallback(lambda _: result))

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self, S.ERROR, message)
