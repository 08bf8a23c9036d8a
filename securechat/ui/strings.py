# ruff: noqa: S105 - labels that mention passwords are not passwords
"""Every user-facing string of the desktop client, in one place, ready for translation.

The UI only ever reads these names (`S.UNLOCK`), when it builds a widget. `retranslate()`
re-binds them all through Qt's translators (`QCoreApplication.translate`, context
"securechat"), so installing a `QTranslator` (`use_translator`, or a .qm file found by
`install_system_translation`) before the windows are built translates the whole client.
The English text is the source text: it is what a .ts file lists.
"""

from __future__ import annotations

import os
from typing import Any

CONTEXT = "securechat"
I18N_DIR = os.path.join(os.path.dirname(__file__), "i18n")

APP_NAME = "SecureChat"

# --- onboarding ---------------------------------------------------------------------
WELCOME_TITLE = "Welcome to SecureChat"
WELCOME_BODY = "End-to-end encrypted messages. Your keys never leave your devices."
CREATE_ACCOUNT = "Create an account"
SIGN_IN_NEW_DEVICE = "Sign in on this device"
BACK = "Back"
EMAIL = "Email"
DISPLAY_NAME = "Your name (shown to contacts)"
MASTER_PASSWORD = "Master password"
CONFIRM_PASSWORD = "Repeat the master password"
PASSWORDS_DIFFER = "The passwords do not match."
EMAIL_INVALID = "Enter a valid email address."
PASSWORD_TOO_SHORT = "Use at least 10 characters."
STRENGTH = {0: "Strength: too short", 1: "Strength: weak", 2: "Strength: fair",
            3: "Strength: good", 4: "Strength: strong"}
REGISTER = "Create account"
SIGN_IN = "Sign in"
WORKING = "Working… (deriving keys takes a moment)"
MNEMONIC_TITLE = "Your recovery phrase"
MNEMONIC_BODY = ("Write these words down and keep them safe. They are your master key; "
                 "this is the only time they are shown.")
MNEMONIC_CONFIRM_PROMPT = "To confirm, type word number {n}:"
MNEMONIC_WRONG = "That is not word number {n}. Check what you wrote down."
MNEMONIC_DONE = "I have written it down"

# --- lock screen ----------------------------------------------------------------------
LOCK_TITLE = "Unlock SecureChat"
CHOOSE_ACCOUNT = "Account"
UNLOCK = "Unlock"
ADD_ACCOUNT = "Add account…"
NO_ACCOUNTS = "No account on this device yet."
UNLOCKING = "Unlocking…"
CLOSING = "Closing the account…"
PIN = "PIN"
USE_PASSWORD_INSTEAD = "Use the master password instead"

# --- PIN ------------------------------------------------------------------------------
ACTION_SET_PIN = "Set &PIN…"
ACTION_REMOVE_PIN = "&Remove PIN"
SET_PIN_TITLE = "Unlock with a PIN"
SET_PIN_BODY = ("A PIN unlocks this account on this device instead of the master password. "
                "Five wrong PINs erase it. It is bound to this computer's system keychain: "
                "a copy of this computer's files alone is no help in guessing it.")
SET_PIN_BODY_NO_KEYCHAIN = (
    "A PIN unlocks this account on this device instead of the master password. Five wrong "
    "PINs erase it. Without a system keychain, someone who copies this computer's files can "
    "guess a PIN offline, and with it read this device's messages (not take over your "
    "account): use a long PIN or the master password.")
NEW_PIN = "PIN (6 to 12 digits)"
REPEAT_PIN = "Repeat the PIN"
PINS_DIFFER = "The PINs do not match."
PIN_SET = "PIN set: use it on the lock screen."
PIN_REMOVED = "PIN removed: the master password unlocks this account."

# --- main window ----------------------------------------------------------------------
SEARCH = "Search"
ADD_CONTACT_PLACEHOLDER = "Add a contact by email"
ADD_CONTACT = "Add"
REQUEST_SENT = "Friend request sent to {email}."
REQUESTS_TITLE = "Friend requests"
ACCEPT = "Accept"
DENY = "Deny"
NO_CHAT_SELECTED = "Choose a conversation"
TYPING = "typing…"
TYPING_LABEL = "typing"  # followed by three animated dots
ONLINE = "online"
OFFLINE = "offline"
MENU_ACCOUNT = "&Account"
ACTION_LOCK = "&Lock"
ACTION_SWITCH = "&Switch account…"
ACTION_QUIT = "&Quit"
ACTION_PROFILE = "Contact &profile"
ACTION_FIND = "&Find conversation"
ACTION_ADD_CONTACT = "&Add contact"
ACTION_NEXT_CHAT = "&Next conversation"
ACTION_PREVIOUS_CHAT = "P&revious conversation"
NO_MESSAGES = "No messages yet"
NO_CONVERSATIONS = ("No conversations yet.\nAdd a contact by their email below; once they "
                    "accept, you can chat.")
YOU = "You: "

# --- connection -----------------------------------------------------------------------
CONN_CONNECTING = "Connecting…"
CONN_ONLINE = "Online"
CONN_OFFLINE = "Offline"
CONN_RETRY = "Offline — retrying in {seconds} s"
CONN_FAILED = "Cannot connect: {reason}"
CONN_RETRY_NOW = "Retry now"

# --- chat -----------------------------------------------------------------------------
COMPOSER_PLACEHOLDER = "Message (Enter to send, Shift+Enter for a new line)"
SEND = "Send"
PROFILE_BUTTON = "Profile"
REPLY = "Reply"
REPLYING_TO = "Replying to: {text}"
CANCEL = "Cancel"
COPY = "Copy text"
DELETE_FOR_ME = "Delete for me"
UNSEND = "Unsend (delete for everyone)"
TODAY = "Today"
YESTERDAY = "Yesterday"
DELETED_ORIGINAL = "(original message not loaded)"
KEY_CHANGED = ("{name}'s security key changed. Verify the new safety number before you "
               "continue; messages to them wait until you accept.")
KEY_ACCEPT = "Accept new key"
JUMP_TO_LATEST = "Newest messages"

# --- profile --------------------------------------------------------------------------
PROFILE_TITLE = "Contact profile"
SAFETY_NUMBER = "Safety number"
SAFETY_HELP = ("Compare these numbers with {name} in person, or scan the code. If they "
               "match, your conversation is end-to-end encrypted with the right person.")
CLOSE = "Close"
NICKNAME = "Nickname (only you see it)"
SAVE = "Save"
MARK_VERIFIED = "I compared the safety numbers: mark as verified"
VERIFIED_SUBTITLE = "{state} · ✓ verified"

# --- notifications --------------------------------------------------------------------
NOTIFY_MESSAGE = "New message from {name}"
NOTIFY_REQUEST = "Friend request"
NOTIFY_REQUEST_BODY = "{email} wants to chat with you."
NOTIFY_HIDDEN_TEXT = "New message"
NOTIFY_SOMETHING_NEW = "You have something new"
MENU_NOTIFICATIONS = "&Notifications show"
NOTIFY_SHOW_FULL = "Name and message"
NOTIFY_SHOW_NAME = "Name only"
NOTIFY_SHOW_NOTHING = "No name or message"
TRAY_SHOW = "Show SecureChat"
TRAY_UNREAD = "SecureChat: {count} unread"

ERROR = "Error"
UNEXPECTED_ERROR = "Something went wrong; details are in the log."


# --- translation (keep this section last: it snapshots every string above) -----------

_SOURCE: dict[str, Any] = {name: value for name, value in list(globals().items())
                           if name.isupper() and isinstance(value, str | dict)
                           and name not in ("CONTEXT", "I18N_DIR")}


def retranslate() -> None:
    """Re-bind every string through the installed translators (none: the English)."""
    from PyQt6.QtCore import QCoreApplication

    def tr(text: str) -> str:
        return QCoreApplication.translate(CONTEXT, text) or text

    for name, value in _SOURCE.items():
        globals()[name] = ({k: tr(v) for k, v in value.items()} if isinstance(value, dict)
                           else tr(value))


def use_translator(translator: Any) -> None:
    """Install a QTranslator for the whole client (build windows after this)."""
    from PyQt6.QtCore import QCoreApplication

    QCoreApplication.installTranslator(translator)
    retranslate()


def install_system_translation() -> Any:
    """Load securechat_<locale>.qm for the system's languages from securechat/ui/i18n/,
    if there is one; returns the installed QTranslator or None."""
    from PyQt6.QtCore import QLocale, QTranslator

    translator = QTranslator()
    if not translator.load(QLocale.system(), CONTEXT, "_", I18N_DIR):
        return None
    use_translator(translator)
    return translator
