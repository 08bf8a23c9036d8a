"""The vault window, its MFA settings, and backup and restore in the desktop client,
against a real relay and real client cores, driven like a user.

Runs on the Qt reactor like tests.test_ui (scripts/run_trial.py starts it so). Waits on
signals, never sleeps: the clipboard's 30 s is injected as a short interval, the TOTP
clock as a fixed time (`client.mfa.clock`); file dialogs are replaced by the paths a
user would pick.
"""

from __future__ import annotations

import os
from typing import Any

import pyotp
from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6 import sip
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from securechat.client import KdfCost, MfaLockedOut, SecureChatClient, VaultItemType
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from securechat.ui.windows import mfa as mfa_pages
from securechat.ui.windows.backup import CreateBackupDialog
from securechat.ui.windows.mfa import MfaDialog
from securechat.ui.windows.shell import ShellWindow
from securechat.ui.windows.vault import VaultWindow
from tests.test_ui import PASSWORD, UITestCase, screenshot, until

T0 = 1_900_000_000.0  # a fixed time for the TOTP clock
PASSPHRASE = "a long backup passphrase"


def click(button: Any) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def signal_once(signal: Any) -> defer.Deferred[Any]:
    """Fires with the arguments of `signal`'s next emission (one argument: itself)."""
    d: defer.Deferred[Any] = defer.Deferred()

    def got(*args: Any) -> None:
        signal.disconnect(got)
        d.callback(args[0] if len(args) == 1 else args)

    signal.connect(got)
    return d


def clipboard_text() -> str:
    clipboard = QApplication.clipboard()
    assert clipboard is not None
    return clipboard.text()


class VaultUITestCase(UITestCase):
    @defer.inlineCallbacks
    def signed_in_window(self, name: str) -> Any:
        """(window, client): `name`'s account opened through the lock screen, its TOTP
        clock at self.now."""
        email = f"{name}@example.org"
        yield self.account_on_disk(name, email)
        win = self.shell(name)
        self.clock = task.Clock()
        win.clock = self.clock
        client = yield self.unlock(win, email)
        self.now = T0
        client.mfa.clock = lambda: self.now
        return win, client

    @defer.inlineCallbacks
    def unlocked_vault(self, win: ShellWindow, code: str | None = None) -> Any:
        """The vault window from the menu, unlocked (with `code` if MFA is on)."""
        win.vault_action.trigger()
        window = win.show_vault()  # the one already open comes forward
        assert window is not None
        self.assertEqual(len([w for w in win.account_windows
                              if isinstance(w, VaultWindow)]), 1)
        if code is not None:
            yield until(lambda: window.code.isVisible(), window.mfa_checked)
            QTest.keyClicks(window.code, code)
        opened = signal_once(window.unlocked)
        click(window.unlock_button)
        yield opened
        return window

    def advance(self, seconds: float) -> None:
        """Time passes for the TOTP check and for the windows' countdowns alike."""
        self.now += seconds
        self.clock.advance(seconds)

    def code(self, secret: str) -> str:
        """The authenticator's code, a step after the last one used (a code is good once)."""
        self.now += 30
        return pyotp.TOTP(secret).at(int(self.now))

    @defer.inlineCallbacks
    def save_editor(self, window: VaultWindow, editor: Any) -> Any:
        saved = signal_once(window.changed)
        click(editor.buttons.button(editor.buttons.StandardButton.Save))
        yield saved


class VaultWindowTests(VaultUITestCase):
    @defer.inlineCallbacks
    def test_items_search_generator_copy_files_and_idle_lock(self) -> Any:
        win, client = yield self.signed_in_window("alice")
        window = yield self.unlocked_vault(win)  # MFA off: the master key alone
        self.assertFalse(window.code.isVisible())
        self.assertTrue(window.empty_hint.isVisible())

        # A password, made by the generator.
        editor = window.add_item(VaultItemType.PASSWORD)
        QTest.keyClicks(editor.title, "Bank")
        QTest.keyClicks(editor.username, "alice")
        editor.length.setValue(24)
        click(editor.generate_button)
        generated = editor.password.text()
        self.assertEqual(len(generated), 24)
        self.assertEqual(editor.password.echoMode(), editor.password.EchoMode.Password)
        yield self.save_editor(window, editor)
        # A note, and one with no title (refused before it reaches the core).
        editor = window.add_item(VaultItemType.NOTE)
        editor.fields["text"].setPlainText("4711")
        click(editor.buttons.button(editor.buttons.StandardButton.Save))
        self.assertEqual(editor.error.text(), S.EDITOR_TITLE_MISSING)
        QTest.keyClicks(editor.title, "Door code")
        yield self.save_editor(window, editor)
        # A file, imported through the file dialog.
        source = os.path.abspath(self.mktemp() + ".pdf")
        content = os.urandom(50_000)
        with open(source, "wb") as f:
            f.write(content)
        window.choose_import_path = lambda: source
        imported = signal_once(window.changed)
        click(window.import_button)
        yield imported
        name = os.path.basename(source)
        self.assertEqual(window.titles(), ["Bank", "Door code", name])
        self.assertEqual(window.status.text(), S.VAULT_IMPORTED.format(name=name))
        screenshot(window, "vault")

        # Search by title, any case.
        QTest.keyClicks(window.search, "BAN")
        self.assertEqual(window.titles(), ["Bank"])
        window.search.clear()

        # Edit: the editor shows what is stored; the new title is listed.
        window.select("Bank")
        self.assertTrue(window.copy_button.isEnabled())
        self.assertFalse(window.export_button.isEnabled())
        editor = yield window.edit_selected()
        self.assertEqual((editor.username.text(), editor.password.text()),
                         ("alice", generated))
        editor.title.setText("My bank")
        yield self.save_editor(window, editor)
        self.assertEqual(window.titles(), ["Door code", "My bank", name])
        item = window.selected()
        self.assertEqual(item.title, "My bank")
        stored = yield client.vault.get(item.id)
        self.assertEqual((stored["username"], stored["password"]), ("alice", generated))

        # Copy the password: on the clipboard, then taken off when the time is up.
        window.clipboard.timer.setInterval(50)  # the 30 s, shortened
        self.assertEqual(window.clipboard.clear_after_ms, 50)
        yield window.copy_password()
        self.assertEqual(clipboard_text(), generated)
        self.assertEqual(window.status.text(), S.VAULT_COPIED.format(seconds=0))
        wiped = yield signal_once(window.clipboard.cleared)
        self.assertTrue(wiped)
        self.assertEqual(clipboard_text(), "")
        self.assertEqual(window.status.text(), S.VAULT_CLIPBOARD_CLEARED)
        # ... but what the user copied since is left alone.
        yield window.copy_password()
        clipboard = QApplication.clipboard()
        assert clipboard is not None
        clipboard.setText("something else")
        wiped = yield signal_once(window.clipboard.cleared)
        self.assertFalse(wiped)
        self.assertEqual(clipboard_text(), "something else")

        # Export the file, decrypted, where the user chose.
        window.select(name)
        self.assertTrue(window.export_button.isEnabled())
        self.assertFalse(window.copy_button.isEnabled())
        out = os.path.abspath(self.mktemp())
        asked: list[str] = []
        window.choose_export_path = lambda suggested: asked.append(suggested) or out
        exported = signal_once(window.exported)
        click(window.export_button)
        self.assertEqual((yield exported), out)
        self.assertEqual(asked, [name])  # the file's own name is offered
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content)

        # Delete asks first; "no" keeps it.
        window.select("Door code")
        window.confirm = lambda question: False
        click(window.delete_button)
        self.assertIn("Door code", window.titles())
        window.confirm = lambda question: "Door code" in question
        deleted = signal_once(window.changed)
        click(window.delete_button)
        yield deleted
        self.assertEqual(window.titles(), ["My bank", name])

        # Idle: the core locks the vault, and the window shows nothing of it any more.
        window.select("My bank")
        yield window.copy_password()
        self.assertEqual(clipboard_text(), generated)
        client.vault.idle_seconds = 0.2
        locked = signal_once(window.locked)
        window.refresh()  # a vault operation: the idle timer starts again, shorter
        yield locked
        self.assertFalse(client.vault.is_unlocked)
        self.assertEqual((window.stack.currentIndex(), window.list.count()), (0, 0))
        self.assertEqual(clipboard_text(), "")  # the copied password went with it
        # Unlocked again, it lists the items again.
        opened = signal_once(window.unlocked)
        click(window.unlock_button)
        yield opened
        self.assertEqual(window.titles(), ["My bank", name])

    @defer.inlineCallbacks
    def test_the_vault_window_closes_when_the_app_locks(self) -> Any:
        win, client = yield self.signed_in_window("bea")
        window = yield self.unlocked_vault(win)
        editor = window.add_item(VaultItemType.NOTE)
        closed = signal_once(window.finished)
        yield win.lock()
        yield closed
        self.assertEqual(win.account_windows, [])
        self.assertFalse(client.vault.is_unlocked)
        self.assertTrue(sip.isdeleted(editor))  # and the editor, with what it held
        self.assertFalse(win.vault_action.isEnabled())
        # Closing the vault window locks the vault too.
        client = yield self.unlock(win, "bea@example.org")
        window = yield self.unlocked_vault(win)
        self.assertTrue(client.vault.is_unlocked)
        window.close()
        self.assertFalse(client.vault.is_unlocked)
        self.assertEqual(win.account_windows, [])

    @defer.inlineCallbacks
    def test_an_account_opened_with_its_pin_asks_the_master_password(self) -> Any:
        alice = yield self.register("alice", "alice@example.org", PASSWORD)
        yield alice.set_pin(PASSWORD, "482916", KdfCost(memory_kib=8192, iterations=1))
        yield alice.stop()
        self.clients.remove(alice)
        alice = yield SecureChatClient.open_with_pin(
            reactor, self.device_dir("alice"), self.url, "alice@example.org", "482916")
        self._track(alice)
        window = VaultWindow(alice)
        self.addCleanup(window.close)
        window.show()
        self.assertTrue(window.password.isVisible())
        click(window.unlock_button)
        self.assertEqual(window.unlock_error.text(), S.VAULT_PASSWORD_MISSING)
        refused = signal_once(window.failed)
        QTest.keyClicks(window.password, "not the password")
        click(window.unlock_button)
        message = yield refused
        self.assertIn("master password is wrong", message)
        self.assertEqual(window.unlock_error.text(), message)
        self.assertFalse(alice.vault.is_unlocked)
        opened = signal_once(window.unlocked)
        window.password.clear()
        QTest.keyClicks(window.password, PASSWORD)
        QTest.keyClick(window.password, Qt.Key.Key_Return)
        yield opened
        self.assertEqual(window.password.text(), "")  # not kept once used
        self.assertEqual(window.stack.currentIndex(), 1)


class MfaTests(VaultUITestCase):
    @defer.inlineCallbacks
    def mfa_page(self, dialog: MfaDialog, page: int) -> Any:
        yield until(lambda: dialog.page == page, dialog.shown)

    @defer.inlineCallbacks
    def test_set_up_unlock_with_codes_delays_recovery_and_disable(self) -> Any:
        win, client = yield self.signed_in_window("cat")
        win.mfa_action.trigger()
        dialog = next(w for w in win.account_windows if isinstance(w, MfaDialog))
        yield self.mfa_page(dialog, mfa_pages.OFF)

        # Set up: the QR code of the otpauth:// URI and its key as text.
        click(dialog.set_up_button)
        yield self.mfa_page(dialog, mfa_pages.SCAN)
        pixmap = dialog.qr.pixmap()
        self.assertFalse(pixmap.isNull())
        self.assertGreater(pixmap.width(), 100)
        secret = dialog.secret.text().replace(" ", "")
        self.assertEqual(len(secret), 32)
        screenshot(dialog, "vault-mfa-setup")
        self.assertFalse((yield client.mfa.is_enabled()))  # not before a first code
        # A wrong first code: refused, still off.
        refused = signal_once(dialog.failed)
        right = pyotp.TOTP(secret).at(int(self.now))
        QTest.keyClicks(dialog.confirm_code, "000000" if right != "000000" else "111111")
        click(dialog.confirm_button)
        self.assertIn("Invalid code", (yield refused))
        self.assertFalse((yield client.mfa.is_enabled()))
        # The right one: on, and the recovery codes shown once.
        QTest.keyClicks(dialog.confirm_code, self.code(secret))
        click(dialog.confirm_button)
        yield self.mfa_page(dialog, mfa_pages.RECOVERY)
        self.assertTrue((yield client.mfa.is_enabled()))
        codes = dialog.recovery.text().split("\n")
        self.assertEqual(len(codes), 10)
        self.assertEqual(dialog.secret.text(), "")  # the key left the screen
        click(dialog.recovery_done_button)
        self.assertEqual(dialog.page, mfa_pages.ON)
        self.assertEqual(dialog.recovery.text(), "")  # shown once
        dialog.close()

        # The vault now asks for the code.
        window = yield self.unlocked_vault(win, self.code(secret))
        window.vault.lock()
        self.assertEqual(window.stack.currentIndex(), 0)
        # Wrong codes: refused; after five, the delay is shown, even for a right code.
        right = pyotp.TOTP(secret).at(int(self.now + 30))
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(5):
            refused = signal_once(window.failed)
            QTest.keyClicks(window.code, wrong)
            click(window.unlock_button)
            self.assertIn("Invalid code", (yield refused))
            self.assertEqual(window.code.text(), "")
        # The button counts the delay down (ticked by the window's clock, the TOTP
        # check by the core's: both moved together here) and takes no code meanwhile.
        yield until(lambda: window.countdown.running, window.countdown.started)
        self.assertFalse(window.unlock_button.isEnabled())
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=30))
        self.assertEqual(window.unlock_error.text(), S.VAULT_TOO_MANY_CODES)
        self.advance(20)
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK_WAIT.format(seconds=10))
        QTest.keyClicks(window.code, right)
        QTest.keyClick(window.code, Qt.Key.Key_Return)
        self.assertTrue(window.countdown.running)  # Return did not try it either
        self.assertEqual(window.unlock_error.text(), S.VAULT_TOO_MANY_CODES)
        # ... and the core refuses even a right code until then.
        with self.assertRaises(MfaLockedOut) as refused_early:
            yield client.mfa.verify(right)
        self.assertEqual(str(refused_early.exception), "too many wrong codes: try again in 10 s")
        self.assertFalse(window.vault.is_unlocked)
        back = signal_once(window.countdown.finished)
        self.advance(10)
        yield back
        self.assertTrue(window.unlock_button.isEnabled())
        self.assertEqual(window.unlock_button.text(), S.VAULT_UNLOCK)
        self.assertEqual(window.unlock_error.text(), "")
        window.code.clear()
        # Once the delay has passed, a recovery code opens it (once).
        self.now += 50
        opened = signal_once(window.unlocked)
        QTest.keyClicks(window.code, codes[0].lower())
        click(window.unlock_button)
        yield opened
        window.close()

        # Turning it off takes a code.
        dialog = win.show_mfa()
        yield self.mfa_page(dialog, mfa_pages.ON)
        click(dialog.disable_button)
        self.assertEqual(dialog.error.text(), S.MFA_CODE_MISSING)
        disabled = signal_once(dialog.disabled)
        QTest.keyClicks(dialog.disable_code, self.code(secret))
        click(dialog.disable_button)
        yield disabled
        self.assertEqual(dialog.page, mfa_pages.OFF)
        self.assertFalse((yield client.mfa.is_enabled()))


class BackupRestoreTests(VaultUITestCase):
    @defer.inlineCallbacks
    def test_backup_then_restore_from_the_welcome_screen(self) -> Any:
        # At the default cost: signing in on a new device (which a restore does) refuses
        # cheaper password hashing (client.scram_pinning).
        dan, _ = yield SecureChatClient.register(reactor, self.device_dir("dan"), self.url,
                                                 "dan@example.org", PASSWORD, "Dan",
                                                 KdfCost())
        yield dan.vault.unlock()
        yield dan.vault.add_password("Bank", "s3cret!")
        yield dan.stop()
        accounts.remember(self.device_dir("dan"), "dan@example.org")
        win = self.shell("dan")
        dan = yield self.unlock(win, "dan@example.org")

        win.backup_action.trigger()
        dialog = next(w for w in win.account_windows if isinstance(w, CreateBackupDialog))
        # A backup holds the recovery phrase: the password is asked even here (opened
        # with it), and no vault code (this vault has no MFA).
        self.assertTrue(dialog.password.isVisible())
        self.assertFalse(dialog.code.isVisible())
        QTest.keyClicks(dialog.passphrase, "short")
        self.assertEqual(dialog.strength.text(), S.STRENGTH[0])
        QTest.keyClicks(dialog.repeat, "shirt")
        click(dialog.create_button)
        self.assertEqual(dialog.error.text(), S.BACKUP_PASSPHRASES_DIFFER)
        dialog.repeat.clear()
        QTest.keyClicks(dialog.repeat, "short")
        click(dialog.create_button)
        self.assertEqual(dialog.error.text(), S.BACKUP_FILE_MISSING)
        path = os.path.abspath(self.mktemp() + ".scbackup")
        dialog.choose_path = lambda: path
        click(dialog.browse_button)
        self.assertEqual(dialog.path.text(), path)
        refused = signal_once(dialog.failed)
        click(dialog.create_button)
        # The core's own words: a passphrase too short.
        self.assertEqual((yield refused), "a backup passphrase has at least 8 characters")
        self.assertFalse(os.path.exists(path))
        for field in (dialog.passphrase, dialog.repeat):
            field.clear()
            QTest.keyClicks(field, PASSPHRASE)
        self.assertEqual(dialog.strength.text(), S.STRENGTH[3])
        refused = signal_once(dialog.failed)
        click(dialog.create_button)  # no master password
        self.assertIn("master password", (yield refused))
        self.assertFalse(os.path.exists(path))
        QTest.keyClicks(dialog.password, PASSWORD)
        created = signal_once(dialog.created)
        click(dialog.create_button)
        self.assertTrue(dialog.progress.isVisible())
        self.assertEqual((yield created), path)
        self.assertIn("database", dialog.progress.stages)
        self.assertFalse(dialog.progress.isVisible())
        self.assertEqual(dialog.status.text(), S.BACKUP_DONE.format(path=path))
        self.assertEqual(dialog.error.text(), "")
        self.assertEqual(dialog.passphrase.text(), "")
        self.assertTrue(os.path.getsize(path) > 28)

        # A new computer: the welcome screen offers the restore.
        new = self.shell("dan-new")
        page = new.onboarding
        self.assertIs(new.stack.currentWidget(), page)
        click(page.restore_button)
        restore = page.restore_page
        self.assertIs(page.stack.currentWidget(), restore)
        screenshot(new, "restore")
        click(restore.restore_button)
        self.assertEqual(restore.error.text(), S.RESTORE_FILE_MISSING)
        restore.choose_path = lambda: path
        click(restore.browse_button)
        # A wrong passphrase: the spec's message, and nothing restored.
        failed = signal_once(page.failed)
        QTest.keyClicks(restore.passphrase, "not the passphrase")
        QTest.keyClicks(restore.password, PASSWORD)
        click(restore.restore_button)
        self.assertEqual((yield failed), "Decryption failed. Incorrect backup code.")
        self.assertEqual(restore.error.text(), "Decryption failed. Incorrect backup code.")
        self.assertTrue(restore.restore_button.isEnabled())  # try again
        self.assertFalse(SecureChatClient.has_pin(self.device_dir("dan-new"),
                                                  "dan@example.org"))
        restore.passphrase.clear()
        QTest.keyClicks(restore.passphrase, PASSPHRASE)
        restored = yield self.signed_in(new, lambda: click(restore.restore_button))
        self.assertEqual(restored.me.email, "dan@example.org")
        self.assertIs(new.stack.currentWidget(), new.main)
        self.assertIn("checking", restore.progress.stages)
        self.assertIn("signing in", restore.progress.stages)
        # The restored account's vault holds what the backup held.
        window = yield self.unlocked_vault(new)
        self.assertEqual(window.titles(), ["Bank"])
        # ... and it opens from the lock screen from now on.
        yield new.lock()
        self.assertIn("dan@example.org", [new.lock_page.account.itemText(i) for i in
                                           range(new.lock_page.account.count())])


class RestoreDamagedFilesTests(VaultUITestCase):
    @defer.inlineCallbacks
    def test_shared_files_left_out_of_a_restore_are_named_in_plain_text(self) -> Any:
        from tests.test_backup import PASSPHRASE as BACKUP_PASSPHRASE
        from tests.test_backup_files import damaged_copy

        # At the default cost, as a restore signing in on a new device needs.
        alice = yield self.register("alice", "alice@example.org", PASSWORD, KdfCost())
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(alice, bob)
        yield self.befriend(alice, bob)
        source = os.path.join(self.mktemp(), "<img src=x>holiday.jpg")
        os.makedirs(os.path.dirname(source))
        with open(source, "wb") as f:
            f.write(os.urandom(3000))
        sent = yield alice.files.send(bob.me.user_id, source)
        yield alice.files.wait(sent.id)
        backup = self.mktemp()
        yield alice.create_backup(backup, BACKUP_PASSPHRASE, PASSWORD)
        yield alice.stop()  # the laptop is lost
        self.clients.remove(alice)
        damaged = damaged_copy(backup, self.mktemp(), f"media/vault_{sent.id}")

        new = self.shell("alice-new")
        click(new.onboarding.restore_button)
        restore = new.onboarding.restore_page
        restore.choose_path = lambda: damaged
        click(restore.browse_button)
        QTest.keyClicks(restore.passphrase, BACKUP_PASSPHRASE)
        QTest.keyClicks(restore.password, PASSWORD)
        restored = yield self.signed_in(new, lambda: click(restore.restore_button))
        self.assertEqual(restored.me.email, "alice@example.org")
        box = restore.damaged_notice
        self.assertTrue(box.isVisible())
        self.assertEqual(box.textFormat(), Qt.TextFormat.PlainText)  # a peer may name files
        self.assertIn(f"<img src=x>holiday.jpg (media/vault_{sent.id})", box.text())
        self.assertIn("CRC-32", box.text())
        box.accept()
