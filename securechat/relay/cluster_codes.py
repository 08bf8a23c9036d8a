"""Email verification codes shared by a cluster's nodes (in Redis).

A code mailed by one node must work on whichever node the registration reaches, so
in a cluster the codes live in Redis rather than in one process's memory, with the
same rules as `emailcodes.EmailVerification`: the latest few codes of an email work,
each once, for `email_code_ttl`; a few wrong tries and they are gone. Redis holds only
SHA-256 digests of the codes (no code is readable there), under the email's hash, and
forgets them when they expire. Each spend is one Lua script: two nodes cannot both
accept a code, nor both count one wrong try.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet import defer

from securechat.relay.cluster import RedisBus
from securechat.relay.context import RelayContext
from securechat.relay.emailcodes import CODES_KEPT, EmailVerification, Mailer

_ISSUE = """
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], ARGV[2], 'attempts', ARGV[3])
local codes = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'c:' then table.insert(codes, {all[i], tonumber(all[i + 1])}) end
end
table.sort(codes, function(a, b) return a[2] < b[2] end)
for i = 1, #codes - tonumber(ARGV[4]) do redis.call('HDEL', KEYS[1], codes[i][1]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# -1: the code matched (all are gone now); -2: no valid code; 0: that was the last
# wrong try (all gone); n > 0: wrong, n tries left.
_SPEND = """
local now = tonumber(ARGV[2])
local exp = redis.call('HGET', KEYS[1], 'c:' .. ARGV[1])
if exp and tonumber(exp) > now then redis.call('DEL', KEYS[1]) return -1 end
local all = redis.call('HGETALL', KEYS[1])
local valid = 0
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'c:' and tonumber(all[i + 1]) > now then valid = valid + 1 end
end
if valid == 0 then redis.call('DEL', KEYS[1]) return -2 end
local left = redis.call('HINCRBY', KEYS[1], 'attempts', -1)
if left <= 0 then redis.call('DEL', KEYS[1]) return 0 end
return left
"""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


class ClusterEmailVerification(EmailVerification):
    def __init__(self, ctx: RelayContext, mailer: Mailer | None, bus: RedisBus) -> None:
        super().__init__(ctx, mailer)
        self._bus = bus

    def _key(self, user_id: str) -> str:
        return self._bus.key("code", user_id)

    def _issue(self, user_id: str) -> Any:  # Deferred[str]
        code = super()._issue(user_id)  # the same digits, from the same generator
        self._pending.pop(user_id, None)  # kept in Redis, not here
        ttl = self._config.email_code_ttl
        d = self._bus.redis.eval(_ISSUE, [self._key(user_id)], [
            _digest(code), repr(self._clock.seconds() + ttl),
            str(self._config.email_code_attempts), str(CODES_KEPT), str(int(ttl) + 1)])
        return d.addCallback(lambda _: code)

    def _withdraw(self, user_id: str, code: str) -> None:
        self._bus.redis.hdel(self._key(user_id), ["c:" + _digest(code)]).addErrback(
            lambda f: self.log.warn("could not withdraw a code: {why}",
                                    why=f.getErrorMessage()))

    @defer.inlineCallbacks
    def spend(self, user_id: str, code: Any) -> Any:
        if not self.required:
            return
        given = self.given_code(code)
        status = int((yield self._bus.redis.eval(
            _SPEND, [self._key(user_id)], [_digest(given), repr(self._clock.seconds())])))
        if status == -1:
            return
        if status == -2:
            self.refuse_expired()
        self.refuse_wrong(status)
