"""One-time and fallback keys: published by a device, claimed by whoever starts a session."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from securechat.protocol import uris
from securechat.relay import arguments
from securechat.relay.context import Caller, RelayContext
from securechat.relay.errors import refuse
from securechat.relay.limits import BucketsByKey
from securechat.relay.records import OneTimeKey
from securechat.relay.storage import TooManyPrekeys

KEY_ID_MAX = 64


class Prekeys:
    def __init__(self, ctx: RelayContext) -> None:
        self._ctx = ctx
        config = ctx.config
        # Each claim uses up a one-time key of every device it names: a stranger may
        # not drain someone's keys (which would force everyone onto the fallback key).
        self._per_target = BucketsByKey(ctx.clock, config.claim_rate, config.claim_burst)
        self._per_claimer = BucketsByKey(ctx.clock, config.claimer_rate,
                                         config.claimer_burst)

    def procedures(self) -> dict[str, Any]:
        return {
            uris.PREKEYS_PUBLISH: self.publish,
            uris.PREKEYS_CLAIM: self.claim,
            uris.PREKEYS_COUNT: self.count,
        }

    @defer.inlineCallbacks
    def publish(self, caller: Caller, one_time_keys: Any, fallback_key: Any = None) -> Any:
        """Add one-time keys ({key_id: key or {"key", "signature"}}) and optionally replace
        the fallback key. The relay stores signatures as given: clients verify them."""
        config = self._ctx.config
        if type(one_time_keys) is not dict or len(one_time_keys) > config.max_prekeys_per_call:
            arguments.invalid(
                f"one_time_keys must be an object of at most {config.max_prekeys_per_call} keys"
            )
        keys = [_one_time_key(key_id, key) for key_id, key in one_time_keys.items()]
        if fallback_key is not None:
            fb = arguments.mapping("fallback_key", fallback_key)
            keys.append(OneTimeKey(arguments.text("fallback_key.key_id", fb.get("key_id"),
                                                  KEY_ID_MAX),
                                   _curve_key("fallback_key.key", fb.get("key")), fallback=True,
                                   signature=_signature("fallback_key.signature",
                                                        fb.get("signature"))))
        try:
            count = yield self._ctx.storage.add_prekeys(caller.principal.device_id, keys,
                                                           config.max_prekeys)
        except TooManyPrekeys:
            refuse(uris.ERR_TOO_MANY_PREKEYS,
                   f"a device may hold at most {config.max_prekeys} unclaimed one-time keys",
                   max_prekeys=config.max_prekeys)
        return {"count": count}

    @defer.inlineCallbacks
    def claim(self, caller: Caller, user_id: Any, device_ids: Any = None) -> Any:
        """One bundle per device of the user (or of the listed devices only); each
        one-time key is handed out once only."""
        arguments.user_id("user_id", user_id)
        claimer = caller.principal.user_id
        wait = (self._per_target.take(f"{claimer}:{user_id}")
                or self._per_claimer.take(claimer))
        if wait:
            refuse(uris.ERR_RATE_LIMITED, "too many prekey claims: try again later",
                   retry_after=round(wait, 3))
        devices = yield self._ctx.directory.devices(user_id)
        if not devices:
            refuse(uris.ERR_NO_SUCH_ACCOUNT, "no account with this user id has devices")
        if claimer != user_id:
            # A device waiting for approval talks to its own account only: nobody else
            # may use up its keys.
            devices = [d for d in devices if not d.pending]
        if device_ids is not None:
            wanted = {arguments.device_id("device_ids[]", d)
                      for d in arguments.listing("device_ids", device_ids, 1000)}
            devices = [d for d in devices if d.device_id in wanted]
        claimed = yield self._ctx.storage.claim_prekeys(
            user_id, [d.device_id for d in devices])
        for device_id, key in claimed.items():
            if key is not None and not key.fallback:
                self._tell_if_low(device_id)
        bundles = []
        for device in devices:
            key = claimed.get(device.device_id)
            bundle: dict[str, Any] = device.public()
            bundle["one_time_key"] = (
                None if key is None
                else {"key_id": key.key_id, "key": key.key, "fallback": key.fallback,
                      "signature": key.signature}
            )
            bundles.append(bundle)
        return bundles

    def _tell_if_low(self, device_id: str) -> None:
        """A device whose one-time keys run low hears it on its presence topic, so it
        tops up while online instead of at its next connect."""
        def check(count: int) -> None:
            if count < self._ctx.config.prekeys_low:
                self._ctx.push(uris.presence_topic(device_id),
                               [{"event": uris.PREKEYS_LOW, "count": count}])
        self._ctx.storage.count_prekeys(device_id).addCallback(check)

    def count(self, caller: Caller) -> defer.Deferred[int]:
        """How many one-time keys this device still has on the relay."""
        return self._ctx.storage.count_prekeys(caller.principal.device_id)


def _one_time_key(key_id: Any, value: Any) -> OneTimeKey:
    key_id = arguments.text("key_id", key_id, KEY_ID_MAX)
    if type(value) is dict:
        return OneTimeKey(key_id, _curve_key(f"one_time_keys[{key_id}].key", value.get("key")),
                          signature=_signature(f"one_time_keys[{key_id}].signature",
                                               value.get("signature")))
    return OneTimeKey(key_id, _curve_key(f"one_time_keys[{key_id}]", value))


def _signature(name: str, value: Any) -> str | None:
    if value is None:
        return None
    arguments.b64_bytes(name, value, 64)
    return str(value)


def _curve_key(name: str, value: Any) -> str:
    arguments.b64_bytes(name, value, 32)
    return str(value)
