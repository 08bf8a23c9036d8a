"""Who may do what: every call, publish, subscribe and register is checked here.

The rules are a table by role; per-device topics and the per-user namespace
add an owner check. Anything not allowed below is refused.
"""

from __future__ import annotations

import enum

import attrs

from securechat.protocol import uris


class Action(enum.Enum):
    CALL = "call"
    REGISTER = "register"
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


@attrs.frozen
class Principal:
    """An authenticated session's identity, as the router sees it."""

    role: str
    authid: str
    user_id: str | None = None  # account and device roles
    device_id: str | None = None  # device role


ANONYMOUS_PROCEDURES = frozenset({
    uris.ACCOUNT_REGISTER, uris.ACCOUNT_VERIFY_EMAIL, uris.ACCOUNT_RECOVERY_FETCH,
    uris.ACCOUNT_PASSWORD_RESET,
})
ACCOUNT_PROCEDURES = frozenset(
    {uris.ACCOUNT_RECOVERY, uris.DEVICE_ENROLL, uris.DEVICE_REMOVE, uris.DEVICE_LIST,
     uris.ACCOUNT_PASSWORD_CHANGE}
)
DEVICE_PROCEDURES = frozenset(
    {
        uris.ACCOUNT_RECOVERY,
        uris.ACCOUNT_RECOVERY_UPDATE,
        uris.ACCOUNT_PUBLIC,
        uris.DEVICE_LIST,
        uris.DEVICE_REMOVE,  # itself only; removing another device needs the password (L6)
        uris.PREKEYS_PUBLISH,
        uris.PREKEYS_CLAIM,
        uris.PREKEYS_COUNT,
        uris.MESSAGE_SEND,
        uris.MESSAGE_SEND_LIVE,
        uris.MAILBOX_FETCH,
        uris.MAILBOX_ACK,
        uris.PRESENCE_DECLARE,
        uris.PRESENCE_SESSIONS,
        uris.TURN_CREDENTIALS,
        uris.DEVICE_CERTIFY,
        # Blob store (relay.blobs): each checks owner or reader itself.
        uris.BLOB_CREATE, uris.BLOB_PUT, uris.BLOB_STATUS, uris.BLOB_FINISH, uris.BLOB_GET,
        uris.BLOB_DELETE,
    }
)
# A device waiting for approval: enough to reach its own account's devices (the
# handlers refuse anything aimed at another user, or at another device's record).
PENDING_DEVICE_PROCEDURES = frozenset(
    {
        uris.ACCOUNT_PUBLIC,
        uris.DEVICE_LIST,
        uris.DEVICE_REMOVE,
        uris.PREKEYS_PUBLISH,
        uris.PREKEYS_COUNT,
        uris.MESSAGE_SEND,
        uris.MAILBOX_FETCH,
        uris.MAILBOX_ACK,
    }
)
_PROCEDURES_BY_ROLE = {
    uris.ROLE_ANONYMOUS: ANONYMOUS_PROCEDURES,
    uris.ROLE_ACCOUNT: ACCOUNT_PROCEDURES,
    uris.ROLE_DEVICE: DEVICE_PROCEDURES,
    uris.ROLE_PENDING_DEVICE: PENDING_DEVICE_PROCEDURES,
}


def _in_own_namespace(principal: Principal, uri: str) -> bool:
    return (
        principal.user_id is not None
        and uri.startswith(uris.user_namespace(principal.user_id))
        and len(uri) > len(uris.user_namespace(principal.user_id))
    )


def is_authorized(principal: Principal, action: Action, uri: str) -> bool:
    """True if this principal may perform this action on this URI."""
    if action is Action.CALL and uri in _PROCEDURES_BY_ROLE.get(principal.role, ()):
        return True
    if principal.role not in (uris.ROLE_DEVICE, uris.ROLE_PENDING_DEVICE) or (
            principal.device_id is None):
        return False
    if action is Action.SUBSCRIBE and uri in (
        uris.inbox_topic(principal.device_id),
        uris.presence_topic(principal.device_id),
    ):
        return True
    # A user's own namespace: RPC and pub/sub between that user's own devices
    # and bots. Nothing there ever reaches another user in plaintext, nor a device
    # the account has not approved yet.
    return principal.role == uris.ROLE_DEVICE and _in_own_namespace(principal, uri)
