"""Device linking, the new device's side: NewDeviceLink, the pending device's SAS
machine that ends with the account key (see securechat.client.linking)."""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from typing import Any

from automat import MethodicalMachine, NoTransition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.prekeys as prekeys
from securechat.client.errors import LinkFailed
from securechat.client.keys import AccountSecrets
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
    SECRET_TYPE,
    TIMEOUT,
    BadFrame,
    encode_frame,
    envelope_for,
    failure_for,
    open_secret,
    parse_frame,
)
from securechat.client.linking.outcome import Once, logged
from securechat.client.linking.sas import DeviceKeys, LinkCode, Sas
from securechat.client.olm import OlmMachine
from securechat.client.wamp import DeviceKey, RelaySession, connect
from securechat.protocol import uris
from securechat.protocol.encoding import unb64

PREKEYS_FOR_LINKING = 5


def _public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


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
        self._code = Once()
        self._result = Once()
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
        self._account_key = unb64(public["identity_key"])
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
                                unb64(frame["olm_body"]))
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
                logged(self.log, "sending cancel"))

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
            logged(self.log, f"sending {kind}"))

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
