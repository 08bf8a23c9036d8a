"""Device linking: a new device gets the account identity key only by approval on an
existing device of the account, after the user compared a short code on both screens.

The new device signs in with the password (which enrolls it *pending*: the relay
lets it talk to its own account only), then runs a short authentication string
(SAS) exchange with the account's approved devices, as Matrix's
`m.key.verification` does, over plaintext envelopes with `alg` "sas.v1" (the SAS
protocol is safe over a hostile transport):

    new device (requester)                       existing device (approver)
    request  ---------------------------------->  (DeviceApprovalRequested; the user opens it)
             <----------------------------------  accept: commitment = SHA-256(approver key | txn)
    key (requester's SAS public key) ---------->
             <----------------------------------  key (approver's SAS public key)
    check the commitment                          both screens: 7 emoji / 3 x 4 digits
    user confirms: mac ------------------------>  user confirms: mac
             <----------------------------------  MACs (under the SAS) over each side's
                                                  device id, Ed25519 and Curve25519 keys,
                                                  checked against the keys the relay lists
                                                  approver signs the new device's certificate,
                                                  sc.device.certify, then
             <----------------------------------  secret: the account identity seed in an
                                                  Olm pre-key message to the MAC-verified
                                                  Curve25519 key of the new device
    check: the seed's public key is the account key, the approver's certificate verifies
    under it; save secrets: a normal device from now on.

The approver commits to its SAS key before it sees the requester's, and the
requester reveals its key before it sees the approver's: a relay in the middle
cannot grind keys until the codes collide. A code the user says differs, a MAC
that does not verify, a cancel or a timeout ends it: the approver removes the
new device from the relay and nothing is trusted.

Each side is an Automat state machine (transition tables at the bottom of each
class); the checks run before an input is given, so a transition happens only
for a message that passed them.

    requester: requested --accepted--> keyed --their_key--> comparing
               comparing --confirm--> confirmed --mac_ok--> awaiting_secret
               comparing --mac_ok--> mac_verified --confirm--> awaiting_secret
               awaiting_secret --secret--> done          (abort, cancelled: from anywhere)
    approver:  requested --approve--> committed --their_key--> comparing
               comparing --confirm--> confirmed --mac_ok--> sharing
               comparing --mac_ok--> mac_verified --confirm--> sharing
               sharing --shared--> done                  (abort, cancelled: from anywhere)

The package: `frames` (the wire: frames, reasons, the secret's Olm message), `sas`
(the code and the MACs), `outcome` (what both sides share to report), `approvals`
(the existing device's side) and `new_device` (the new device's side).
"""

from __future__ import annotations

from securechat.client.errors import LinkFailed
from securechat.client.linking.approvals import Approval, DeviceApprovals
from securechat.client.linking.frames import (
    ALG,
    BAD_COMMITMENT,
    BAD_MAC,
    BAD_SECRET,
    CANCELLED,
    FAILED,
    LINK_TIMEOUT,
    MISMATCH,
    PROTOCOL,
    REASONS,
    TIMEOUT,
    BadFrame,
    encode_frame,
    envelope_for,
    failure_for,
    parse_frame,
)
from securechat.client.linking.new_device import NewDeviceLink
from securechat.client.linking.sas import DeviceKeys, LinkCode, Sas

__all__ = [
    "ALG", "BAD_COMMITMENT", "BAD_MAC", "BAD_SECRET", "CANCELLED", "FAILED", "LINK_TIMEOUT",
    "MISMATCH", "PROTOCOL", "REASONS", "TIMEOUT", "Approval", "BadFrame", "DeviceApprovals",
    "DeviceKeys", "LinkCode", "LinkFailed", "NewDeviceLink", "Sas", "encode_frame",
    "envelope_for", "failure_for", "parse_frame",
]
