"""Pairwise Olm sessions (vodozemac) between this device and every other device.

Sessions are kept per peer *(user id, device id)* together with the peer's
Curve25519 identity key they were made with, and a session is used only while
that key is the one we verified for that (user, device): a relay that lists a
device of another account under a known device id, or re-enrolls an id with a
new key, gets a separate, empty slot instead of someone else's sessions.

When two devices start a session at the same moment there may briefly be two,
so each peer keeps a short list (most recently used first). A pre-key message
never replaces or rolls back a session we already have: one that belongs to a
known session is decrypted by that session (a replay then fails, the message key
being used up), and one that would start a session we have seen before (a replay
made with the fallback key) is refused.

State leaves this object only as vodozemac pickles encrypted with the local key.
"""

from __future__ import annotations

import json

import attrs
import vodozemac

ALG = "olm.v1"
CRYPTO_VERSION = 2  # 2: frames carry their sender and recipient (frames.Binding)
MAX_SESSIONS_PER_DEVICE = 3
MAX_SEEN_SESSION_IDS = 64  # ids of sessions ever made with one peer device (replay guard)

Peer = tuple[str, str]  # (user id, device id)
# What the database keeps per peer device: user id, device id, identity key, session
# pickles (newline separated, most recent first), seen session ids (JSON list).
SessionRow = tuple[str, str, str, str, str]


class DecryptionFailed(Exception):
    """The ciphertext does not decrypt: tampered, replayed, or from an unknown session."""


class NoSession(Exception):
    """There is no session with this device under the key we verified for it."""


@attrs.define
class PeerSessions:
    identity_key: str  # the peer's Curve25519 key (base64) every session here was made with
    sessions: list[vodozemac.Session] = attrs.field(factory=list)  # most recent first
    seen: list[str] = attrs.field(factory=list)  # every session id made with this key


@attrs.define
class OlmMachine:
    account: vodozemac.Account
    pickle_key: bytes = attrs.field(repr=False)
    peers: dict[Peer, PeerSessions] = attrs.field(factory=dict)

    @classmethod
    def create(cls, pickle_key: bytes) -> OlmMachine:
        return cls(vodozemac.Account(), pickle_key)

    @classmethod
    def restore(cls, account_pickle: str, rows: list[SessionRow],
                pickle_key: bytes) -> OlmMachine:
        machine = cls(vodozemac.Account.from_pickle(account_pickle, pickle_key), pickle_key)
        for user_id, device_id, identity_key, pickles, seen in rows:
            sessions = [vodozemac.Session.from_pickle(p, pickle_key)
                        for p in pickles.split("\n") if p]
            machine.peers[(user_id, device_id)] = PeerSessions(
                identity_key, sessions, list(json.loads(seen or "[]")))
        return machine

    # --- keys ------------------------------------------------------------------------

    @property
    def identity_key(self) -> str:
        return str(self.account.curve25519_key.to_base64())

    def pickle_account(self) -> str:
        return str(self.account.pickle(self.pickle_key))

    def pickle_sessions(self, user_id: str, device_id: str) -> SessionRow:
        peer = self.peers[(user_id, device_id)]
        return (user_id, device_id, peer.identity_key,
                "\n".join(s.pickle(self.pickle_key) for s in peer.sessions),
                json.dumps(peer.seen))

    def new_one_time_keys(self, count: int) -> dict[str, str]:
        """Generate keys to publish; call `mark_published()` once the relay has them."""
        self.account.generate_one_time_keys(count)
        return {k: v.to_base64() for k, v in self.account.one_time_keys.items()}

    def new_fallback_key(self) -> dict[str, str]:
        """A new fallback key; vodozemac keeps the previous one too, so a pre-key message
        already on its way still opens a session (once)."""
        self.account.generate_fallback_key()
        ((key_id, key),) = self.account.fallback_key.items()
        return {"key_id": key_id, "key": key.to_base64()}

    def mark_published(self) -> None:
        self.account.mark_keys_as_published()

    # --- sessions ----------------------------------------------------------------------

    def has_session(self, user_id: str, device_id: str, identity_key: str) -> bool:
        peer = self.peers.get((user_id, device_id))
        return peer is not None and peer.identity_key == identity_key and bool(peer.sessions)

    def start_session(self, user_id: str, device_id: str, identity_key: str,
                      one_time_key: str) -> None:
        session = self.account.create_outbound_session(
            vodozemac.Curve25519PublicKey.from_base64(identity_key),
            vodozemac.Curve25519PublicKey.from_base64(one_time_key))
        self._remember(user_id, device_id, identity_key, session)

    def forget(self, user_id: str, device_id: str) -> None:
        """Drop the sessions with a device (gone from its user's list). What sessions
        were made with it is kept: were it listed again with the same key, a replayed
        pre-key message must still be refused."""
        peer = self.peers.get((user_id, device_id))
        if peer is not None:
            peer.sessions = []

    def encrypt(self, user_id: str, device_id: str, identity_key: str,
                plaintext: bytes) -> tuple[int, bytes]:
        if not self.has_session(user_id, device_id, identity_key):
            raise NoSession(f"no session with device {device_id} under its verified key")
        session = self.peers[(user_id, device_id)].sessions[0]
        message_type, ciphertext = session.encrypt(plaintext).to_parts()
        return int(message_type), bytes(ciphertext)

    def decrypt(self, user_id: str, device_id: str, identity_key: str, message_type: int,
                ciphertext: bytes) -> tuple[bytes, bool]:
        """Plaintext from the device `(user_id, device_id)` whose verified key is
        `identity_key`, and whether a new session was made (the account changed)."""
        try:
            message = vodozemac.AnyOlmMessage.from_parts(message_type, ciphertext)
        except Exception as e:
            raise DecryptionFailed(f"not an Olm message ({type(e).__name__})") from None
        peer = self.peers.get((user_id, device_id))
        if peer is not None and peer.identity_key != identity_key:
            # The device's verified key changed (re-enrolled): its old sessions are dead,
            # and no message made for the old key can open a session with the new one.
            del self.peers[(user_id, device_id)]
            peer = None
        known = peer.sessions if peer is not None else []
        pre_key = message.to_pre_key() if message_type == 0 else None
        if pre_key is not None:
            # A pre-key message of a session we have goes to that session only.
            owner = next((s for s in known if s.session_matches(pre_key)), None)
            if owner is not None:
                return self._decrypt_with(user_id, device_id, identity_key, owner, message), False
        else:
            for session in known:
                try:
                    plaintext = session.decrypt(message)
                except Exception:  # noqa: S112 - not this session's message: try the next
                    continue
                self._remember(user_id, device_id, identity_key, session)
                return bytes(plaintext), False
            raise DecryptionFailed("no session decrypts this message")
        try:
            # vodozemac checks that the message was made with `identity_key`.
            session, plaintext = self.account.create_inbound_session(
                vodozemac.Curve25519PublicKey.from_base64(identity_key), pre_key)
        except Exception as e:
            raise DecryptionFailed(f"cannot start a session ({type(e).__name__})") from None
        if peer is not None and session.session_id in peer.seen:
            # Made with the fallback key and replayed: it would roll the session back.
            raise DecryptionFailed("a replayed pre-key message")
        self._remember(user_id, device_id, identity_key, session)
        return bytes(plaintext), True

    def _decrypt_with(self, user_id: str, device_id: str, identity_key: str,
                      session: vodozemac.Session, message: vodozemac.AnyOlmMessage) -> bytes:
        try:
            plaintext = session.decrypt(message)
        except Exception as e:
            raise DecryptionFailed(f"a replayed or damaged message ({type(e).__name__})") \
                from None
        self._remember(user_id, device_id, identity_key, session)
        return bytes(plaintext)

    def _remember(self, user_id: str, device_id: str, identity_key: str,
                  session: vodozemac.Session) -> None:
        peer = self.peers.get((user_id, device_id))
        if peer is None or peer.identity_key != identity_key:
            peer = self.peers[(user_id, device_id)] = PeerSessions(identity_key)
        peer.sessions = [session] + [s for s in peer.sessions
                                     if s.session_id != session.session_id]
        del peer.sessions[MAX_SESSIONS_PER_DEVICE:]
        if session.session_id not in peer.seen:
            peer.seen.append(session.session_id)
            del peer.seen[:-MAX_SEEN_SESSION_IDS]
