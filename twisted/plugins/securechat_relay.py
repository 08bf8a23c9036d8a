"""Registers `twistd securechat-relay` (see securechat.relay.tap)."""

from twisted.application.service import ServiceMaker

securechat_relay = ServiceMaker(
    "SecureChat relay",
    "securechat.relay.tap",
    "WAMP relay for SecureChat: ciphertext, presence and mailboxes only.",
    "securechat-relay",
)
