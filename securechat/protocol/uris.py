"""Every procedure, topic, role and error URI of the relay, in one place.

`docs/protocol.md` documents each of them for bot authors; keep the two in step.
"""

from __future__ import annotations

REALM = "securechat"

# --- roles -------------------------------------------------------------------
ROLE_ANONYMOUS = "anonymous"  # may only register an account
ROLE_ACCOUNT = "account"  # SCRAM password login: enroll a device, fetch the recovery blob
ROLE_DEVICE = "device"  # cryptosign: everything a device does
# cryptosign of a device enrolled without a certificate, waiting for an existing
# device of its account to approve it: it may talk to its own account only.
ROLE_PENDING_DEVICE = "pending_device"

# --- procedures --------------------------------------------------------------
ACCOUNT_REGISTER = "sc.account.register"
ACCOUNT_VERIFY_EMAIL = "sc.account.verify_email"  # mails the code that register needs
ACCOUNT_RECOVERY = "sc.account.recovery"
ACCOUNT_PUBLIC = "sc.account.public"
ACCOUNT_RECOVERY_UPDATE = "sc.account.recovery.update"  # device: a phrase-sealed blob
ACCOUNT_RECOVERY_FETCH = "sc.account.recovery.fetch"  # anyone: the phrase-sealed blob
ACCOUNT_PASSWORD_CHANGE = "sc.account.password.change"  # noqa: S105 - SCRAM session: new verifier
ACCOUNT_PASSWORD_RESET = "sc.account.password.reset"  # noqa: S105 - signed by the account key
DEVICE_ENROLL = "sc.device.enroll"
DEVICE_REMOVE = "sc.device.remove"
DEVICE_LIST = "sc.device.list"
DEVICE_CERTIFY = "sc.device.certify"
PREKEYS_PUBLISH = "sc.prekeys.publish"
PREKEYS_CLAIM = "sc.prekeys.claim"
PREKEYS_COUNT = "sc.prekeys.count"
MESSAGE_SEND = "sc.message.send"
MESSAGE_SEND_LIVE = "sc.message.send_live"  # ephemeral: pushed to live sessions, never stored
MAILBOX_FETCH = "sc.mailbox.fetch"
MAILBOX_ACK = "sc.mailbox.ack"
PRESENCE_DECLARE = "sc.presence.declare"
PRESENCE_SESSIONS = "sc.presence.sessions"
TURN_CREDENTIALS = "sc.turn.credentials"
# Blob store (encrypted file sharing): ciphertext the relay cannot read, by chunk.
BLOB_CREATE = "sc.blob.create"
BLOB_PUT = "sc.blob.put"
BLOB_STATUS = "sc.blob.status"
BLOB_FINISH = "sc.blob.finish"
BLOB_GET = "sc.blob.get"
BLOB_DELETE = "sc.blob.delete"

# --- per-device topics (only that device may subscribe) ----------------------
INBOX_TOPIC_PREFIX = "sc.inbox."
PRESENCE_TOPIC_PREFIX = "sc.presence."
# A user's own namespace: its devices (and bots) may register, call, publish and
# subscribe here; nothing under it is visible to any other user.
USER_NAMESPACE_PREFIX = "sc.u."


def inbox_topic(device_id: str) -> str:
    return INBOX_TOPIC_PREFIX + device_id


def presence_topic(device_id: str) -> str:
    return PRESENCE_TOPIC_PREFIX + device_id


def user_namespace(user_id: str) -> str:
    return USER_NAMESPACE_PREFIX + user_id + "."


# --- presence event kinds ----------------------------------------------------
PEER_ONLINE = "PEER_ONLINE"
PEER_OFFLINE = "PEER_OFFLINE"
# On a device's own presence topic: few of its one-time keys are left on the relay.
PREKEYS_LOW = "PREKEYS_LOW"
# On one's own devices' presence topics: a device of the same user was enrolled or removed
# (a hint to fetch the device list again; the list itself is what a client verifies).
DEVICES_CHANGED = "DEVICES_CHANGED"

# --- errors ------------------------------------------------------------------
# Standard WAMP error URIs we use.
WAMP_PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
WAMP_NO_SUCH_REALM = "wamp.error.no_such_realm"
WAMP_NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
WAMP_NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription"
WAMP_NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
WAMP_PROCEDURE_ALREADY_EXISTS = "wamp.error.procedure_already_exists"
WAMP_NOT_AUTHORIZED = "wamp.error.not_authorized"
WAMP_NO_AUTH_METHOD = "wamp.error.no_auth_method"
WAMP_INVALID_ARGUMENT = "wamp.error.invalid_argument"
WAMP_CANCELED = "wamp.error.canceled"
WAMP_GOODBYE_AND_OUT = "wamp.close.goodbye_and_out"
WAMP_SYSTEM_SHUTDOWN = "wamp.close.system_shutdown"

# SecureChat-specific errors.
ERR_INVALID_ARGUMENT = "sc.error.invalid_argument"
ERR_ACCOUNT_EXISTS = "sc.error.account_exists"
ERR_NO_SUCH_ACCOUNT = "sc.error.no_such_account"
ERR_NO_SUCH_DEVICE = "sc.error.no_such_device"
ERR_WRONG_PASSWORD = "sc.error.wrong_password"  # noqa: S105 - a URI
ERR_WRONG_KEY = "sc.error.wrong_key"
ERR_DEVICE_EXISTS = "sc.error.device_exists"
ERR_TOO_MANY_DEVICES = "sc.error.too_many_devices"
ERR_BAD_SIGNATURE = "sc.error.bad_signature"
ERR_DEVICE_MISMATCH = "sc.error.device_mismatch"
ERR_DEVICE_PENDING = "sc.error.device_pending"  # not approved yet: own account only
ERR_PAYLOAD_TOO_LARGE = "sc.error.payload_too_large"
ERR_RATE_LIMITED = "sc.error.rate_limited"
ERR_MAILBOX_FULL = "sc.error.mailbox_full"
ERR_STORAGE_FULL = "sc.error.storage_full"  # the relay's disk budget for mailboxes is used up
ERR_TOO_MANY_PREKEYS = "sc.error.too_many_prekeys"
ERR_TURN_DISABLED = "sc.error.turn_disabled"
ERR_AUTH_TIMEOUT = "sc.error.auth_timeout"
ERR_RECOVERY_UNAVAILABLE = "sc.error.recovery_unavailable"  # no phrase-sealed blob yet
ERR_RESET_EXPIRED = "sc.error.reset_expired"  # a stale or replayed password reset
# Per-session caps (see RelayConfig): the request is refused, the session stays.
ERR_URI_TOO_LONG = "sc.error.uri_too_long"
ERR_TOO_MANY_CALLS = "sc.error.too_many_calls"  # this session's unanswered calls
ERR_CALLEE_BUSY = "sc.error.callee_busy"  # the callee's unanswered invocations
ERR_TOO_MANY_SUBSCRIPTIONS = "sc.error.too_many_subscriptions"
ERR_TOO_MANY_REGISTRATIONS = "sc.error.too_many_registrations"
ERR_INTERNAL = "sc.error.internal"
# Blob store.
ERR_NO_SUCH_BLOB = "sc.error.no_such_blob"  # unknown, expired, or not readable by this device
ERR_FILE_TOO_LARGE = "sc.error.file_too_large"  # over the relay's maximum file size
ERR_BLOB_QUOTA = "sc.error.blob_quota"  # the account's blob quota is used up
ERR_BLOB_INCOMPLETE = "sc.error.blob_incomplete"  # chunks missing (finish), or not finished
# Relay clusters: the shared database cannot be reached now; nothing was stored, try again.
ERR_UNAVAILABLE = "sc.error.unavailable"
# Email verification (registration proves the email with a mailed code).
ERR_EMAIL_CODE_REQUIRED = "sc.error.email_code_required"
ERR_EMAIL_CODE_WRONG = "sc.error.email_code_wrong"
ERR_EMAIL_CODE_EXPIRED = "sc.error.email_code_expired"  # expired, used, or too many tries
ERR_MAIL_FAILED = "sc.error.mail_failed"
ERR_WEAK_VERIFIER = "sc.error.weak_verifier"  # SCRAM costs below the relay's floor
# Client-side: the connection failed before (or while) joining.
ERR_CONNECTION_FAILED = "sc.error.connection_failed"
ERR_CONNECTION_LOST = "sc.error.connection_lost"
ERR_UNTRUSTED_CERTIFICATE = "sc.error.untrusted_certificate"  # wss:// relay not verified

# Why the relay ended an established session (GOODBYE reasons).
CLOSE_REPLACED = "sc.close.replaced"  # the same device connected again
CLOSE_DEVICE_REMOVED = "sc.close.device_removed"  # the device was removed from its account
CLOSE_REGISTERED = "sc.close.registered"  # an anonymous session's registration is done
CLOSE_IDLE = "sc.close.idle"  # an anonymous session sent nothing for a while
CLOSE_SLOW_CONSUMER = "sc.close.slow_consumer"  # it left too much unread (dropped, no GOODBYE)
