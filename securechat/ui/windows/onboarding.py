"""First run and new devices: create an account (with the recovery phrase shown once),
sign in with email, master password and recovery phrase, set a new password with the
phrase ("forgot password"), or restore an account from its backup (windows/restore.py).

Each form asks the window to send it (`submit`, with a callable that sends it); the
window's AccountSession (securechat/ui/session.py) runs it unless a request runs already,
and hears how it ended: `answered` (a step done), `failed`, `registered` or `done`."""

from __future__ import annotations

import random
import re
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from securechat.client import KdfCost, SecureChatClient, request_email_code
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from securechat.ui.bridge import call
from securechat.ui.plaintext import wrapped_label
from securechat.ui.strength import MIN_PASSWORD, password_strength
from securechat.ui.widgets.buttons import primary_button
from securechat.ui.widgets.fields import add_reveal, flag_invalid
from securechat.ui.widgets.status import StatusLabel
from securechat.ui.widgets.words import NumberedWords
from securechat.ui.windows.linking import NewDeviceLinkPage
from securechat.ui.windows.restore import RestorePage

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class OnboardingPage(QWidget):
    """Emits `done(client, email)` with an opened (not yet started) client."""

    submit = pyqtSignal(object)  # a callable that sends a form, if no request runs
    answered = pyqtSignal()  # a request ended with a next step (a code mailed, a reset)
    done = pyqtSignal(object, str)  # signed in: an opened client and its email
    registered = pyqtSignal(object, str)  # a new account: held until `confirmed`
    confirmed = pyqtSignal()  # the recovery phrase was written down
    cancelled = pyqtSignal()
    failed = pyqtSignal(str)  # registering or signing in failed: the message shown
    password_reset = pyqtSignal(str)  # the email whose password was reset

    def __init__(self, reactor: Any, data_dir: str, url: str, cost: KdfCost | None = None,
                 parent: QWidget | None = None, ca_file: str | None = None,
                 insecure_ws: bool = False) -> None:
        super().__init__(parent)
        self._reactor, self._data_dir, self._url, self._cost = reactor, data_dir, url, cost
        self._ca_file = ca_file  # trusted for a wss:// relay
        self._insecure_ws = insecure_ws  # the user allowed a ws:// relay off loopback
        self._word = 0
        self._words: list[str] = []
        self.stack = QStackedWidget()
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(self.stack, 2)
        self.stack.setMinimumWidth(460)  # in a narrow window the margins give way, not the fields
        outer.addStretch(1)
        self.stack.addWidget(self._welcome())
        self.stack.addWidget(self._register())
        self.stack.addWidget(self._login())
        self.stack.addWidget(self._mnemonic())
        self.stack.addWidget(self._reset())  # index 4
        self.stack.addWidget(self._email_code())  # index 5
        # Signing in by approval on another device, and restoring a backup: pages of
        # their own, kept separate; their requests go through the window as the rest.
        self.link_page = NewDeviceLinkPage(reactor, data_dir, url, cost, ca_file)
        self.restore_page = RestorePage(reactor, data_dir, url, cost, ca_file, insecure_ws)
        for page, back_to in ((self.link_page, 2), (self.restore_page, 0)):
            page.submit.connect(self.submit)
            page.done.connect(self.done)
            page.failed.connect(self.failed)
            page.back.connect(lambda i=back_to: self.stack.setCurrentIndex(i))
            self.stack.addWidget(page)

    # --- pages -------------------------------------------------------------------------

    def _welcome(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.WELCOME_TITLE, "title"))
        layout.addWidget(wrapped_label(S.WELCOME_BODY))
        self.create_button = primary_button(S.CREATE_ACCOUNT, lambda: self.stack.setCurrentIndex(1))
        self.login_button = QPushButton(S.SIGN_IN_NEW_DEVICE)
        self.login_button.clicked.connect(lambda: self.stack.setCurrentIndex(2))
        self.restore_button = QPushButton(S.RESTORE_FROM_BACKUP)
        self.restore_button.clicked.connect(
            lambda: self.stack.setCurrentWidget(self.restore_page))
        self.cancel_button = QPushButton(S.BACK)
        self.cancel_button.clicked.connect(self.cancelled)
        for button in (self.create_button, self.login_button, self.restore_button,
                       self.cancel_button):
            layout.addWidget(button)
        layout.addStretch(2)
        return page

    def _register(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.CREATE_ACCOUNT, "title"))
        form = QFormLayout()
        self.reg_email = QLineEdit()
        self.reg_name = QLineEdit()
        self.reg_password = QLineEdit()
        self.reg_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.reg_confirm = QLineEdit()
        self.reg_confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.reveal = [add_reveal(field) for field in (self.reg_password, self.reg_confirm)]
        self.strength = wrapped_label(S.STRENGTH[0])
        self.reg_password.textChanged.connect(
            lambda text: self.strength.setText(S.STRENGTH[password_strength(text)]))
        # Labels above their fields: long labels ("Repeat the master password") would
        # take half of a narrow window's width from the fields (review: ~100 px inputs).
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.addRow(S.EMAIL, self.reg_email)
        form.addRow(S.DISPLAY_NAME, self.reg_name)
        form.addRow(S.MASTER_PASSWORD, self.reg_password)
        form.addRow(self.strength)
        form.addRow(S.CONFIRM_PASSWORD, self.reg_confirm)
        layout.addLayout(form)
        self.reg_error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.reg_error)
        row = QHBoxLayout()
        back = QPushButton(S.BACK)
        back.clicked.connect(lambda: self.stack.setCurrentIndex(0))
        self.register_button = primary_button(S.REGISTER, self.submit_register)
        self.reg_confirm.returnPressed.connect(self.submit_register)
        row.addWidget(back)
        row.addStretch(1)
        row.addWidget(self.register_button)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def _login(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.SIGN_IN_NEW_DEVICE, "title"))
        form = QFormLayout()
        self.login_email = QLineEdit()
        self.login_password = QLineEdit()
        self.login_password.setEchoMode(QLineEdit.EchoMode.Password)
        add_reveal(self.login_password)
        self.login_phrase = QLineEdit()
        self.login_phrase.setPlaceholderText(S.RECOVERY_PHRASE_PLACEHOLDER)
        form.addRow(S.EMAIL, self.login_email)
        form.addRow(S.MASTER_PASSWORD, self.login_password)
        form.addRow(S.RECOVERY_PHRASE, self.login_phrase)
        form.addRow("", wrapped_label(S.RECOVERY_PHRASE_HINT))
        layout.addLayout(form)
        # Other ways to get the account key (approval from another device) go in this row.
        self.login_alternatives = QHBoxLayout()
        self.forgot_button = QPushButton(S.FORGOT_PASSWORD)
        self.forgot_button.setFlat(True)
        self.forgot_button.clicked.connect(lambda: self.show_reset(self.login_email.text()))
        self.login_alternatives.addWidget(self.forgot_button)
        self.login_alternatives.addStretch(1)
        layout.addLayout(self.login_alternatives)
        self.login_error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.login_error)
        row = QHBoxLayout()
        back = QPushButton(S.BACK)
        back.clicked.connect(lambda: self.stack.setCurrentIndex(0))
        self.signin_button = primary_button(S.SIGN_IN, self.submit_login)
        self.login_phrase.returnPressed.connect(self.submit_login)
        row.addWidget(back)
        row.addStretch(1)
        row.addWidget(self.signin_button)
        layout.addLayout(row)
        self.approve_button = QPushButton(S.APPROVE_FROM_OTHER_DEVICE)
        self.approve_button.clicked.connect(self.show_link_page)
        layout.addWidget(self.approve_button)
        layout.addStretch(2)
        return page

    def _reset(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.RESET_TITLE, "title"))
        layout.addWidget(wrapped_label(S.RESET_BODY))
        form = QFormLayout()
        self.reset_email = QLineEdit()
        self.reset_phrase = QLineEdit()
        self.reset_phrase.setPlaceholderText(S.RECOVERY_PHRASE_PLACEHOLDER)
        self.reset_password = QLineEdit()
        self.reset_confirm = QLineEdit()
        for field in (self.reset_password, self.reset_confirm):
            field.setEchoMode(QLineEdit.EchoMode.Password)
            add_reveal(field)
        form.addRow(S.EMAIL, self.reset_email)
        form.addRow(S.RECOVERY_PHRASE, self.reset_phrase)
        form.addRow(S.NEW_PASSWORD, self.reset_password)
        form.addRow(S.REPEAT_NEW_PASSWORD, self.reset_confirm)
        layout.addLayout(form)
        self.reset_error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.reset_error)
        row = QHBoxLayout()
        back = QPushButton(S.BACK)
        back.clicked.connect(lambda: self.stack.setCurrentIndex(2))
        self.reset_button = primary_button(S.RESET, self.submit_reset)
        self.reset_confirm.returnPressed.connect(self.submit_reset)
        row.addWidget(back)
        row.addStretch(1)
        row.addWidget(self.reset_button)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def show_reset(self, email: str = "") -> None:
        """The "forgot password" page (from the sign-in page or the lock screen)."""
        self.reset_email.setText(email.strip())
        self.reset_error.clear()
        self.stack.setCurrentIndex(4)
        (self.reset_phrase if email else self.reset_email).setFocus()

    def show_link_page(self) -> None:
        self.link_page.reset(self.login_email.text().strip(), self.login_password.text())
        self.stack.setCurrentWidget(self.link_page)

    def _mnemonic(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.MNEMONIC_TITLE, "title"))
        layout.addWidget(wrapped_label(S.MNEMONIC_BODY))
        self.mnemonic_label = QLabel()
        self.mnemonic_label.setWordWrap(True)
        self.mnemonic_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mnemonic_label.setStyleSheet("font-family: monospace; font-size: 15px; padding: 12px;")
        layout.addWidget(self.mnemonic_label)
        # shown numbered instead (the label keeps the phrase, for the screen reader's copy)
        self.mnemonic_label.hide()
        self.mnemonic_words = NumberedWords()
        layout.addWidget(self.mnemonic_words)
        self.confirm_prompt = QLabel()
        layout.addWidget(self.confirm_prompt)
        self.confirm_word = QLineEdit()
        self.confirm_word.returnPressed.connect(self.confirm_mnemonic)
        layout.addWidget(self.confirm_word)
        self.confirm_error = QLabel()
        self.confirm_error.setObjectName("error")
        layout.addWidget(self.confirm_error)
        self.confirm_button = primary_button(S.MNEMONIC_DONE, self.confirm_mnemonic)
        layout.addWidget(self.confirm_button)
        layout.addStretch(2)
        return page

    def _email_code(self) -> QWidget:
        """Asked for when the relay mails a code to prove the email (index 5)."""
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(wrapped_label(S.EMAIL_CODE_TITLE, "title"))
        self.code_body = wrapped_label()
        layout.addWidget(self.code_body)
        form = QFormLayout()
        self.email_code = QLineEdit()
        self.email_code.returnPressed.connect(self.submit_code)
        form.addRow(S.EMAIL_CODE, self.email_code)
        layout.addLayout(form)
        self.code_error = StatusLabel()  # "Working…" muted, errors red
        layout.addWidget(self.code_error)
        row = QHBoxLayout()
        back = QPushButton(S.BACK)
        back.clicked.connect(lambda: self.stack.setCurrentIndex(1))
        self.resend_button = QPushButton(S.EMAIL_CODE_RESEND)
        self.resend_button.clicked.connect(self.resend_code)
        self.code_button = primary_button(S.EMAIL_CODE_SUBMIT, self.submit_code)
        row.addWidget(back)
        row.addWidget(self.resend_button)
        row.addStretch(1)
        row.addWidget(self.code_button)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def reset(self, can_cancel: bool) -> None:
        self.cancel_button.setVisible(can_cancel)
        for field in (self.reg_password, self.reg_confirm, self.login_password,
                      self.login_phrase, self.reset_phrase, self.reset_password,
                      self.reset_confirm, self.confirm_word, self.email_code):
            field.clear()
        self.reg_error.clear()
        self.login_error.clear()
        self.code_error.clear()
        self.restore_page.reset()
        self.stack.setCurrentIndex(0)

    # --- actions -----------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """A request runs (the window's AccountSession is `working`): the buttons that
        would send another, or leave, wait."""
        for button in (self.register_button, self.signin_button, self.reset_button,
                       self.code_button, self.resend_button, self.cancel_button,
                       self.approve_button):
            button.setEnabled(not busy)
        self.restore_page.set_busy(busy)

    def discard(self) -> None:
        """The app is closing: withdraw a device link under way, and forget the recovery
        phrase shown once."""
        self.link_page.withdraw()
        self._words = []
        self.mnemonic_label.clear()
        self.mnemonic_words.set_words([])

    def submit_register(self) -> None:
        email = self.reg_email.text().strip()
        password = self.reg_password.text()
        if not EMAIL_RE.match(email):
            self.reg_error.setText(S.EMAIL_INVALID)
            flag_invalid(self.reg_email)
            return
        if len(password) < MIN_PASSWORD:
            self.reg_error.setText(S.PASSWORD_TOO_SHORT)
            flag_invalid(self.reg_password)
            return
        if password != self.reg_confirm.text():
            self.reg_error.setText(S.PASSWORDS_DIFFER)
            flag_invalid(self.reg_confirm)
            return
        self.submit.emit(lambda: self._ask_code(email, password))

    def _ask_code(self, email: str, password: str) -> None:
        self.reg_error.setText(S.SENDING_CODE)

        def asked(mailed: bool) -> None:
            if not mailed:  # this relay does not verify emails
                self._create_account(email, password, None, self.reg_error)
                return
            self.answered.emit()
            self.reg_error.clear()
            self.code_body.setText(S.EMAIL_CODE_BODY.format(email=email))
            self.email_code.clear()
            self.code_error.clear()
            self.stack.setCurrentIndex(5)
            self.email_code.setFocus()

        def failed(message: str) -> None:
            self.reg_error.setText(message)
            self.failed.emit(message)

        call(request_email_code(self._reactor, self._url, email, ca_file=self._ca_file),
             asked, failed)

    def submit_code(self) -> None:
        code = self.email_code.text().strip()
        if not code:
            self.code_error.setText(S.EMAIL_CODE_MISSING)
            return
        email, password = self.reg_email.text().strip(), self.reg_password.text()
        self.submit.emit(lambda: self._create_account(email, password, code, self.code_error))

    def resend_code(self) -> None:
        self.submit.emit(self._resend_code)

    def _resend_code(self) -> None:
        self.code_error.setText(S.WORKING)

        def sent(_: bool) -> None:
            self.answered.emit()
            self.code_error.setText(S.EMAIL_CODE_RESENT)

        def failed(message: str) -> None:
            self.answered.emit()  # nothing new: the page says why
            self.code_error.setText(message)

        call(request_email_code(self._reactor, self._url, self.reg_email.text().strip(),
                                ca_file=self._ca_file), sent, failed)

    def _create_account(self, email: str, password: str, code: str | None,
                        errors: QLabel) -> None:
        errors.setText(S.WORKING)

        def created(result: tuple[SecureChatClient, str]) -> None:
            client, mnemonic = result
            # Listed on the lock screen from now on, even if the app closes before the
            # phrase is confirmed (the account exists, here and on the relay).
            accounts.remember(self._data_dir, email)
            errors.clear()
            self._words = mnemonic.split()
            self._word = random.randrange(len(self._words))  # noqa: S311 - not a secret
            self.mnemonic_label.setText(mnemonic)
            self.mnemonic_words.set_words(self._words)
            self.confirm_prompt.setText(S.MNEMONIC_CONFIRM_PROMPT.format(n=self._word + 1))
            # The window holds the client until the phrase is confirmed (or, closing,
            # stops it and has the phrase forgotten).
            self.registered.emit(client, email)
            self.stack.setCurrentIndex(3)
            self.confirm_word.setFocus()

        def failed(message: str) -> None:
            errors.setText(message)
            self.failed.emit(message)

        call(SecureChatClient.register(self._reactor, self._data_dir, self._url, email,
                                       password, self.reg_name.text().strip(), self._cost,
                                       email_code=code, ca_file=self._ca_file,
                                       insecure_ws=self._insecure_ws),
             created, failed)

    def confirm_mnemonic(self) -> None:
        if not self._words:
            return  # no phrase shown (it was confirmed, or the app is closing)
        if self.confirm_word.text().strip().lower() != self._words[self._word]:
            self.confirm_error.setText(S.MNEMONIC_WRONG.format(n=self._word + 1))
            return
        self._words = []
        self.mnemonic_label.clear()  # shown once
        self.mnemonic_words.set_words([])
        self.confirm_error.clear()
        self.confirmed.emit()

    @property
    def mnemonic_word(self) -> tuple[int, str]:
        """(index, word) being asked for (for tests and accessibility tooling)."""
        return self._word, self._words[self._word] if self._words else ""

    def submit_login(self) -> None:
        email = self.login_email.text().strip()
        if not EMAIL_RE.match(email):
            self.login_error.setText(S.EMAIL_INVALID)
            flag_invalid(self.login_email)
            return
        self.submit.emit(lambda: self._sign_in(email))

    def _sign_in(self, email: str) -> None:
        self.login_error.setText(S.WORKING)

        def failed(message: str) -> None:
            self.login_error.setText(message)
            self.failed.emit(message)

        def logged_in(client: SecureChatClient) -> None:
            self.login_error.clear()
            self.done.emit(client, email)

        call(SecureChatClient.login(self._reactor, self._data_dir, self._url, email,
                                    self.login_password.text(), self._cost,
                                    recovery_phrase=self.login_phrase.text(),
                                    ca_file=self._ca_file, insecure_ws=self._insecure_ws),
             logged_in, failed)

    def submit_reset(self) -> None:
        email = self.reset_email.text().strip()
        password = self.reset_password.text()
        if not EMAIL_RE.match(email):
            self.reset_error.setText(S.EMAIL_INVALID)
            flag_invalid(self.reset_email)
            return
        if len(password) < MIN_PASSWORD:
            self.reset_error.setText(S.PASSWORD_TOO_SHORT)
            flag_invalid(self.reset_password)
            return
        if password != self.reset_confirm.text():
            self.reset_error.setText(S.PASSWORDS_DIFFER)
            flag_invalid(self.reset_confirm)
            return
        self.submit.emit(lambda: self._reset_password(email, password))

    def _reset_password(self, email: str, password: str) -> None:
        self.reset_error.setText(S.WORKING)

        def reset(here: bool | None) -> None:
            self.answered.emit()
            for field in (self.reset_phrase, self.reset_password, self.reset_confirm):
                field.clear()
            self.reset_error.setText(S.RESET_DONE_NOT_HERE if here is False else S.RESET_DONE)
            self.password_reset.emit(email)

        def failed(message: str) -> None:
            self.reset_error.setText(message)
            self.failed.emit(message)

        call(SecureChatClient.reset_password(self._reactor, self._data_dir, self._url, email,
                                             self.reset_phrase.text(), password, self._cost),
             reset, failed)
