"""Which SCRAM parameters a password login may compute a proof for (review H3, L2).

The relay chooses the Argon2id salt and costs in its CHALLENGE. A client that
computed a proof for whatever it was told would let a hostile relay (a phishing
URL, anyone in the middle of a ws:// connection) ask for t=1 and 8 KiB with a salt
of its own, and then crack the proof offline thousands of times faster than the
registered verifier. So, before any proof is computed or sent:

* an account set up on this device *pins* the parameters it registered, or those
  of the login that brought it here (kdf, salt, iterations, memory), in its local
  database, and every later password login from this device accepts exactly those
  (`Pinned`);
* a device with nothing pinned (signing in for the first time) accepts only costs
  between a floor (by default the client's own defaults, t=3 and 64 MiB) and a
  ceiling (a huge memory cost is a denial of service on the client) (`Floor`);
* the server nonce must extend the client nonce (RFC 5802 §5.1), or the CHALLENGE
  does not answer this login.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from typing import Any

import attrs
from twisted.internet import defer

from securechat.client.errors import LoginParametersRefused
from securechat.client.storage import AccountStore
from securechat.protocol import scram

# Beyond what any relay accepts at registration (scram.MAX_*), with room to grow; a
# CHALLENGE above either is an attack on the client's memory or time.
CEILING_ITERATIONS = 10
CEILING_MEMORY_KIB = 1024 * 1024  # 1 GiB
_SALT_BYTES = range(8, 65)  # Argon2 needs at least 8; the relay issues 16

_REFUSING = "refusing to send a password proof"



@attrs.frozen
class ScramParameters:
    """What a CHALLENGE asks the client to hash the password with."""

    kdf: str
    salt: str  # base64, exactly as registered and sent in the CHALLENGE
    iterations: int
    memory: int  # KiB

    @classmethod
    def of(cls, verifier: scram.ScramVerifier) -> ScramParameters:
        return cls(verifier.kdf, verifier.salt, verifier.iterations, verifier.memory)

    def describe(self) -> str:
        return f"{self.iterations} passes, {self.memory} KiB"


@attrs.frozen
class Floor:
    """Nothing pinned on this device: accept costs from these up to the ceiling."""

    iterations: int = scram.DEFAULT_ITERATIONS
    memory: int = scram.DEFAULT_MEMORY_KIB


@attrs.frozen
class Pinned:
    """Accept exactly the parameters this device registered or first logged in with."""

    parameters: ScramParameters


LoginPolicy = Floor | Pinned


def check_challenge(policy: LoginPolicy, client_nonce: str,
                    extra: dict[str, Any]) -> ScramParameters:
    """The parameters to compute the proof with, or LoginParametersRefused."""
    server_nonce = extra.get("nonce")
    if (type(server_nonce) is not str or len(server_nonce) <= len(client_nonce)
            or not server_nonce.startswith(client_nonce)):
        raise LoginParametersRefused(
            "the relay's password challenge does not answer this login (its nonce does not "
            f"extend ours): {_REFUSING}")
    offered = _parameters(extra)
    if isinstance(policy, Pinned):
        pinned = policy.parameters
        if offered == pinned:
            return offered
        if offered.iterations < pinned.iterations or offered.memory < pinned.memory:
            raise LoginParametersRefused(
                f"the relay asked for weaker password hashing ({offered.describe()}) than "
                f"this account uses ({pinned.describe()}): {_REFUSING}")
        raise LoginParametersRefused(
            "the relay asked for other password hashing parameters (salt or costs) than "
            f"this account registered from this device: {_REFUSING}")
    if offered.kdf != scram.KDF_ARGON2ID:
        raise LoginParametersRefused(
            f"the relay asked for an unknown password hashing method: {_REFUSING}")
    if offered.iterations > CEILING_ITERATIONS or offered.memory > CEILING_MEMORY_KIB:
        raise LoginParametersRefused(
            f"the relay asked for password hashing costs ({offered.describe()}) beyond what "
            f"this client allows (at most {CEILING_ITERATIONS} passes, {CEILING_MEMORY_KIB} "
            f"KiB): {_REFUSING}")
    if offered.iterations < policy.iterations or offered.memory < policy.memory:
        raise LoginParametersRefused(
            f"the relay asked for weaker password hashing ({offered.describe()}) than this "
            f"client accepts (at least {policy.iterations} passes, {policy.memory} KiB): "
            f"{_REFUSING}")
    return offered


def _parameters(extra: dict[str, Any]) -> ScramParameters:
    kdf, salt = extra.get("kdf"), extra.get("salt")
    iterations, memory = extra.get("iterations"), extra.get("memory")
    malformed = LoginParametersRefused(
        f"the relay's password challenge is malformed: {_REFUSING}")
    if (type(kdf) is not str or type(salt) is not str or type(iterations) is not int
            or type(memory) is not int or iterations < 1 or memory < 8):
        raise malformed
    try:
        raw_salt = base64.b64decode(salt, validate=True)
    except (binascii.Error, ValueError):
        raise malformed from None
    if len(raw_salt) not in _SALT_BYTES:
        raise malformed
    return ScramParameters(kdf, salt, iterations, memory)


# --- the pin, in the account's local database ------------------------------------------


def load_pinned(store: AccountStore) -> defer.Deferred[ScramParameters | None]:
    """The parameters pinned for this account on this device, if any."""
    def q(c: sqlite3.Connection) -> ScramParameters | None:
        row = c.execute("SELECT kdf, salt, iterations, memory FROM scram_pin").fetchone()
        return ScramParameters(*row) if row else None
    return store.run(q)


def pin_scram_parameters(store: AccountStore,
                         parameters: ScramParameters) -> defer.Deferred[None]:
    """Store, or replace (after a password change on this device), the pinned parameters."""
    def q(c: sqlite3.Connection) -> None:
        c.execute("INSERT OR REPLACE INTO scram_pin (id, kdf, salt, iterations, memory) "
                  "VALUES (1, ?, ?, ?, ?)",
                  (parameters.kdf, parameters.salt, parameters.iterations, parameters.memory))
    return store.run(q)


@defer.inlineCallbacks
def login_policy(store: AccountStore) -> Any:
    """Deferred[LoginPolicy] for a password login from this device: the pin, or (an
    account set up before pinning existed) the default floor."""
    pinned = yield load_pinned(store)
    return Pinned(pinned) if pinned is not None else Floor()
