"""A hostile relay for tests: the real relay, with chosen answers rewritten in-process.

This is what a compromised relay, or anyone in the middle of a `ws://` connection,
can do: change what a procedure answers, record what clients send, and push
envelopes of its own making to any device. Nothing of the relay is faked: the
procedures run as usual and the harness only stands between them and the wire.

    hostile = HostileRelay(self.relay)
    hostile.rewrite(uris.DEVICE_LIST, lambda caller, answer, user_id=None: answer + [fake])
    sent = hostile.capture(uris.MESSAGE_SEND)
    hostile.inject(alice.me.device_id, forged_envelope(...))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import vodozemac
from twisted.internet import defer

from securechat.client.olm import ALG, CRYPTO_VERSION
from securechat.client.wamp import DeviceKey, connect
from securechat.protocol import uris
from securechat.protocol.envelope import delivered
from securechat.protocol.frames import Binding, Frame
from securechat.protocol.keys import device_certificate, prekey_statement
from securechat.relay.context import Caller
from securechat.relay.service import RelayService
from securechat.testing import TestAccount, TestDevice, b64, leave, password_login

Rewrite = Callable[..., Any]  # (caller, answer, *args, **kwargs) -> answer


class HostileRelay:
    def __init__(self, relay: RelayService) -> None:
        self.relay = relay
        self._procedures = relay.router.dealer._procedures
        self._originals: dict[str, Any] = {}
        self._captured: dict[str, list[tuple[Caller, tuple[Any, ...], dict[str, Any]]]] = {}

    def _wrap(self, uri: str, around: Callable[..., Any]) -> None:
        fn, signature = self._procedures[uri]
        self._originals.setdefault(uri, (fn, signature))
        self._procedures[uri] = (around(fn), signature)

    def rewrite(self, uri: str, change: Rewrite) -> None:
        """Clients get `change(caller, answer, *args, **kwargs)` instead of `answer`."""
        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                d = defer.maybeDeferred(fn, caller, *args, **kwargs)
                d.addCallback(lambda answer: change(caller, answer, *args, **kwargs))
                return d
            return call
        self._wrap(uri, around)

    def capture(self, uri: str) -> list[tuple[Caller, tuple[Any, ...], dict[str, Any]]]:
        """A list that fills with (caller, args, kwargs) of every call of `uri`."""
        calls = self._captured.setdefault(uri, [])

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                calls.append((caller, args, kwargs))
                return fn(caller, *args, **kwargs)
            return call
        self._wrap(uri, around)
        return calls

    def refusals(self, uri: str) -> list[str]:
        """A list that fills with the error URI of every call of `uri` the relay refuses."""
        errors: list[str] = []

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                def refused(f: Any) -> Any:
                    errors.append(getattr(f.value, "error", type(f.value).__name__))
                    return f
                return defer.maybeDeferred(fn, caller, *args, **kwargs).addErrback(refused)
            return call
        self._wrap(uri, around)
        return errors

    def answered(self, uri: str) -> defer.Deferred[Any]:
        """Fires with (caller, answer) once the next call of `uri` has been answered."""
        d: defer.Deferred[Any] = defer.Deferred()

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, *args: Any, **kwargs: Any) -> Any:
                result = defer.maybeDeferred(fn, caller, *args, **kwargs)

                def tell(answer: Any) -> Any:
                    if not d.called:
                        d.callback((caller, answer))
                    return answer
                return result.addCallback(tell)
            return call
        self._wrap(uri, around)
        return d

    def hold_live(self, recipient: str) -> list[tuple[str, dict[str, Any]]]:
        """A list that fills with (device id, inbox event) for each envelope
        `sc.message.send_live` takes for `recipient`'s devices: held back (delivered to
        none) while the sender is told they all were. `inject` one later (with the `ts`
        the relay chooses) to deliver it late."""
        held: list[tuple[str, dict[str, Any]]] = []

        def around(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(caller: Caller, to: str, envelopes: list[dict[str, Any]], *args: Any,
                     **kwargs: Any) -> Any:
                if to != recipient:
                    return fn(caller, to, envelopes, *args, **kwargs)
                held.extend((e["device_id"], delivered(
                    os.urandom(16).hex(), caller.principal.user_id, caller.principal.device_id,
                    0, e["v"], e["alg"], e["type"], e["body"])) for e in envelopes)
                return {"ts": int(time.time() * 1000),
                        "delivered": sorted(e["device_id"] for e in envelopes)}
            return call
        self._wrap(uris.MESSAGE_SEND_LIVE, around)
        return held

    def inject(self, device_id: str, envelope: dict[str, Any]) -> int:
        """Push `envelope` to a connected device as if the relay delivered it; returns
        how many sessions got it (0: the device is not online)."""
        return self.relay.router.broker.deliver(uris.inbox_topic(device_id), [envelope])

    def restore(self) -> None:
        for uri, original in self._originals.items():
            self._procedures[uri] = original
        self._originals.clear()


def forged_envelope(from_user: str, from_device: str, message_type: int, body: bytes,
                    ts_ms: int | None = None) -> dict[str, Any]:
    """An inbox event with whatever sender the relay chooses to claim."""
    return delivered(os.urandom(16).hex(), from_user, from_device,
                     int(time.time() * 1000) if ts_ms is None else ts_ms,
                     CRYPTO_VERSION, ALG, message_type, body)


def envelopes_to(calls: list[tuple[Caller, tuple[Any, ...], dict[str, Any]]],
                 device_id: str) -> list[dict[str, Any]]:
    """The envelopes captured `sc.message.send` calls addressed to `device_id`."""
    found = []
    for _, args, kwargs in calls:
        envelopes = args[1] if len(args) > 1 else kwargs.get("envelopes", [])
        found += [e for e in envelopes if e.get("device_id") == device_id]
    return found


class RawDevice:
    """A device the test drives by hand, with real keys: an Olm account (vodozemac) and
    a cryptosign key enrolled on the relay with a certificate signed by the account
    key it is given. It plays the attacker's own devices, or a third-party client."""

    def __init__(self, device: TestDevice, account: vodozemac.Account) -> None:
        self.device = device
        self.olm = account
        self.sessions: dict[str, vodozemac.Session] = {}  # peer device id -> session

    @classmethod
    @defer.inlineCallbacks
    def enroll(cls, reactor: Any, url: str, account: TestAccount,
               device_id: str | None = None) -> Any:
        olm = vodozemac.Account()
        key = DeviceKey.generate(device_id or os.urandom(8).hex())
        identity_key = olm.curve25519_key.to_base64()
        device = TestDevice(account, key, identity_key)
        signature = account.identity.sign(device_certificate(
            account.user_id, key.device_id, key.public_hex, identity_key))
        session = yield connect(reactor, url, password_login(account))
        try:
            yield session.call(uris.DEVICE_ENROLL, key.device_id, key.public_hex,
                               identity_key, b64(signature))
        finally:
            yield leave(session)
        return cls(device, olm)

    def certificate_for(self, user_id: str, device_id: str,
                        signer: TestAccount) -> dict[str, Any]:
        """A `sc.device.list` entry presenting this device's keys as `(user_id,
        device_id)`, signed by `signer`'s account key (valid when signer is user_id)."""
        return {"device_id": device_id, "signing_key": self.device.key.public_hex,
                "identity_key": self.device.identity_key,
                "signature": b64(signer.identity.sign(device_certificate(
                    user_id, device_id, self.device.key.public_hex,
                    self.device.identity_key)))}

    def signed_prekeys(self, count: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """`sc.prekeys.publish` arguments: one-time keys and a fallback key, signed."""
        self.olm.generate_one_time_keys(count)
        self.olm.generate_fallback_key()

        def signed(key_id: str, key: str, fallback: bool) -> dict[str, Any]:
            return {"key": key, "signature": b64(self.device.key.sign(prekey_statement(
                self.device.user_id, self.device.device_id, key_id, key, fallback)))}
        keys = {k: signed(k, v.to_base64(), False) for k, v in self.olm.one_time_keys.items()}
        ((fb_id, fb_key),) = self.olm.fallback_key.items()
        fallback = {"key_id": fb_id, **signed(fb_id, fb_key.to_base64(), True)}
        self.olm.mark_keys_as_published()
        return keys, fallback

    def start_session(self, peer_device: str, identity_key: str, one_time_key: str) -> None:
        self.sessions[peer_device] = self.olm.create_outbound_session(
            vodozemac.Curve25519PublicKey.from_base64(identity_key),
            vodozemac.Curve25519PublicKey.from_base64(one_time_key))

    def encrypt(self, peer_device: str, frame: Frame, binding: Binding) -> tuple[int, bytes]:
        message_type, body = self.sessions[peer_device].encrypt(
            frame.encode(binding)).to_parts()
        return int(message_type), bytes(body)

    def decrypt(self, envelope: dict[str, Any], sender_key: str) -> bytes:
        """The plaintext of an envelope for this device; CannotDecrypt if no session of
        this device, nor a new one from a pre-key message, decrypts it."""
        message = vodozemac.AnyOlmMessage.from_parts(envelope["type"], envelope["body"])
        for session in self.sessions.values():
            try:
                return bytes(session.decrypt(message))
            except Exception:  # not this session: try the next
                continue
        if envelope["type"] != 0:
            raise CannotDecrypt("no session decrypts this message")
        try:
            session, plaintext = self.olm.create_inbound_session(
                vodozemac.Curve25519PublicKey.from_base64(sender_key), message.to_pre_key())
        except Exception as e:
            raise CannotDecrypt(f"no session can be made ({type(e).__name__})") from None
        self.sessions[envelope.get("from_device", "")] = session
        return bytes(plaintext)


class CannotDecrypt(Exception):
    pass
