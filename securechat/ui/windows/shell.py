"""The one top-level window: onboarding, lock screen or the signed-in main page."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QEvent, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import QMainWindow, QMessageBox, QStackedWidget, QWidget
from twisted.internet import defer
from twisted.logger import Logger

from securechat.client.core import KdfCost, SecureChatClient
from securechat.ui import accounts
from securechat.ui import strings as S
from securechat.ui.bridge import ClientBridge, call
from securechat.ui.widgets.connection import ConnectionIndicator
from securechat.ui.widgets.notifier import Notifier, app_icon
from securechat.ui.windows.devices import LinkedDevicesDialog
from securechat.ui.windows.lock import LockPage
from securechat.ui.windows.main import MainPage
from securechat.ui.windows.onboarding import OnboardingPage
from securechat.ui.windows.password import ChangePasswordDialog
from securechat.ui.windows.pin import SetPinDialog


class ShellWindow(QMainWindow):
    log = Logger()
    signed_in = pyqtSignal(object)  # the started client
    locked = pyqtSignal()

    def __init__(self, reactor: Any, data_dir: str, url: str, cost: KdfCost | None = None,
                 settings: QSettings | None = None, parent: QWidget | None = None,
                 ca_file: str | None = None, insecure_ws: bool = False) -> None:
        super().__init__(parent)
        self.reactor, self.data_dir, self.url = reactor, data_dir, url
        self.cost = cost  # Argon2id costs of new password keys (tests lower them)
        self.settings = settings or QSettings()
        self.client: SecureChatClient | None = None
        self.bridge: ClientBridge | None = None
        self._stopping: set[defer.Deferred[Any]] = set()  # clients being stopped
        self.email: str | None = None
        self.setWindowTitle(S.APP_NAME)
        self.setWindowIcon(app_icon())
        self.resize(980, 680)
        self.notifier = Notifier(self)
        self.notifier.activated.connect(self._raise)
        self.notifier.quit_requested.connect(self.close)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.onboarding = OnboardingPage(reactor, data_dir, url, cost, ca_file=ca_file,
                                         insecure_ws=insecure_ws)
        self.onboarding.done.connect(self.signed_in_with)
        self.onboarding.cancelled.connect(self.show_lock)
        self.lock_page = LockPage(reactor, data_dir, url, ca_file=ca_file,
                                  insecure_ws=insecure_ws)
        self.lock_page.unlocked.connect(self.signed_in_with)
        self.lock_page.add_account.connect(self.show_onboarding)
        self.lock_page.forgot_password.connect(self.show_forgot_password)
        self.onboarding.password_reset.connect(self._password_reset)
        self.main = MainPage(self.notifier)
        self.main.unread_total_changed.connect(self._show_unread)
        self.main.error.connect(lambda m: self.statusBar().showMessage(m, 8000))
        for page in (self.onboarding, self.lock_page, self.main):
            self.stack.addWidget(page)
        self.connection = ConnectionIndicator()
        self.connection.retry_requested.connect(
            lambda: self.client is not None and self.client.reconnect_now())
        self.statusBar().addPermanentWidget(self.connection)
        self.statusBar().hide()
        self._menus()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        content = self.settings.value("notifications/content", Notifier.FULL)
        self.set_notification_content(content if content in self.notification_actions
                                      else Notifier.FULL)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.main.splitter.restoreState(splitter)
        self.show_start()

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
        self.devices_action = action(S.ACTION_LINKED_DEVICES, "", self.show_linked_devices)
        self.set_pin_action = action(S.ACTION_SET_PIN, "", self.show_set_pin)
        self.remove_pin_action = action(S.ACTION_REMOVE_PIN, "", self.remove_pin)
        self.change_password_action = action(S.ACTION_CHANGE_PASSWORD, "",
                                             self.show_change_password)
        self.lock_action = action(S.ACTION_LOCK, "Ctrl+L", self._lock_now)
        self.switch_action = action(S.ACTION_SWITCH, "Ctrl+Shift+L", self._lock_now)
        self.quit_action = action(S.ACTION_QUIT, QKeySequence.StandardKey.Quit, self.close)
        self._signed_in_actions(False)

    def _signed_in_actions(self, on: bool) -> None:
        for act in (self.find_action, self.add_action, self.profile_action, self.next_action,
                    self.previous_action, self.devices_action, self.set_pin_action,
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
        dialog.changed.connect(lambda: self.statusBar().showMessage(S.PASSWORD_CHANGED, 8000))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_forgot_password(self, email: str) -> None:
        self.onboarding.reset(can_cancel=True)
        self.onboarding.show_reset(email)
        self.stack.setCurrentWidget(self.onboarding)

    def _password_reset(self, email: str) -> None:
        if email in accounts.known_accounts(self.data_dir):  # unlock it with the new one
            self.show_lock()
            self.lock_page.account.setCurrentText(email)
            self.lock_page.error.setText(S.RESET_DONE)

    def remove_pin(self) -> Any:
        if self.client is None:
            return None
        return call(self.client.remove_pin(), lambda _: self._pin_changed(S.PIN_REMOVED),
                    lambda m: self.statusBar().showMessage(m, 8000))

    def _pin_changed(self, message: str) -> None:
        self._signed_in_actions(self.client is not None)
        self.statusBar().showMessage(message, 8000)

    def set_notification_content(self, content: str) -> None:
        """What desktop notifications reveal (remembered for next time)."""
        self.notifier.content = content
        self.notification_actions[content].setChecked(True)
        self.settings.setValue("notifications/content", content)

    def _show_unread(self, total: int) -> None:
        title = f"{S.APP_NAME} — {self.email}" if self.email else S.APP_NAME
        self.setWindowTitle(f"({total}) {title}" if total else title)
        if self.notifier.tray is not None:
            self.notifier.tray.setToolTip(
                S.TRAY_UNREAD.format(count=total) if total else S.APP_NAME)

    # --- pages ----------------------------------------------------------------------------

    def show_start(self) -> None:
        if accounts.known_accounts(self.data_dir):
            self.show_lock()
        else:
            self.show_onboarding()

    def show_onboarding(self) -> None:
        self.onboarding.reset(can_cancel=bool(accounts.known_accounts(self.data_dir)))
        self.stack.setCurrentWidget(self.onboarding)

    def show_lock(self) -> None:
        self.lock_page.refresh(self.email)
        self.stack.setCurrentWidget(self.lock_page)

    def signed_in_with(self, client: SecureChatClient, email: str) -> None:
        """An opened client (phase 1 done): show its data now, connect in the background."""
        accounts.remember(self.data_dir, email)
        self.client, self.email = client, email
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
    def lock(self) -> Any:
        """Stop the client (closing its database) and go back to the lock screen."""
        yield self.main.chat.finish()  # the read receipt and "stopped typing" go first
        client, bridge = self.client, self.bridge
        self.client = self.bridge = None
        self._signed_in_actions(False)
        self.main.set_client(None, None)
        self.statusBar().hide()
        self.setWindowTitle(S.APP_NAME)
        if bridge is not None:
            bridge.close()
            bridge.deleteLater()
        self.show_lock()
        if client is not None:
            self.lock_page.closing(True)  # unlocking it again must wait for this
            try:
                yield self._stop_client(client)
            finally:
                self.lock_page.closing(False)
        self.locked.emit()

    def _lock_now(self) -> None:
        self.lock().addErrback(lambda f: self.log.failure("closing the account failed", f))

    def _stop_client(self, client: SecureChatClient) -> defer.Deferred[Any]:
        """client.stop(), remembered until it is done: quitting waits for it."""
        d = client.stop()
        self._stopping.add(d)

        def done(result: Any) -> Any:
            self._stopping.discard(d)
            return result
        return d.addBoth(done)

    # --- lifetime -------------------------------------------------------------------------

    def closeEvent(self, e: QCloseEvent | None) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.main.splitter.saveState())
        if self.notifier.tray is not None:
            self.notifier.tray.hide()
        super().closeEvent(e)

    def changeEvent(self, e: QEvent | None) -> None:
        super().changeEvent(e)
        if (e is not None and e.type() == QEvent.Type.ActivationChange
                and self.isActiveWindow() and self.main.chat.peer):
            # back to an open conversation: what arrived meanwhile is now read
            self.main.sessions.update(self.main.chat.peer, unread=0)
            self.main.chat.mark_read()

    def shutdown(self) -> defer.Deferred[Any]:
        """Stop every client this window holds or is still stopping, cleanly (the app
        stops the reactor after this)."""
        client = self.client
        self.client = None
        stops = list(self._stopping)
        if client is not None:
            # As when locking: the read receipt and "stopped typing" go first, and no
            # timer of the chat reaches the client once its database is closed.
            finished = self.main.chat.finish()
            self.main.set_client(None, None)
            stops.append(finished.addBoth(lambda _: self._stop_client(client)))
        stops.append(self.onboarding.discard_pending())
        return defer.gatherResults(stops, consumeErrors=True)

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self, S.ERROR, message)
