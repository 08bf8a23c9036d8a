"""The SecureChat client core: its public face.

The desktop UI, the CLI and bots import from here and nowhere else in the package:

    from securechat.client import SecureChatClient, events, ClientError, MessageStatus

`SecureChatClient` (client.core) is one account on one device; the records and enums it
returns are in client.model, its events in client.events, every error a user may see
in client.errors. The rest of the package (storage, keys, Olm, the wire) is internal.
"""

from securechat.client import events, local_accounts

# --- the local AI assistant (per device: client.assistant) ---
from securechat.client.assistant import (
    Assistant,
    AssistantError,
    AssistantSettings,
    DeviceUnsupported,
    DownloadCancelled,
    DownloadFailed,
    Generation,
    GenerationCancelled,
    GenerationTimedOut,
    ModelMissing,
    NotEnoughDisk,
    QuickReply,
    UnverifiedModel,
)
from securechat.client.backup import MIN_PASSPHRASE as MIN_BACKUP_PASSPHRASE
from securechat.client.core import SecureChatClient
from securechat.client.devices import LinkedDevice
from securechat.client.errors import (
    AccountExists,
    AccountInUse,
    BackupDecryptionFailed,
    BackupError,
    BackupMissingEmail,
    BadCaFile,
    ClientError,
    CorruptBackup,
    CorruptBlob,
    CreatedNotSetUp,
    DatabaseFromNewerVersion,
    EmailCodeRejected,
    EmailCodeRequired,
    FileQuotaExceeded,
    FileReadError,
    FileRejected,
    FileTooLarge,
    FileUnavailable,
    IdentityKeyChangedError,
    InsecureRelayUrl,
    InvalidAvatar,
    InvalidCode,
    InvalidPin,
    InvalidRecoveryPhrase,
    LinkFailed,
    LoginParametersRefused,
    MailFailed,
    MfaLockedOut,
    MissingSecrets,
    NoSuchAccount,
    NotCaughtUp,
    PasswordTooShort,
    PinLocked,
    RecoveryPhraseNeeded,
    RelayNotProven,
    StorageFull,
    TransferCanceled,
    UnreadableDatabase,
    VaultCorrupted,
    VaultLocked,
    VaultPasswordNeeded,
    WeakVerifier,
    WrongPassword,
    WrongPin,
    WrongRecoveryPhrase,
)
from securechat.client.linking import Approval, LinkCode, NewDeviceLink
from securechat.client.local_accounts import (
    DEFAULT_RELAY_URL,
    default_data_dir,
    default_relay_url,
    is_set_up,
    known_accounts,
    remember,
)
from securechat.client.message_actions import MessageExtras
from securechat.client.model import (
    PIN_COST,
    SYSTEM_TYPES,
    Contact,
    ConversationSummary,
    DeviceNotice,
    KdfCost,
    Me,
    MediaItem,
    MediaStatus,
    MessageStatus,
    MessageType,
    MfaSetup,
    Request,
    RequestState,
    Sender,
    StoredMessage,
    VaultItem,
    VaultItemType,
)
from securechat.client.passwords import MIN_PASSWORD_LENGTH, check_new_password, generate_password
from securechat.client.profiles import MAX_NAME as MAX_PROFILE_NAME
from securechat.client.profiles import Profile
from securechat.client.registration import request_email_code
from securechat.client.relay_url import INSECURE_FLAG, check_relay_url
from securechat.client.search import SearchHit
from securechat.client.trust import MAX_ALIAS
from securechat.client.vault import RESET_CONFIRMATION as VAULT_RESET_CONFIRMATION
from securechat.client.wamp import JoinRefused
from securechat.protocol.frames import MAX_REACTION
from securechat.protocol.frames import MAX_TEXT as MAX_MESSAGE_LENGTH

__all__ = [
    "DEFAULT_RELAY_URL",
    "INSECURE_FLAG",
    "MAX_ALIAS",
    "MAX_MESSAGE_LENGTH",
    "MAX_PROFILE_NAME",
    "MAX_REACTION",
    "MIN_BACKUP_PASSPHRASE",
    "MIN_PASSWORD_LENGTH",
    "PIN_COST",
    "SYSTEM_TYPES",
    "VAULT_RESET_CONFIRMATION",
    "AccountExists",
    "AccountInUse",
    "Approval",
    "Assistant",
    "AssistantError",
    "AssistantSettings",
    "BackupDecryptionFailed",
    "BackupError",
    "BackupMissingEmail",
    "BadCaFile",
    "ClientError",
    "Contact",
    "ConversationSummary",
    "CorruptBackup",
    "CorruptBlob",
    "CreatedNotSetUp",
    "DatabaseFromNewerVersion",
    "DeviceNotice",
    "DeviceUnsupported",
    "DownloadCancelled",
    "DownloadFailed",
    "EmailCodeRejected",
    "EmailCodeRequired",
    "FileQuotaExceeded",
    "FileReadError",
    "FileRejected",
    "FileTooLarge",
    "FileUnavailable",
    "Generation",
    "GenerationCancelled",
    "GenerationTimedOut",
    "IdentityKeyChangedError",
    "InsecureRelayUrl",
    "InvalidAvatar",
    "InvalidCode",
    "InvalidPin",
    "InvalidRecoveryPhrase",
    "JoinRefused",
    "KdfCost",
    "LinkCode",
    "LinkFailed",
    "LinkedDevice",
    "LoginParametersRefused",
    "MailFailed",
    "Me",
    "MediaItem",
    "MediaStatus",
    "MessageExtras",
    "MessageStatus",
    "MessageType",
    "MfaLockedOut",
    "MfaSetup",
    "MissingSecrets",
    "ModelMissing",
    "NewDeviceLink",
    "NoSuchAccount",
    "NotCaughtUp",
    "NotEnoughDisk",
    "PasswordTooShort",
    "PinLocked",
    "Profile",
    "QuickReply",
    "RecoveryPhraseNeeded",
    "RelayNotProven",
    "Request",
    "RequestState",
    "SearchHit",
    "SecureChatClient",
    "Sender",
    "StorageFull",
    "StoredMessage",
    "TransferCanceled",
    "UnreadableDatabase",
    "UnverifiedModel",
    "VaultCorrupted",
    "VaultItem",
    "VaultItemType",
    "VaultLocked",
    "VaultPasswordNeeded",
    "WeakVerifier",
    "WrongPassword",
    "WrongPin",
    "WrongRecoveryPhrase",
    "check_new_password",
    "check_relay_url",
    "default_data_dir",
    "default_relay_url",
    "events",
    "generate_password",
    "is_set_up",
    "known_accounts",
    "local_accounts",
    "remember",
    "request_email_code",
]

# --- Calls (issue 15): `client.calls` and what it shows (client.calls.model).
from securechat.client.calls.call import Call
from securechat.client.calls.devices import MediaDevice, MediaDevices, find_media_devices
from securechat.client.calls.media import (
    MediaSources,
    PatternTrack,
    ToneTrack,
    open_devices,
)
from securechat.client.calls.model import (
    AlreadyInCall,
    CallError,
    CallLogged,
    CallOutcome,
    CallState,
    CallStateChanged,
    CallsUnavailable,
    IncomingCall,
    MediaDeviceError,
    RemoteTrack,
    TurnFailed,
)

__all__ += [
    "AlreadyInCall", "Call", "CallError", "CallLogged", "CallOutcome", "CallState",
    "CallStateChanged", "CallsUnavailable", "IncomingCall", "MediaDevice", "MediaDeviceError",
    "MediaDevices", "MediaSources", "PatternTrack", "RemoteTrack", "ToneTrack", "TurnFailed",
    "find_media_devices", "open_devices",
]
