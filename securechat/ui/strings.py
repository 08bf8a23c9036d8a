"""Every user-facing string of the desktop client, in one place, ready for translation.

The UI only ever reads these names (`S.UNLOCK`), when it builds a widget. `retranslate()`
re-binds them all through Qt's translators (`QCoreApplication.translate`, context
"securechat"), so installing a `QTranslator` (`use_translator`, or a .qm file found by
`install_system_translation`) before the windows are built translates the whole client.
The English text is the source text: it is what a .ts file lists.

Size: long because it is the one catalogue of the client's strings: `retranslate()`
re-binds this module's names, and the .ts file lists them in one context; split by
window, both would have to walk several modules for no gain.
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
# Unsend leaves a marker (issue 11): what the marker and a quote of it say.
MESSAGE_DELETED = "This message was deleted"
MESSAGE_DELETED_MINE = "You deleted this message"
DELETED_QUOTE = "deleted message"
KEY_CHANGED = ("{name}'s security key changed. Verify the new safety number before you "
               "continue; messages to them wait until you accept.")
KEY_ACCEPT = "Accept new key"
JUMP_TO_LATEST = "Newest messages"
DEVICE_ADDED_LINE = "{name} signed in on a new device"
DEVICE_REMOVED_LINE = "{name} removed a device"
DEVICE_ADDED_PREVIEW = "Signed in on a new device"
DEVICE_REMOVED_PREVIEW = "Removed a device"

# --- chat details (issue 11): never lose a draft, reactions, edits, unsend, links ------
MESSAGE_TOO_LONG = ("This message is {count} characters long; the limit is {limit}. "
                    "Your text is kept: shorten it or send it in parts.")
LENGTH_COUNTER = "{count} / {limit}"
REPLYING_TO_NAME = "Replying to {name}: {text}"
ME_AUTHOR = "You"
REACT = "React"
REMOVE_REACTION = "Remove my reaction"
EDIT = "Edit"
EDITING = "Editing: {text}"
EDITED = "edited"
EDIT_HISTORY = "Earlier versions:\n{versions}"
EDIT_HISTORY_ACTION = "Earlier versions…"
UNSEND_CONFIRM_TITLE = "Unsend this message?"
UNSEND_CONFIRM_BODY = ("It is deleted for everyone in this conversation, on all their "
                       "devices and yours; both sides see that a message was deleted.")
DELETE_CONFIRM_TITLE = "Delete this message for you?"
DELETE_CONFIRM_BODY = "It is deleted on this device only; the others keep it."
MESSAGE_DELETED = "This message was deleted"
OPEN_LINK = "Open link"
OPEN_LINK_TITLE = "Open this link?"
OPEN_LINK_BODY = "It opens in your browser:\n\n{url}"
COPY_LINK = "Copy link"
EMOJI_PICKER = "Insert an emoji"

REQUEST_WAITING = "Waiting for them to accept."
BLOCK = "Block"
UNBLOCK = "Unblock"
MUTE = "Mute notifications"
UNMUTE = "Unmute notifications"
BLOCK_HELP = "Deny, and drop anything they send from now on (a new request too)."
DENY_CONFIRM_TITLE = "Deny this friend request?"
DENY_CONFIRM_BODY = "{email} is told that you denied the request."
BLOCK_CONFIRM_TITLE = "Block this person?"
BLOCK_CONFIRM_BODY = ("{email}'s request is denied, and nothing they send reaches you "
                      "from now on, new requests included.")
SEARCH_MESSAGES = "Messages"
NO_RESULTS = "No results"

# --- settings and about (issue 11) -----------------------------------------------------
ACTION_SETTINGS = "&Settings…"
ACTION_ABOUT = "&About SecureChat"
SETTINGS_TITLE = "Settings"
SETTINGS_APPEARANCE = "Appearance"
SETTINGS_THEME = "Theme"
THEME_NAMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
SETTINGS_LANGUAGE = "Language"
LANGUAGE_SYSTEM = "The system's language"
LANGUAGE_NEXT_START = "A new language applies the next time SecureChat starts."
SETTINGS_NOTIFICATIONS = "Notifications"
NOTIFY_SHOWS = "Notifications show"
CLOSE_TO_TRAY = "Closing the window keeps SecureChat running in the tray"
NO_TRAY = "This desktop has no system tray: closing the window quits SecureChat."
SETTINGS_SECURITY = "Security"
SETTINGS_ABOUT = "About"
ABOUT_TEXT = ("SecureChat {version}\nEnd-to-end encrypted messages (Olm, as in Matrix). "
              "Your keys never leave your devices; the relay sees only ciphertext.\n"
              "Help: docs/protocol.md and README.md in the source.")

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

# --- profiles: names, avatars, notes (ui.windows.my_profile, ui.windows.profile) ------
NOTES = "Notes (private: only your own devices see them)"
SAVE_NOTES = "Save notes"
SHARED_MEDIA = "Shared media"
SHARED_MEDIA_NONE = ("Pictures and files you exchange with {name} will be listed here once "
                     "file sharing is available.")
ACTION_MY_PROFILE = "&My profile…"
MY_PROFILE_TITLE = "My profile"
DISPLAY_NAME = "Display name (your contacts see it)"
CHOOSE_PICTURE = "Choose picture…"
REMOVE_PICTURE = "Remove picture"
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.gif *.bmp *.webp)"
PICTURE_UNREADABLE = "This file is not a picture that can be read."
PROFILE_SAVED = "Saved. Your contacts see it when they are next online."

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


# --- the vault -------------------------------------------------------------------------
ACTION_VAULT = "&Vault…"
VAULT_TITLE = "Vault"
VAULT_LOCKED_BODY = ("Your passwords, notes and files, encrypted on this device. It locks "
                     "itself after a few idle minutes and whenever SecureChat locks.")
VAULT_CODE = "Code from your authenticator app (or a recovery code)"
VAULT_PASSWORD_BODY = ("This account was opened with its PIN: the vault also needs the master "
                       "password.")
VAULT_PASSWORD_MISSING = "Enter the master password."
VAULT_CODE_MISSING = "Enter the 6-digit code from your authenticator app."
VAULT_UNLOCK = "Unlock the vault"
VAULT_UNLOCK_WAIT = "Unlock (wait {seconds} s)"
VAULT_TOO_MANY_CODES = ("Too many wrong codes: the vault takes the next one when the button "
                        "comes back.")
VAULT_UNLOCKING = "Unlocking the vault… (deriving the key takes a moment)"
VAULT_LOCK = "Lock the vault"
VAULT_RESET = "Reset the vault…"
VAULT_RESET_QUESTION = ("Delete every item in the vault and start an empty one? This cannot be "
                        "undone.")
VAULT_RESET_DONE = "The vault was reset: it is empty now."
VAULT_SEARCH = "Search by title"
VAULT_EMPTY = "The vault is empty: add a password, a note or a file."
VAULT_ADD_PASSWORD = "New password"
VAULT_ADD_NOTE = "New note"
VAULT_IMPORT_FILE = "Import file…"
VAULT_EDIT = "Edit"
VAULT_DELETE = "Delete"
VAULT_DELETE_QUESTION = "Delete “{title}” from the vault?"
VAULT_COPY_PASSWORD = "Copy password"
VAULT_EXPORT_FILE = "Export file…"
VAULT_COPIED = "Password copied: the clipboard is cleared in {seconds} s."
VAULT_CLIPBOARD_CLEARED = "The clipboard was cleared."
VAULT_EXPORTED = "Exported to {path}."
VAULT_IMPORTED = "Imported {name}."
VAULT_SAVED = "Saved."
VAULT_DELETED = "Deleted."
VAULT_CHOOSE_IMPORT = "Choose a file to keep in the vault"
VAULT_CHOOSE_EXPORT = "Export the file to"
VAULT_KIND = {"password": "password", "note": "note", "file": "file"}
VAULT_ITEM_ROW = "{title}  ·  {kind}"
VAULT_NO_PASSWORD = "This item has no password to copy."
EDITOR_PASSWORD_TITLE = "Password"
EDITOR_NOTE_TITLE = "Note"
EDITOR_FILE_TITLE = "File"
EDITOR_ITEM_TITLE = "Title"
EDITOR_USERNAME = "Username"
EDITOR_PASSWORD = "Password"
EDITOR_URL = "Website"
EDITOR_NOTES = "Notes"
EDITOR_TEXT = "Text"
EDITOR_SHOW = "Show"
EDITOR_GENERATE = "Generate"
EDITOR_LENGTH = "Length"
EDITOR_SYMBOLS = "Symbols"
EDITOR_TITLE_MISSING = "Give the item a title."
SAVE_ITEM = "Save"
VAULT_SAVING = "Saving…"

# --- the vault's second factor ---------------------------------------------------------
ACTION_MFA = "Vault &two-factor code…"
MFA_TITLE = "Two-factor code for the vault"
MFA_OFF_BODY = ("Ask for a code from an authenticator app (6 digits, new every 30 s) before "
                "the vault opens. The code is checked on this device only.")
MFA_ON_BODY = ("The vault asks for a code from your authenticator app. Turning this off takes "
               "a code.")
MFA_SET_UP = "Set up"
MFA_SCAN = ("Scan this QR code with your authenticator app, or type the key below into it. "
            "Then enter the code it shows.")
MFA_SECRET = "Key"
MFA_CODE = "Code"
MFA_CONFIRM = "Turn on"
MFA_RECOVERY_TITLE = "Your recovery codes"
MFA_RECOVERY_BODY = ("Each of these codes opens the vault once instead of a code, if you lose "
                     "your authenticator. They are shown only now: write them down and keep "
                     "them safe.")
MFA_RECOVERY_DONE = "I wrote them down"
MFA_DISABLE = "Turn off"
MFA_DISABLED = "The vault no longer asks for a code."
MFA_CODE_MISSING = "Enter the code your authenticator app shows."

# --- backup and restore ----------------------------------------------------------------
ACTION_BACKUP = "Create &backup…"
BACKUP_TITLE = "Create an encrypted backup"
BACKUP_BODY = ("Everything of this account — messages, contacts, keys, the vault and its "
               "files — in one file encrypted with a passphrase. Without the passphrase "
               "nobody can read it, not even you: keep it somewhere safe.")
BACKUP_PASSPHRASE = "Backup passphrase"
BACKUP_REPEAT = "Repeat the passphrase"
BACKUP_PASSPHRASES_DIFFER = "The passphrases do not match."
BACKUP_FILE = "Save to"
BACKUP_BROWSE = "Choose…"
BACKUP_FILE_MISSING = "Choose where to save the backup."
BACKUP_PASSWORD_BODY = ("A backup holds your recovery phrase: it takes your master password, "
                        "and your vault code when the vault has one.")
BACKUP_CREATE = "Create backup"
BACKUP_DONE = "Backup saved to {path}."
BACKUP_SAVE_AS = "Save the backup as"
BACKUP_FILTER = "SecureChat backups (*.scbackup);;All files (*)"
BACKUP_STAGES = {"checking": "Checking the backup…", "signing in": "Signing in…",
                 "database": "Messages and contacts…", "media": "Files…",
                 "encrypting": "Encrypting…", "finishing": "Finishing…"}
RESTORE_FROM_BACKUP = "Restore from a backup"
RESTORE_TITLE = "Restore an account from its backup"
RESTORE_BODY = ("Choose the backup file and enter its passphrase, then the account's master "
                "password: this device becomes one of the account's devices, with everything "
                "the backup holds.")
RESTORE_FILE = "Backup file"
RESTORE_OPEN = "Choose the backup file"
RESTORE_FILE_MISSING = "Choose the backup file."
RESTORE_PASSWORD = "The account's master password"
RESTORE = "Restore"
RESTORE_DAMAGED_TITLE = "Some shared files were damaged"
RESTORE_DAMAGED = ("The account is restored, but the backup's copy of these shared files was "
                   "damaged, so they were left out:\n{files}\nThey show with a Download "
                   "button and download again while the relay keeps them.")

# --- history for a new device (issue 13: ui/widgets/history_progress.py) ---------------
HISTORY_PROGRESS = "Getting your history from your other device: {received} of {total}"
# --- calls (issue 15) ------------------------------------------------------------------
CALL_AUDIO = "Call"
CALL_VIDEO = "Video"
CALL_AUDIO_TIP = "Voice call"
CALL_VIDEO_TIP = "Video call"
CALL_INCOMING_TITLE = "Incoming call"
CALL_INCOMING_BODY = {"audio": "{name} is calling you", "video": "{name} is video calling you"}
CALL_ACCEPT = "Accept"
CALL_DECLINE = "Decline"
CALL_HANG_UP = "Hang up"
CALL_MUTE = "Mute"
CALL_CAMERA = "Camera"
CALL_STATES = {"dialing": "Calling…", "ringing": "Ringing…", "incoming": "Incoming call",
               "connecting": "Connecting…", "connected": "Connected",
               "interrupted": "Reconnecting…", "ended": "Call ended"}
CALL_OUTCOMES = {"completed": "Call ended", "cancelled": "Call cancelled",
                 "missed": "No answer", "declined": "Call declined",
                 "busy": "{name} is on another call", "failed": "Call failed",
                 "unreachable": "{name} is not reachable right now",
                 "network": "Call ended: the connection was lost",
                 "answered_elsewhere": "Answered on another device",
                 "declined_elsewhere": "Declined on another device"}
CALL_DEVICE_ERROR = "{error} Calls are off until the device is available."
CALL_NO_VIDEO = "No video"
# the microphone and camera pickers (ui/widgets/device_picker.py, in the settings)
SETTINGS_CALLS = "Calls"
MICROPHONE = "Microphone"
CAMERA = "Camera"
DEVICES_LOOKING = "Looking for devices…"
DEFAULT_MICROPHONE = "Default microphone"
DEFAULT_CAMERA = "Default camera"
NO_MICROPHONE = "No microphone found"
NO_CAMERA = "No camera found"
DEVICE_NOT_CONNECTED = "{name} (not connected)"
CALL_LOG_KIND = {"out-audio": "Outgoing voice call", "out-video": "Outgoing video call",
                 "in-audio": "Incoming voice call", "in-video": "Incoming video call"}
CALL_LOG_OUTCOME = {"missed": "Missed call ({kind})", "declined": "{kind}: declined",
                    "busy": "{kind}: {name} was busy", "cancelled": "{kind}: cancelled",
                    "unreachable": "{kind}: {name} was not reachable",
                    "failed": "{kind}: failed", "network": "{kind}: connection lost"}
CALL_LOG_UNREADABLE = "Call"
# --- the local AI assistant (ui/widgets/assistant.py, ui/windows/assistant_settings.py) ---
AI_POLISH = "Polish"
AI_POLISH_TIP = "Let the assistant on this device polish your draft (nothing is sent)"
AI_REPLIES = "Suggest replies"
AI_SUMMARY = "Summarize"
AI_SUMMARY_UNREAD = "Summarize unread"
AI_STOP = "Stop"
AI_USE = "Use"
AI_DISCARD = "Discard"
AI_WORKING = "The assistant is writing…"
AI_QUEUED = "Waiting for the assistant…"
AI_STOPPED = "Stopped."
AI_CHIP_TIP = "Put this reply in the message box (it is not sent until you send it)"
AI_SETTINGS = "Assistant settings…"
AI_MENU = "Assistant"
AI_SETTINGS_TITLE = "Assistant (on this device)"
AI_SETTINGS_BODY = ("The assistant runs a language model on this computer: your messages "
                    "never leave it. Download the model once, or choose a .gguf file.")
AI_MODEL_FILE = "Model file"
AI_NO_MODEL = "No model yet"
AI_CHOOSE_FILE = "Choose a .gguf file…"
AI_GGUF_FILTER = "GGUF models (*.gguf);;All files (*)"
AI_MODEL_URL = "Download from"
AI_DOWNLOAD = "Download"
AI_CANCEL_DOWNLOAD = "Cancel download"
AI_RETRY = "Retry download"
AI_THREADS = "CPU threads"
AI_THREADS_ALL = "All cores"
AI_STATUS = {"unloaded": "Ready (loads when used)", "loading": "Loading the model…",
             "ready": "Loaded", "generating": "Writing…", "unsupported": "Device unsupported"}
AI_DOWNLOADED = "Downloaded and verified."
AI_MODEL_SHA256 = "SHA-256 checksum"
AI_SHA256_HINT = "64 hex digits, as published with the model"
AI_UNVERIFIED = ("No SHA-256 checksum: the downloaded file cannot be checked, and a "
                 "tampered or wrong file would be used as it is. Enter the checksum "
                 "published with the model, or click again to download it unverified.")
AI_DOWNLOAD_UNVERIFIED = "Download unverified"
AI_DOWNLOADED_UNVERIFIED = "Downloaded, NOT verified (no SHA-256 checksum)."
# --- shared files (ui/widgets/files.py) ------------------------------------------------
ATTACH = "📎"
ATTACH_TIP = "Send a file (or drop one here, or paste it)"
ATTACH_CHOOSE = "Choose a file to send"
FILE_SEND = "Send file"
FILE_SIZE = "{name} ({size})"
FILE_DOWNLOAD = "Download"
FILE_SAVE = "Save…"
FILE_SAVE_AS = "Save the file as"
FILE_CANCELED = "Canceled"
FILE_FAILED = "Failed: {reason}"
FILE_SAVED = "Saved to {path}"
FILE_PASTED = "pasted image.png"
FILE_LINE = "📎 {name} ({size})"

# --- receiving while locked (issue 11): a screen lock over the open account ------------
RECEIVE_WHILE_LOCKED = "Keep receiving while locked (notifications show the name only)"
RECEIVE_WHILE_LOCKED_INFO = (
    "When this is on, locking hides your chats but keeps this account open and "
    "connected: messages still arrive, and notifications show only who wrote and how "
    "many are unread, never the text. The price: while locked, the account's keys "
    "(the key of its message database among them) stay in this computer's memory, so "
    "someone who can read this computer's memory, or who steals it while it runs, could "
    "reach your messages. When it is off, locking closes the account and takes its keys "
    "out of memory, and nothing arrives until you unlock.")
SCREEN_LOCKED_TITLE = "SecureChat is locked"
SCREEN_LOCKED_INFO = ("{email} is still receiving. Enter your PIN (if you set one) or "
                      "the master password to unlock.")
SCREEN_LOCKED_UNREAD = "{count} unread"
SCREEN_UNLOCK = "Unlock"
SCREEN_PIN_OR_PASSWORD = "PIN or master password"
SCREEN_CLOSE_ACCOUNT = "Close the account (stop receiving)"
NOTIFY_LOCKED_BODY = "{count} unread (SecureChat is locked)"

# --- fields (issue 11): showing a password while typing it --------------------------------
SHOW_PASSWORD = "Show the password"
HIDE_PASSWORD = "Hide the password"

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


def install_system_translation(language: str | None = None) -> Any:
    """Load securechat_<locale>.qm for the system's languages (or `language`, chosen in
    the settings) from securechat/ui/i18n/, if there is one; returns the installed
    QTranslator or None."""
    from PyQt6.QtCore import QLocale, QTranslator

    translator = QTranslator()
    locale = QLocale(language) if language else QLocale.system()
    if not translator.load(locale, CONTEXT, "_", I18N_DIR):
        return None
    use_translator(translator)
    return translator
