"""Pairwise Olm sessions (vodozemac) between this device and every other device.

One session per device pair in normal operation; when two devices start a
session at the same moment there may briefly be two, so each peer device keeps
a short list and decryption tries each before starting a new inbound session.
State leaves this object only as vodozemac pickles encrypted with the local key.
"""

from __future__ import annotations

import attrs
import vodozemac

ALG = "olm.v1"
CRYPTO_VERSION = 1
MAX_SESSIONS_PER_DEVICE = 3


class DecryptionFailed(Exception):
    """The ciphertext does not decrypt: tampered, replayed, or from an unknown session."""


@attrs.define
class OlmMachine:
    account: vodozemac.Account
    pickle_key: bytes = attrs.field(repr=False)
    # device id -> (user id, sessions, most recently used first)
    sessions: dict[str, tuple[str, list[vodozemac.Session]]] = attrs.field(factory=dict)

    @classmethod
    def create(cls, pickle_key: bytes) -> OlmMachine:
        return cls(vodozemac.Account(), pickle_key)

    @classmethod
    def restore(cls, account_pickle: str, sessions: list[tuple[str, str, str]],
                pickle_key: bytes) -> OlmMachine:
        machine = cls(vodozemac.Account.from_pickle(account_pickle, pickle_key), pickle_key)
        for device_id, user_id, pickle in sessions:
            machine.sessions[device_id] = (
                user_id, [vodozemac.Session.from_pickle(p, pickle_key) for p in pickle.split("\n")]
            )
        return machine

    # --- keys ------------------------------------------------------------------------

    @property
    def identity_key(self) -> str:
        return str(self.account.curve25519_key.to_base64())

    def pickle_account(self) -> str:
        return str(self.account.pickle(self.pickle_key))

    def pickle_sessions(self, device_id: str) -> tuple[str, str, str]:
        user_id, sessions = self.sessions[device_id]
        return device_id, user_id, "\n".join(s.pickle(self.pickle_key) for s in sessions)

    def new_one_time_keys(self, count: int) -> dict[str, str]:
        """Generate keys to publish; call `mark_published()` once the relay has them."""
        self.account.generate_one_time_keys(count)
        return {k: v.to_base64() for k, v in self.account.one_time_keys.items()}

    def new_fallback_key(self) -> dict[str, str]:
        self.account.generate_fallback_key()
        ((key_id, key),) = self.account.fallback_key.items()
        return {"key_id": key_id, "key": key.to_base64()}

    def mark_published(self) -> None:
        self.account.mark_keys_as_published()

    # --- sessions ----------------------------------------------------------------------

    def has_session(self, device_id: str) -> bool:
        return device_id in self.sessions

    def start_session(self, user_id: str, device_id: str, identity_key: str,
                      one_time_key: str) -> None:
        session = self.account.create_outbound_session(
            vodozemac.Curve25519PublicKey.from_base64(identity_key),
            vodozemac.Curve25519PublicKey.from_base64(one_time_key))
        self._remember(user_id, device_id, session)

    def forget(self, device_id: str) -> None:
        self.sessions.pop(device_id, None)

    def encrypt(self, device_id: str, plaintext: bytes) -> tuple[int, bytes]:
        _, sessions = self.sessions[device_id]
        message_type, ciphertext = sessions[0].encrypt(plaintext).to_parts()
        return int(message_type), bytes(ciphertext)

    def decrypt(self, user_id: str, device_id: str, identity_key: str, message_type: int,
                ciphertext: bytes) -> tuple[bytes, bool]:
        """Plaintext, and whether the account changed (a one-time key was used up)."""
        try:
            message = vodozemac.AnyOlmMessage.from_parts(message_type, ciphertext)
        except Exception as e:
            raise DecryptionFailed(f"not an Olm message ({type(e).__name__})") from None
        _, known = self.sessions.get(device_id, (user_id, []))
        for session in known:
            try:
                plaintext = session.decrypt(message)
            except Exception:  # noqa: S112 - not this session's message: try the next
                continue
            self._remember(user_id, device_id, session)
            return bytes(plaintext), False
        if message_type != 0:
            raise DecryptionFailed("no session decrypts this message")
        try:
            session, plaintext = self.account.create_inbound_session(
                vodozemac.Curve25519PublicKey.from_base64(identity_key), message.to_pre_key())
        except Exception as e:
            raise DecryptionFailed(f"cannot start a session ({type(e).__name__})") from None
        self._remember(user_id, device_id, session)
        return bytes(plaintext), True

    def _remember(self, user_id: str, device_id: str, session: vodozemac.Session) -> None:
        _, sessions = self.sessions.get(device_id, (user_id, []))
        sessions = [session] + [s for s in sessions if s.session_id != session.session_id]
        self.sessions[device_id] = (user_id, sessions[:MAX_SESSIONS_PER_DEVICE])
