# ruff: noqa: S105 - labels that mention passwords are not passwords
"""Every user-facing string of the desktop client, in one place, ready for translation.

Wrap with a translator later (QCoreApplication.translate("securechat", s)); the UI
only ever reads these names.
"""

from __future__ import annotations

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
ONLINE = "online"
OFFLINE = "offline"
MENU_ACCOUNT = "&Account"
ACTION_LOCK = "&Lock"
ACTION_SWITCH = "&Switch account…"
ACTION_QUIT = "&Quit"
ACTION_PROFILE = "Contact &profile"
ACTION_FIND = "&Find conversation"
ACTION_ADD_CONTACT = "&Add contact"
NO_MESSAGES = "No messages yet"
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
LOADING_OLDER = "Loading older messages…"

# --- profile --------------------------------------------------------------------------
PROFILE_TITLE = "Contact profile"
SAFETY_NUMBER = "Safety number"
SAFETY_HELP = ("Compare these numbers with {name} in person, or scan the code. If they "
               "match, your conversation is end-to-end encrypted with the right person.")
CLOSE = "Close"

# --- notifications --------------------------------------------------------------------
NOTIFY_MESSAGE = "New message from {name}"
NOTIFY_REQUEST = "Friend request"
NOTIFY_REQUEST_BODY = "{email} wants to chat with you."
TRAY_SHOW = "Show SecureChat"

ERROR = "Error"
