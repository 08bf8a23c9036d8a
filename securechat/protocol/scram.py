"""WAMP-SCRAM (as Crossbar.io and autobahn implement it), both halves.

The relay stores only a verifier (`stored_key`, `server_key`) derived on the
device from the master password with Argon2id; the password never leaves the
device. The client half is written here rather than taken from autobahn's
`AuthScram` because that one pulls in passlib just for `saslprep`, which is
the identity on our hex user ids. Both halves compute the same message as
autobahn does, so autobahn's own `AuthScram` also logs in (the tests check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import attrs
from argon2.low_level import Type, hash_secret

KDF_ARGON2ID = "argon2id-13"
# Client-side defaults for new accounts (RFC 9106's second recommended option,
# within what a 2-core laptop does in well under a second).
DEFAULT_ITERATIONS = 3
DEFAULT_MEMORY_KIB = 65536
# What the relay accepts at registration: weak enough parameters would make
# an offline attack on a stolen verifier cheap, huge ones are a DoS on clients.
# The upper limits keep a login within the relay's hello timeout on a modest device.
MIN_ITERATIONS, MAX_ITERATIONS = 1, 8
MIN_MEMORY_KIB, MAX_MEMORY_KIB = 8192, 262144


@attrs.frozen
class ScramVerifier:
    """What the relay keeps for an account: never enough to log in by itself."""

    kdf: str
    salt: str  # base64, as sent in the CHALLENGE
    iterations: int
    memory: int
    stored_key: bytes
    server_key: bytes


def salted_password(password: str, salt_b64: str, iterations: int, memory: int) -> bytes:
    """Argon2id over the password, in the exact form autobahn's client uses.

    Slow by design: call it from a thread, never on the reactor.
    """
    encoded = hash_secret(
        secret=password.encode("utf-8"),
        salt=base64.b64decode(salt_b64),
        time_cost=iterations,
        memory_cost=memory,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    return encoded.split(b"$")[-1]


def make_verifier(
    password: str,
    iterations: int = DEFAULT_ITERATIONS,
    memory: int = DEFAULT_MEMORY_KIB,
    salt: bytes | None = None,
) -> ScramVerifier:
    """Derive the verifier a new account registers (client side, in a thread)."""
    salt_b64 = base64.b64encode(salt or os.urandom(16)).decode("ascii")
    salted = salted_password(password, salt_b64, iterations, memory)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return ScramVerifier(
        kdf=KDF_ARGON2ID,
        salt=salt_b64,
        iterations=iterations,
        memory=memory,
        stored_key=hashlib.sha256(client_key).digest(),
        server_key=hmac.new(salted, b"Server Key", hashlib.sha256).digest(),
    )


def auth_message(authid: str, client_nonce: str, server_nonce: str, salt: str, iterations: int,
                 channel_binding: str = "") -> bytes:
    return (
        f"n={authid},r={client_nonce},"
        f"r={server_nonce},s={salt},i={iterations},"
        f"c={channel_binding},r={server_nonce}"
    ).encode("ascii")


def client_proof(salted: bytes, message: bytes) -> str:
    """The AUTHENTICATE signature: ClientKey XOR HMAC(StoredKey, AuthMessage), base64."""
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    signature = hmac.new(stored_key, message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    return base64.b64encode(proof).decode()


def server_signature(server_key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(server_key, message, hashlib.sha256).digest()).decode()


def expected_server_signature(salted: bytes, message: bytes) -> str:
    """What the client expects in WELCOME, proving the relay holds the verifier."""
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return server_signature(server_key, message)


def verify_proof(stored_key: bytes, message: bytes, proof_b64: str) -> bool:
    """Check a client proof against the verifier, in constant time."""
    try:
        proof = base64.b64decode(proof_b64, validate=True)
    except ValueError:
        return False
    if len(proof) != len(stored_key):
        return False
    signature = hmac.new(stored_key, message, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)
