"""Device linking, the existing device's side: the requests of pending devices of my
account (DeviceApprovals) and the SAS machine of each (Approval); see
securechat.client.linking."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from autobahn.wamp.exception import ApplicationError, TransportLost
from automat import MethodicalMachine, NoTransition
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

import securechat.client.events as ev
import securechat.client.prekeys as prekeys
from securechat.client.errors import ClientError, LinkFailed
from securechat.client.keys import AccountSecrets
from securechat.client.linking.frames import (
    BAD_MAC,
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
    parse_frame,
    seal_secret,
)
from securechat.client.linking.outcome import Once, logged
from securechat.client.linking.sas import DeviceKeys, LinkCode, Sas
from securechat.client.olm import OlmMachine
from securechat.client.wamp import RelaySession
from securechat.protocol import uris
from securechat.protocol.encoding import b64
from securechat.protocol.keys import device_certificate

REQUEST_MAX_AGE = 10 * 60.0  # an older request is not shown
MAX_OPEN_REQUESTS = 4  # per existing device: more are ignored (a pending device spamming)


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
        yield session.call(uris.DEVICE_CERTIFY, new.device_id, b64(signature))
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
                                                    olm_body=b64(body)))
        yield defer.maybeDeferred(self._devices_changed).addErrback(
            logged(self.log, "refreshing my devices"))

    def remove(self, approval: Approval) -> None:
        session = self._session()
        if session is None:
            return  # it expires on the relay by itself
        session.call(uris.DEVICE_REMOVE, approval.device_id).addErrback(
            logged(self.log, "removing the refused device"))

    def finished(self, approval: Approval, approved: bool, reason: str) -> None:
        self.emit(ev.DeviceApprovalFinished(approval.device_id, approved, reason))


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
        self._code = Once()
        self._done = Once()
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
        logged(self.log, "sharing the account key")(failure)
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
                                ).addErrback(logged(self.log, f"sending {kind}"))

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
