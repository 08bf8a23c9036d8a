"""Every user-facing string of the desktop client, in one place, ready for translation.

The UI only ever reads these names (`S.UNLOCK`), when it builds a widget. `retranslate()`
re-binds them all through Qt's translators (`QCoreApplication.translate`, context
"securechat"), so installing a `QTranslator` (`use_translator`, or a .qm file found by
`install_system_translation`) before the windows are built translates the whole client.
The English text is the source text: it is what a .ts file lists.
"""

# ruff: noqa: S105 - labels that mention passwords are not passwords

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
RECOVERY_PHRASE = "Recovery phrase"
RECOVERY_PHRASE_HINT = ("The 12 words shown once when you created the account. With your "
                        "master password they let this device open your account.")
RECOVERY_PHRASE_PLACEHOLDER = "twelve words separated by spaces"
FORGOT_PASSWORD = "Forgot password?"
RESET_TITLE = "Set a new master password"
RESET_BODY = ("Your recovery phrase lets you choose a new master password. The old one stops "
              "working for signing in; if this account is on this device, it opens with the "
              "new one.")
NEW_PASSWORD = "New master password"
REPEAT_NEW_PASSWORD = "Repeat the new password"
RESET = "Set new password"
RESET_DONE = "Done: your master password is the new one."
RESET_DONE_NOT_HERE = ("Done on the server, but this device's copy of the account could not "
                       "be re-sealed: remove it here and sign in again.")
EMAIL_CODE_TITLE = "Check your mail"
EMAIL_CODE_BODY = ("We sent a code to {email}. Enter it here to prove the address is yours. "
                   "It is valid for 15 minutes.")
EMAIL_CODE = "Code from the mail"
EMAIL_CODE_SUBMIT = "Verify and create account"
EMAIL_CODE_RESEND = "Send a new code"
EMAIL_CODE_RESENT = "A new code is on its way."
EMAIL_CODE_MISSING = "Enter the code from the mail."
SENDING_CODE = "Sending a code to your email…"

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

# --- master password --------------------------------------------------------------------
ACTION_CHANGE_PASSWORD = "Change master pass&word…"
CHANGE_PASSWORD_TITLE = "Change the master password"
CHANGE_PASSWORD_BODY = ("The new password signs you in on new devices and opens this account "
                        "here. Your other devices keep opening with their own password until "
                        "you change it there too; your PIN stays as it is.")
CURRENT_PASSWORD = "Current master password"
PASSWORD_CHANGED = "Master password changed."

# --- main window ----------------------------------------------------------------------
SEARCH = "Search"
ADD_CONTACT_PLACEHOLDER = "Add a contact by email"
ADD_CONTACT = "Add"
REQUEST_SENT = "Friend request sent to {email}."
REQUESTS_TITLE = "Friend requests"
REQUEST_NAME_CHOSEN = "name chosen by them"
REQUEST_KEY_CHANGED = ("This person's key changed since they asked — make sure it's really "
                       "them.")
REQUEST_OUT_KEY_CHANGED = ("You asked {email}; their key changed since — make sure it's really "
                           "them.")
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
CONN_SYNCING = "Syncing…"  # joined, fetching what came while away
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
DEVICE_ADDED_LINE = "{name} signed in on a new device"
DEVICE_REMOVED_LINE = "{name} removed a device"
DEVICE_ADDED_PREVIEW = "Signed in on a new device"
DEVICE_REMOVED_PREVIEW = "Removed a device"

# --- my devices -----------------------------------------------------------------------
ACTION_LINKED_DEVICES = "Linked &devices…"
LINKED_DEVICES_TITLE = "Linked devices"
LINKED_DEVICES_HELP = ("Every device that can read your messages. Remove any you do not "
                       "recognise: it is signed out and gets nothing more.")
THIS_DEVICE = "{name} (this device)"
DEVICE_ADDED_AT = "added {when}"
DEVICE_LAST_SEEN = "last seen {when}"
DEVICE_NEVER_SEEN = "not connected yet"
UNKNOWN_TIME = "unknown"
REMOVE_DEVICE = "Remove"
REMOVE_IT = "Remove it"
IT_WAS_ME = "It was me"
NEW_DEVICE_NOTICE = "A new device was added to your account: {name}, {when}"
REMOVE_DEVICE_TITLE = "Remove a device"
REMOVE_DEVICE_BODY = ("Remove {name} from your account? Enter your master password to "
                      "confirm.")
DEVICE_REMOVED_MESSAGE = "Device {name} was removed from your account."
LOADING = "Loading…"

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
DEVICES_CHANGED_RECHECK = ("{name}'s devices changed since you verified — compare safety "
                           "numbers again.")

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
UNTRUSTED_CERTIFICATE = ("The relay's certificate is not trusted. Start SecureChat with "
                         "--ca-file PATH (the relay's certificate or the CA that signed it).")

# --- approving a new device ----------------------------------------------------------
APPROVE_FROM_OTHER_DEVICE = "Approve from another device"
LINK_TITLE = "Approve this device from another one"
LINK_BODY = ("Your other device must approve this one: nobody who only knows your password "
             "can add a device to your account.")
LINK_START = "Ask my other device"
LINK_WAITING = ("Open SecureChat on your other device: it asks you to approve this one. "
                "Keep this screen open.")
LINK_COMPARE = "Check that your other device shows exactly this code:"
LINK_CONFIRM = "They match"
LINK_CANCEL = "Cancel"
LINK_CONFIRMED = "Waiting for your other device…"
APPROVAL_TITLE = "A new device wants to join your account"
APPROVAL_BODY = ("Device {device} signed in with your password and asks for your account key. "
                 "If this is not you, your password is known to someone else: refuse it and "
                 "change your password.")
APPROVAL_COMPARE = "Compare codes"
APPROVAL_REFUSE = "It's not me"
APPROVAL_CONFIRM = "Confirm"
APPROVAL_MISMATCH = "It doesn't match"
APPROVAL_DONE = "Approved: the new device is signed in to your account."


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
