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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import attrs
import vodozemac
from autobahn.wamp.exception import ApplicationError, TransportLost
from automat import MethodicalMachine, NoTransition
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.client import events as ev
from securechat.client import prekeys
from securechat.client.errors import ClientError, LinkFailed
from securechat.client.keys import AccountSecrets
from securechat.client.olm import OlmMachine
from securechat.client.wamp import DeviceKey, RelaySession, connect
from securechat.protocol import uris
from securechat.protocol.keys import device_certificate

ALG = "sas.v1"
VERSION = 1
LINK_TIMEOUT = 5 * 60.0  # seconds a started approval may take, on either side
REQUEST_MAX_AGE = 10 * 60.0  # an older request is not shown
MAX_OPEN_REQUESTS = 4  # per existing device: more are ignored (a pending device spamming)
PREKEYS_FOR_LINKING = 5
SECRET_TYPE = "securechat.link.secret"  # noqa: S105 - a type name

# Reasons a link ends without trust (sent in `cancel`, shown to the user).
MISMATCH = "mismatch"  # the user said the codes differ
BAD_MAC = "bad_mac"  # the keys the relay lists are not the keys the other device has
BAD_COMMITMENT = "bad_commitment"
BAD_SECRET = "bad_secret"  # noqa: S105 - a reason
TIMEOUT = "timeout"
CANCELLED = "cancelled"  # by a user
PROTOCOL = "protocol"  # an unexpected or malformed message
FAILED = "failed"  # the relay refused a step
REASONS = frozenset({MISMATCH, BAD_MAC, BAD_COMMITMENT, BAD_SECRET, TIMEOUT, CANCELLED,
                     PROTOCOL, FAILED})

# Matrix's SAS emoji table (spec: m.key.verification, "sas-method-emoji"), index -> emoji, name.
EMOJI = (
    ("🐶", "Dog"), ("🐱", "Cat"), ("🦁", "Lion"), ("🐎", "Horse"), ("🦄", "Unicorn"),
    ("🐷", "Pig"), ("🐘", "Elephant"), ("🐰", "Rabbit"), ("🐼", "Panda"), ("🐓", "Rooster"),
    ("🐧", "Penguin"), ("🐢", "Turtle"), ("🐟", "Fish"), ("🐙", "Octopus"),
    ("🦋", "Butterfly"), ("🌷", "Flower"), ("🌳", "Tree"), ("🌵", "Cactus"),
    ("🍄", "Mushroom"), ("🌏", "Globe"), ("🌙", "Moon"), ("☁️", "Cloud"), ("🔥", "Fire"),
    ("🍌", "Banana"), ("🍎", "Apple"), ("🍓", "Strawberry"), ("🌽", "Corn"), ("🍕", "Pizza"),
    ("🎂", "Cake"), ("❤️", "Heart"), ("😀", "Smiley"), ("🤖", "Robot"), ("🎩", "Hat"),
    ("👓", "Glasses"), ("🔧", "Spanner"), ("🎅", "Santa"), ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"), ("⌛", "Hourglass"), ("⏰", "Clock"), ("🎁", "Gift"),
    ("💡", "Light Bulb"), ("📕", "Book"), ("✏️", "Pencil"), ("📎", "Paperclip"),
    ("✂️", "Scissors"), ("🔒", "Lock"), ("🔑", "Key"), ("🔨", "Hammer"), ("☎️", "Telephone"),
    ("🏁", "Flag"), ("🚂", "Train"), ("🚲", "Bicycle"), ("✈️", "Aeroplane"), ("🚀", "Rocket"),
    ("🏆", "Trophy"), ("⚽", "Ball"), ("🎸", "Guitar"), ("🎺", "Trumpet"), ("🔔", "Bell"),
    ("⚓", "Anchor"), ("🎧", "Headphones"), ("📁", "Folder"), ("📌", "Pin"),
)



_MESSAGES = {
    MISMATCH: "the codes did not match: the new device was not added",
    BAD_MAC: "the other device's keys are not the ones the relay lists: nothing was trusted",
    BAD_COMMITMENT: "the other device changed its key mid-way: nothing was trusted",
    BAD_SECRET: "the account key that arrived does not belong to this account",
    TIMEOUT: "the approval took too long: start again",
    CANCELLED: "the approval was cancelled",
    PROTOCOL: "the other device sent something unexpected: nothing was trusted",
    FAILED: "the relay refused a step of the approval: nothing was trusted",
}


def failure_for(reason: str) -> LinkFailed:
    return LinkFailed(reason, _MESSAGES.get(reason, _MESSAGES[PROTOCOL]))


@attrs.frozen
class LinkCode:
    """What both screens show: compare either the emoji or the numbers."""

    emoji: tuple[tuple[str, str], ...]  # 7 x (emoji, English name)
    decimals: tuple[int, int, int]  # each 1000..9191

    @property
    def emoji_text(self) -> str:
        return "  ".join(f"{e} {name}" for e, name in self.emoji)

    @property
    def decimal_text(self) -> str:
        return " ".join(f"{d:04d}" for d in self.decimals)


@attrs.frozen
class DeviceKeys:
    """A device's keys as the relay lists them (and as the MAC must confirm them)."""

    user_id: str
    device_id: str
    signing_key: str  # Ed25519, hex
    identity_key: str  # Curve25519, base64
    signature: str | None = None

    @classmethod
    def from_listing(cls, entry: dict[str, Any]) -> DeviceKeys:
        return cls(str(entry["user_id"]), str(entry["device_id"]), str(entry["signing_key"]),
                   str(entry["identity_key"]), entry.get("signature") or None)

    def mac_input(self) -> str:
        return json.dumps({"device_id": self.device_id, "identity_key": self.identity_key,
                           "signing_key": self.signing_key, "user_id": self.user_id},
                          sort_keys=True, separators=(",", ":"))

    def certified_by(self, account_key: bytes) -> bool:
        if not self.signature:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(account_key).verify(
                _unb64(self.signature), device_certificate(
                    self.user_id, self.device_id, self.signing_key, self.identity_key))
        except (InvalidSignature, ValueError):
            return False
        return True


# --- frames --------------------------------------------------------------------------

_TXN = re.compile(r"[0-9a-f]{32}")
_B64 = re.compile(r"[A-Za-z0-9+/]{1,8192}={0,2}")
_FIELDS: dict[str, dict[str, type]] = {
    "request": {},
    "accept": {"commitment": str},
    "key": {"key": str},
    "mac": {"mac": str},
    "secret": {"olm_type": int, "olm_body": str},
    "cancel": {"reason": str},
}


class BadFrame(Exception):
    pass


def encode_frame(kind: str, txn: str, **fields: Any) -> bytes:
    return json.dumps({"t": kind, "txn": txn, **fields}, sort_keys=True,
                      separators=(",", ":")).encode("ascii")


def parse_frame(body: Any) -> dict[str, Any]:
    if isinstance(body, str):
        body = body.encode("ascii", "replace")
    if not isinstance(body, bytes) or len(body) > 16384:
        raise BadFrame("not a linking frame")
    try:
        frame = json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BadFrame("not JSON") from None
    if type(frame) is not dict or frame.get("t") not in _FIELDS:
        raise BadFrame("unknown linking frame")
    if type(frame.get("txn")) is not str or not _TXN.fullmatch(frame["txn"]):
        raise BadFrame("bad transaction id")
    for name, kind in _FIELDS[frame["t"]].items():
        value = frame.get(name)
        if type(value) is not kind:
            raise BadFrame(f"{frame['t']}.{name} is missing or has the wrong type")
        if kind is str and name != "reason" and not _B64.fullmatch(value):
            raise BadFrame(f"{frame['t']}.{name} is not base64")
    return frame


def envelope_for(device_id: str, frame: bytes) -> dict[str, Any]:
    return {"device_id": device_id, "v": VERSION, "alg": ALG, "type": 0, "body": frame}


# --- the SAS itself ------------------------------------------------------------------


class Sas:
    """One side's SAS: its key pair, the commitment, the code and the MACs."""

    def __init__(self, user_id: str, requester: str, approver: str, txn: str) -> None:
        self._sas = vodozemac.Sas()
        self.public_key = str(self._sas.public_key.to_base64())
        self._user_id, self._requester, self._approver, self._txn = (
            user_id, requester, approver, txn)
        self._established: Any = None

    @staticmethod
    def commitment(public_key: str, txn: str) -> str:
        return _b64(hashlib.sha256(f"{public_key}|{txn}".encode("ascii")).digest())

    def establish(self, requester_key: str, approver_key: str) -> LinkCode:
        their = approver_key if requester_key == self.public_key else requester_key
        self._established = self._sas.diffie_hellman(
            vodozemac.Curve25519PublicKey.from_base64(their))
        sas_bytes = self._established.bytes(
            f"SECURECHAT_LINK_SAS|{self._user_id}|{self._requester}|{requester_key}|"
            f"{self._approver}|{approver_key}|{self._txn}")
        return LinkCode(tuple(EMOJI[i] for i in sas_bytes.emoji_indices),
                        tuple(sas_bytes.decimals))

    def _info(self, sender: str, receiver: str) -> str:
        return f"SECURECHAT_LINK_MAC|{self._user_id}|{sender}|{receiver}|{self._txn}"

    def mac(self, mine: DeviceKeys, receiver: str) -> str:
        return str(self._established.calculate_mac(mine.mac_input(),
                                                   self._info(mine.device_id, receiver)))

    def verify(self, mac: str, theirs: DeviceKeys, receiver: str) -> bool:
        if self._established is None:  # a MAC before the key exchange: out of order
            return False
        try:
            self._established.verify_mac(theirs.mac_input(),
                                         self._info(theirs.device_id, receiver), mac)
        except vodozemac.SasException:
            return False
        return True


# --- the one Olm message: the seed, to the verified Curve25519 key --------------------
# Kept to one outbound and one inbound session made and dropped here, so it does not
# touch the client's session bookkeeping (only the Olm account's keys).


def seal_secret(olm: OlmMachine, their_identity_key: str, one_time_key: str,
                plaintext: bytes) -> tuple[int, bytes]:
    session = olm.account.create_outbound_session(
        vodozemac.Curve25519PublicKey.from_base64(their_identity_key),
        vodozemac.Curve25519PublicKey.from_base64(one_time_key))
    kind, body = session.encrypt(plaintext).to_parts()
    return int(kind), bytes(body)


def open_secret(olm: OlmMachine, their_identity_key: str, kind: int, body: bytes) -> bytes:
    """Decrypts only a pre-key message from exactly `their_identity_key`."""
    if kind != 0:
        raise BadFrame("the secret is not an Olm pre-key message")
    try:
        message = vodozemac.AnyOlmMessage.from_parts(kind, body).to_pre_key()
        _, plaintext = olm.account.create_inbound_session(
            vodozemac.Curve25519PublicKey.from_base64(their_identity_key), message)
    except Exception as e:
        raise BadFrame(f"the secret does not decrypt ({type(e).__name__})") from None
    return bytes(plaintext)


class _Once:
    """A result that comes once; every `when()` gets it (a failure included) without
    a Deferred left unconsumed (no "unhandled error" for a result nobody asked for)."""

    def __init__(self) -> None:
        self.fired = False
        self._result: Any = None
        self._waiting: list[defer.Deferred[Any]] = []

    def fire(self, result: Any) -> None:
        if self.fired:
            return
        self.fired, self._result = True, result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(result) if isinstance(result, Failure) else d.callback(result)

    def when(self) -> defer.Deferred[Any]:
        if not self.fired:
            d: defer.Deferred[Any] = defer.Deferred()
            self._waiting.append(d)
            return d
        if isinstance(self._result, Failure):
            return defer.fail(self._result)
        return defer.succeed(self._result)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def _logged(log: Logger, what: str) -> Callable[[Failure], None]:
    def errback(failure: Failure) -> None:
        if failure.check(ApplicationError, TransportLost, LinkFailed):
            log.info("{what} failed: {error}", what=what, error=type(failure.value).__name__)
        else:
            log.failure(what, failure)
    return errback


# === the existing device's side ===========================================================


class Approval:
    """One request of a pending device of my account, as this (approved) device sees it.

    `approve()` starts the SAS; `wait_code()` fires with the LinkCode; then `confirm()`
    (the codes match) or `reject()` (they differ). `wait_done()` fires with True once the
    new device is certified and has the account key, or fails with LinkFailed (the new
    device was then removed from the relay)."""

    _machine = MethodicalMachine()
    log = Logger()

    def __init__(self, owner: DeviceApprovals, device: DeviceKeys, txn: str) -> None:
        self._owner = owner
        self.device = device  # the new device, as the relay lists it
        self.txn = txn
        self._code = _Once()
        self._done = _Once()
        self._sas = Sas(owner.me.user_id, device.device_id, owner.me.device_id, txn)
        self._their_key = ""
        self._reason = ""
        self._told: defer.Deferred[Any] = defer.succeed(None)
        self._timer = owner.reactor.callLater(LINK_TIMEOUT, self._timed_out)
        self.finished = False

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def wait_code(self) -> defer.Deferred[LinkCode]:
        return self._code.when()

    def wait_done(self) -> defer.Deferred[bool]:
        return self._done.when()

    # --- what the user and the dispatcher call ---------------------------------------

    def reject(self) -> None:
        """The codes differ (or the user does not want this device): remove it."""
        self._fail(MISMATCH)

    def cancel(self) -> None:
        self._fail(CANCELLED)

    def _fail(self, reason: str) -> None:
        self._reason = reason
        self.abort()

    def _timed_out(self) -> None:
        self._fail(TIMEOUT)

    def received(self, frame: dict[str, Any]) -> None:
        kind = frame["t"]
        try:
            if kind == "cancel":
                self._reason = frame["reason"] if frame["reason"] in REASONS else CANCELLED
                self.cancelled()
            elif kind == "key":
                self._their_key = frame["key"]
                self.their_key()
            elif kind == "mac":
                if self._sas.verify(frame["mac"], self.device, self._owner.me.device_id):
                    self.mac_ok()
                else:
                    self._fail(BAD_MAC)
            else:
                self._fail(PROTOCOL)
        except NoTransition:
            self._fail(PROTOCOL)

    # --- states ----------------------------------------------------------------------
    @_machine.state(initial=True)
    def requested(self) -> None:
        "shown to the user; nothing sent yet"

    @_machine.state()
    def committed(self) -> None:
        "accept (with the commitment) sent; waiting for the new device's key"

    @_machine.state()
    def comparing(self) -> None:
        "the code is on screen"

    @_machine.state()
    def confirmed(self) -> None:
        "the user confirmed here; waiting for the new device's MAC"

    @_machine.state()
    def mac_verified(self) -> None:
        "the new device's MAC verified; waiting for the user"

    @_machine.state()
    def sharing(self) -> None:
        "certifying the new device and sending it the account key"

    @_machine.state()
    def done_(self) -> None:
        "approved"

    @_machine.state()
    def cancelled_(self) -> None:
        "ended without trust"

    # --- inputs ----------------------------------------------------------------------
    @_machine.input()
    def approve(self) -> None:
        "the user opened the request"

    @_machine.input()
    def their_key(self) -> None:
        "the new device's SAS key arrived"

    @_machine.input()
    def confirm(self) -> None:
        "the user says the codes match"

    @_machine.input()
    def mac_ok(self) -> None:
        "the new device's MAC over its keys verified"

    @_machine.input()
    def shared(self) -> None:
        "certified and the secret sent"

    @_machine.input()
    def abort(self) -> None:
        "end it here (self._reason says why) and tell the new device"

    @_machine.input()
    def cancelled(self) -> None:
        "the new device ended it"

    # --- outputs ---------------------------------------------------------------------
    @_machine.output()
    def _send_accept(self) -> None:
        self._send("accept", commitment=Sas.commitment(self._sas.public_key, self.txn))

    @_machine.output()
    def _send_key_and_show_code(self) -> None:
        self._send("key", key=self._sas.public_key)
        try:
            code = self._sas.establish(self._their_key, self._sas.public_key)
        except Exception:
            self._owner.reactor.callLater(0, self._fail, PROTOCOL)
            return
        self._owner.emit(ev.ApprovalCode(self.device_id, code))
        self._code.fire(code)

    @_machine.output()
    def _send_mac(self) -> None:
        self._send("mac", mac=self._sas.mac(self._owner.my_keys(), self.device_id))

    @_machine.output()
    def _share(self) -> None:
        d = self._owner.share(self)
        d.addCallbacks(lambda _: self.shared(), self._share_failed)

    def _share_failed(self, failure: Failure) -> None:
        _logged(self.log, "sharing the account key")(failure)
        self._fail(FAILED)

    @_machine.output()
    def _finish(self) -> None:
        self._stop_timer()
        self.finished = True
        self._owner.finished(self, True, "")
        self._done.fire(True)

    @_machine.output()
    def _tell_them(self) -> None:
        self._told = self._send("cancel", reason=self._reason)

    @_machine.output()
    def _remove(self) -> None:
        self._stop_timer()
        self.finished = True
        # After the cancel is out: the new device learns why before it is disconnected.
        self._told.addBoth(lambda _: self._owner.remove(self))
        self._owner.finished(self, False, self._reason)
        self._code.fire(Failure(failure_for(self._reason)))
        self._done.fire(Failure(failure_for(self._reason)))

    def _stop_timer(self) -> None:
        if self._timer.active():
            self._timer.cancel()

    def _send(self, kind: str, **fields: Any) -> defer.Deferred[Any]:
        return self._owner.send(self.device_id, encode_frame(kind, self.txn, **fields)
                                ).addErrback(_logged(self.log, f"sending {kind}"))

    requested.upon(approve, enter=committed, outputs=[_send_accept])
    committed.upon(their_key, enter=comparing, outputs=[_send_key_and_show_code])
    comparing.upon(confirm, enter=confirmed, outputs=[_send_mac])
    comparing.upon(mac_ok, enter=mac_verified, outputs=[])
    confirmed.upon(mac_ok, enter=sharing, outputs=[_share])
    mac_verified.upon(confirm, enter=sharing, outputs=[_send_mac, _share])
    sharing.upon(shared, enter=done_, outputs=[_finish])
    for _state in (requested, committed, comparing, confirmed, mac_verified, sharing):
        _state.upon(abort, enter=cancelled_, outputs=[_tell_them, _remove])
        _state.upon(cancelled, enter=cancelled_, outputs=[_remove])
    for _state in (done_, cancelled_):  # over: late inputs change nothing
        for _input in (approve, their_key, confirm, mac_ok, shared, abort, cancelled):
            _state.upon(_input, enter=_state, outputs=[])
    del _state, _input


class DeviceApprovals:
    """Every approval request on one existing device (owned by SecureChatClient)."""

    log = Logger()

    def __init__(self, reactor: Any, me: Any, session: Callable[[], RelaySession | None],
                 secrets: Callable[[], AccountSecrets | None], olm: OlmMachine,
                 my_signing_key: str, my_identity_key: Callable[[], str],
                 emit: Callable[[object], None], devices_changed: Callable[[], Any]) -> None:
        self.reactor = reactor
        self.me = me
        self._session = session
        self._secrets = secrets
        self._olm = olm
        self._my_identity_key = my_identity_key
        self.emit = emit
        self._devices_changed = devices_changed
        self._my_signing_key = my_signing_key
        self.requests: dict[str, Approval] = {}  # device id -> its newest open request

    def my_keys(self) -> DeviceKeys:
        return DeviceKeys(self.me.user_id, self.me.device_id, self._my_signing_key,
                          self._my_identity_key())

    def stop(self) -> None:
        for approval in list(self.requests.values()):
            if approval._timer.active():
                approval._timer.cancel()
        self.requests.clear()

    # --- envelopes ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def received(self, envelope: dict[str, Any]) -> Any:
        """A sas.v1 envelope: only a pending device of my own account may send one."""
        sender, device_id = envelope.get("from_user"), envelope.get("from_device")
        if sender != self.me.user_id or device_id == self.me.device_id:
            self.log.warn("ignoring a device-linking message from another account")
            return
        try:
            frame = parse_frame(envelope.get("body"))
        except BadFrame as e:
            self.log.warn("ignoring a malformed device-linking message: {why}", why=str(e))
            return
        approval = self.requests.get(str(device_id))
        if frame["t"] == "request":
            try:
                yield self._requested(str(device_id), frame["txn"], envelope.get("ts"))
            except (ApplicationError, TransportLost, KeyError) as e:
                self.log.info("could not check a device-linking request: {e}",
                              e=type(e).__name__)
        elif approval is not None and hmac.compare_digest(approval.txn, frame["txn"]):
            approval.received(frame)
        else:
            self.log.info("ignoring a device-linking message for no open request")

    @defer.inlineCallbacks
    def _requested(self, device_id: str, txn: str, ts: Any) -> Any:
        if type(ts) is not int or abs(time.time() * 1000 - ts) > REQUEST_MAX_AGE * 1000:
            self.log.info("ignoring a stale device-linking request")
            return
        open_requests = [a for a in self.requests.values() if not a.finished]
        if device_id not in self.requests and len(open_requests) >= MAX_OPEN_REQUESTS:
            self.log.warn("ignoring a device-linking request: too many open")
            return
        session = self._session()
        if session is None:
            return
        listed = yield session.call(uris.DEVICE_LIST, self.me.user_id)
        entry = next((d for d in listed if d.get("device_id") == device_id), None)
        if entry is None or not entry.get("pending") or entry.get("user_id") != self.me.user_id:
            self.log.warn("ignoring a device-linking request from a device that is not a "
                          "pending device of this account")
            return
        previous = self.requests.get(device_id)
        if previous is not None and not previous.finished:
            if hmac.compare_digest(previous.txn, txn):
                return  # the same request again
            previous._stop_timer()
        self.requests[device_id] = Approval(self, DeviceKeys.from_listing(entry), txn)
        self.emit(ev.DeviceApprovalRequested(device_id, int(ts)))

    def approve(self, device_id: str) -> Approval:
        approval = self.requests.get(device_id)
        if approval is None or approval.finished:
            raise ClientError("no device of this account is waiting for approval with this id")
        if self._secrets() is None:
            raise ClientError("open the account with the master password (not the PIN) "
                              "to approve a new device")
        try:
            approval.approve()
        except NoTransition:
            raise ClientError("this device is being approved already") from None
        return approval

    # --- what an Approval asks of us ------------------------------------------------------

    def send(self, device_id: str, frame: bytes) -> defer.Deferred[Any]:
        session = self._session()
        if session is None:
            return defer.fail(TransportLost())
        return session.call(uris.MESSAGE_SEND, self.me.user_id,
                            [envelope_for(device_id, frame)])

    @defer.inlineCallbacks
    def share(self, approval: Approval) -> Any:
        """Certify the verified new device and send it the account key over Olm."""
        secrets = self._secrets()
        session = self._session()
        if secrets is None or session is None:
            raise LinkFailed(FAILED, "offline, or opened without the master password")
        new = approval.device
        signature = secrets.identity.sign(device_certificate(
            self.me.user_id, new.device_id, new.signing_key, new.identity_key))
        yield session.call(uris.DEVICE_CERTIFY, new.device_id, _b64(signature))
        bundles = yield session.call(uris.PREKEYS_CLAIM, self.me.user_id, [new.device_id])
        bundle = next((b for b in bundles if b.get("device_id") == new.device_id), None)
        one_time = (bundle or {}).get("one_time_key") or {}
        if (bundle is None or bundle.get("identity_key") != new.identity_key or not one_time
                or not prekeys.verifies(new.signing_key, self.me.user_id, new.device_id,
                                        one_time)):
            raise LinkFailed(FAILED, "the new device has no key to start a session with")
        payload = json.dumps({
            "type": SECRET_TYPE, "txn": approval.txn, "user_id": self.me.user_id,
            "sender_device": self.me.device_id, "sender_key": self._my_identity_key(),
            "recipient_device": new.device_id, "recipient_key": new.identity_key,
            "identity_seed": secrets.identity_seed.hex(), "mnemonic": secrets.mnemonic,
        }).encode("utf-8")
        kind, body = seal_secret(self._olm, new.identity_key, str(one_time.get("key")), payload)
        yield self.send(new.device_id, encode_frame("secret", approval.txn, olm_type=kind,
                                                    olm_body=_b64(body)))
        yield defer.maybeDeferred(self._devices_changed).addErrback(
            _logged(self.log, "refreshing my devices"))

    def remove(self, approval: Approval) -> None:
        session = self._session()
        if session is None:
            return  # it expires on the relay by itself
        session.call(uris.DEVICE_REMOVE, approval.device_id).addErrback(
            _logged(self.log, "removing the refused device"))

    def finished(self, approval: Approval, approved: bool, reason: str) -> None:
        self.emit(ev.DeviceApprovalFinished(approval.device_id, approved, reason))


# === the new device's side ================================================================


class NewDeviceLink:
    """The new device: enrolled pending, asks the account's devices for approval.

    After `start()`: `wait_code()` fires with the LinkCode to compare; the user calls
    `confirm()` or `cancel()`; `wait_result()` fires with what `finish(secrets)` returns
    (the client), or fails with LinkFailed (the device is then removed from the relay)."""

    _machine = MethodicalMachine()
    log = Logger()

    def __init__(self, reactor: Any, url: str, user_id: str, device_key: DeviceKey,
                 olm: OlmMachine, serializer: str,
                 finish: Callable[[AccountSecrets], defer.Deferred[Any]],
                 ca_file: str | None = None) -> None:
        self.reactor = reactor
        self._url = url
        self._ca_file = ca_file
        self.user_id = user_id
        self._device_key = device_key
        self._olm = olm
        self._serializer = serializer
        self._finish_with = finish
        self.txn = os.urandom(16).hex()
        self._code = _Once()
        self._result = _Once()
        self.session: RelaySession | None = None
        self.approver: DeviceKeys | None = None
        self._devices: dict[str, DeviceKeys] = {}  # my account's approved devices
        self._account_key = b""
        self._commitment = ""
        self._their_key = ""
        self._secret: dict[str, Any] = {}
        self._reason = ""
        self._timer: Any = None
        self._sas: Sas | None = None
        self._over = False

    @property
    def device_id(self) -> str:
        return self._device_key.device_id

    def my_keys(self) -> DeviceKeys:
        return DeviceKeys(self.user_id, self.device_id, self._device_key.public_hex,
                          self._olm.identity_key)

    def wait_code(self) -> defer.Deferred[LinkCode]:
        return self._code.when()

    def wait_result(self) -> defer.Deferred[Any]:
        return self._result.when()

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Connect as the pending device and send the request; fires once it is out.
        Fails with LinkFailed when no device of the account could approve."""
        self.session = session = yield connect(self.reactor, self._url, self._device_key,
                                               self._serializer, ca_file=self._ca_file)
        session.left.addCallback(self._left)
        yield session.subscribe(self._arrived, uris.inbox_topic(self.device_id))
        keys = self._olm.new_one_time_keys(PREKEYS_FOR_LINKING)
        yield session.call(uris.PREKEYS_PUBLISH, *prekeys.signed(
            self._device_key, self.user_id, keys, self._olm.new_fallback_key()))
        self._olm.mark_published()
        public = yield session.call(uris.ACCOUNT_PUBLIC, self.user_id)
        self._account_key = _unb64(public["identity_key"])
        listed = yield session.call(uris.DEVICE_LIST, self.user_id)
        for entry in listed:
            keys_of = DeviceKeys.from_listing(entry)
            if keys_of.user_id == self.user_id and keys_of.certified_by(self._account_key):
                self._devices[keys_of.device_id] = keys_of
        if not self._devices:
            raise LinkFailed(FAILED, "no other device of this account can approve this one: "
                             "use the recovery phrase")
        self._timer = self.reactor.callLater(LINK_TIMEOUT, self._fail, TIMEOUT)
        frame = encode_frame("request", self.txn)
        yield session.call(uris.MESSAGE_SEND, self.user_id,
                           [envelope_for(d, frame) for d in sorted(self._devices)])
        page = yield session.call(uris.MAILBOX_FETCH)  # anything that came meanwhile
        for envelope in page["envelopes"]:
            self._arrived(envelope)

    def _left(self, details: Any) -> None:
        if self.session is None or self._result.fired or self._over:
            return  # we left, or it is over already
        self.session = None
        # Removed (the approver refused us), or the connection is gone: either way over.
        self._reason = CANCELLED if details.reason == uris.CLOSE_DEVICE_REMOVED else FAILED
        self.cancelled()

    def cancel(self) -> None:
        """The user cancels, or says the codes differ."""
        self._fail(MISMATCH if self._code.fired else CANCELLED)

    def _fail(self, reason: str) -> None:
        self._reason = reason
        self.abort()

    def _arrived(self, envelope: dict[str, Any]) -> None:
        session = self.session
        if session is not None and envelope.get("id"):
            session.call(uris.MAILBOX_ACK, [envelope["id"]]).addErrback(lambda _: None)
        if envelope.get("alg") != ALG or envelope.get("from_user") != self.user_id:
            return  # nothing else is for a pending device
        sender = str(envelope.get("from_device"))
        try:
            frame = parse_frame(envelope.get("body"))
        except BadFrame as e:
            self.log.warn("ignoring a malformed device-linking message: {why}", why=str(e))
            return
        if not hmac.compare_digest(frame["txn"], self.txn):
            return
        if self.approver is None and frame["t"] == "accept" and sender in self._devices:
            self.approver = self._devices[sender]
            self._sas = Sas(self.user_id, self.device_id, sender, self.txn)
            self._commitment = frame["commitment"]
            self.accepted()
            return
        if self.approver is None or sender != self.approver.device_id:
            return  # another device answered too late, or a stranger
        try:
            self._handle(frame)
        except NoTransition:
            self._fail(PROTOCOL)

    def _handle(self, frame: dict[str, Any]) -> None:
        assert self._sas is not None and self.approver is not None
        kind = frame["t"]
        if kind == "cancel":
            self._reason = frame["reason"] if frame["reason"] in REASONS else CANCELLED
            self.cancelled()
        elif kind == "key":
            if not hmac.compare_digest(Sas.commitment(frame["key"], self.txn),
                                       self._commitment):
                self._fail(BAD_COMMITMENT)
                return
            self._their_key = frame["key"]
            self.their_key()
        elif kind == "mac":
            if self._sas.verify(frame["mac"], self.approver, self.device_id):
                self.mac_ok()
            else:
                self._fail(BAD_MAC)
        elif kind == "secret":
            try:
                self._secret = self._open(frame)
            except BadFrame as e:
                self.log.warn("the account key that arrived was refused: {why}", why=str(e))
                self._fail(BAD_SECRET)
                return
            self.secret()
        else:
            self._fail(PROTOCOL)

    def _open(self, frame: dict[str, Any]) -> dict[str, Any]:
        assert self.approver is not None
        plaintext = open_secret(self._olm, self.approver.identity_key, frame["olm_type"],
                                _unb64(frame["olm_body"]))
        try:
            payload = json.loads(plaintext)
            seed = bytes.fromhex(payload["identity_seed"])
            expected = {"type": SECRET_TYPE, "txn": self.txn, "user_id": self.user_id,
                        "sender_device": self.approver.device_id,
                        "sender_key": self.approver.identity_key,
                        "recipient_device": self.device_id,
                        "recipient_key": self._olm.identity_key}
            bound = all(payload.get(k) == v for k, v in expected.items())
            mnemonic = payload["mnemonic"]
            if len(seed) != 32 or type(mnemonic) is not str:
                raise ValueError("malformed")
        except (ValueError, KeyError, TypeError):
            raise BadFrame("the secret is malformed") from None
        if not bound:
            raise BadFrame("the secret is bound to another transaction or device")
        if not hmac.compare_digest(_public(seed), self._account_key):
            raise BadFrame("the seed is not this account's identity key")
        if not self.approver.certified_by(self._account_key):
            raise BadFrame("the approving device is not certified by this account's key")
        return {"identity_seed": seed, "mnemonic": mnemonic}

    # --- states ----------------------------------------------------------------------
    @_machine.state(initial=True)
    def requested(self) -> None:
        "the request is out; waiting for a device to accept"

    @_machine.state()
    def keyed(self) -> None:
        "accepted; my SAS key sent; waiting for the approver's"

    @_machine.state()
    def comparing(self) -> None:
        "the code is on screen"

    @_machine.state()
    def confirmed(self) -> None:
        "the user confirmed here; waiting for the approver's MAC"

    @_machine.state()
    def mac_verified(self) -> None:
        "the approver's MAC verified; waiting for the user"

    @_machine.state()
    def awaiting_secret(self) -> None:
        "both sides verified; waiting for the account key"

    @_machine.state()
    def done_(self) -> None:
        "a normal device of the account"

    @_machine.state()
    def cancelled_(self) -> None:
        "ended without trust"

    # --- inputs ----------------------------------------------------------------------
    @_machine.input()
    def accepted(self) -> None:
        "an approved device accepted, with a commitment to its SAS key"

    @_machine.input()
    def their_key(self) -> None:
        "the approver's SAS key arrived and matches its commitment"

    @_machine.input()
    def confirm(self) -> None:
        "the user says the codes match"

    @_machine.input()
    def mac_ok(self) -> None:
        "the approver's MAC over its keys verified"

    @_machine.input()
    def secret(self) -> None:
        "the account key arrived and checked out"

    @_machine.input()
    def abort(self) -> None:
        "end it here (self._reason says why)"

    @_machine.input()
    def cancelled(self) -> None:
        "the approver ended it"

    # --- outputs ---------------------------------------------------------------------
    @_machine.output()
    def _send_key(self) -> None:
        assert self._sas is not None
        self._send("key", key=self._sas.public_key)

    @_machine.output()
    def _show_code(self) -> None:
        assert self._sas is not None
        try:
            code = self._sas.establish(self._sas.public_key, self._their_key)
        except Exception:
            self.reactor.callLater(0, self._fail, PROTOCOL)
            return
        self._code.fire(code)

    @_machine.output()
    def _send_mac(self) -> None:
        assert self._sas is not None and self.approver is not None
        self._send("mac", mac=self._sas.mac(self.my_keys(), self.approver.device_id))

    @_machine.output()
    def _finish(self) -> None:
        self._stop_timer()
        self._over = True
        secrets = AccountSecrets(self._secret["identity_seed"], self._secret["mnemonic"])
        self._secret = {}
        d = self._leave()
        d.addCallback(lambda _: self._finish_with(secrets))
        d.addBoth(self._result.fire)

    @_machine.output()
    def _tell_them(self) -> None:
        targets = [self.approver.device_id] if self.approver else sorted(self._devices)
        frame = encode_frame("cancel", self.txn, reason=self._reason)
        if self.session is not None and targets:
            self.session.call(uris.MESSAGE_SEND, self.user_id,
                              [envelope_for(d, frame) for d in targets]).addErrback(
                _logged(self.log, "sending cancel"))

    @_machine.output()
    def _withdraw(self) -> None:
        self._stop_timer()
        self._over = True
        failure = Failure(failure_for(self._reason))
        session = self.session
        d = (session.call(uris.DEVICE_REMOVE, self.device_id) if session is not None
             and session.is_attached() else defer.succeed(None))
        d.addErrback(lambda _: None)  # removed already (by the approver), say
        d.addCallback(lambda _: self._leave())
        d.addBoth(lambda _: self._result.fire(failure))
        self._code.fire(failure)

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    @defer.inlineCallbacks
    def _leave(self) -> Any:
        session, self.session = self.session, None
        if session is not None:
            if session.is_attached():
                session.leave()
            yield session.disconnected

    def _send(self, kind: str, **fields: Any) -> None:
        assert self.approver is not None
        if self.session is None:
            return
        self.session.call(uris.MESSAGE_SEND, self.user_id, [envelope_for(
            self.approver.device_id, encode_frame(kind, self.txn, **fields))]).addErrback(
            _logged(self.log, f"sending {kind}"))

    requested.upon(accepted, enter=keyed, outputs=[_send_key])
    keyed.upon(their_key, enter=comparing, outputs=[_show_code])
    comparing.upon(confirm, enter=confirmed, outputs=[_send_mac])
    comparing.upon(mac_ok, enter=mac_verified, outputs=[])
    confirmed.upon(mac_ok, enter=awaiting_secret, outputs=[])
    mac_verified.upon(confirm, enter=awaiting_secret, outputs=[_send_mac])
    awaiting_secret.upon(secret, enter=done_, outputs=[_finish])
    for _state in (requested, keyed, comparing, confirmed, mac_verified, awaiting_secret):
        _state.upon(abort, enter=cancelled_, outputs=[_tell_them, _withdraw])
        _state.upon(cancelled, enter=cancelled_, outputs=[_withdraw])
    for _state in (done_, cancelled_):  # over: late inputs change nothing
        for _input in (accepted, their_key, confirm, mac_ok, secret, abort, cancelled):
            _state.upon(_input, enter=_state, outputs=[])
    del _state, _input
