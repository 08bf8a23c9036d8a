"""The recovery phrase: what it seals, and changing or resetting the master password.

The 12-word recovery phrase (BIP39, 128 bits of entropy) is the account's master
key. Under it, and never under the password, the account identity seed is sealed:

- on the relay, the recovery blob
  `b"SCR2" ‖ nonce(12) ‖ AES-256-GCM(identity seed)`, the header and user id bound
  as associated data. A new device gets the account key from it only with the phrase,
  so neither the relay (which holds the password verifier and could crack the
  password) nor anyone who phishes the password can add a device;
- on each device, `recovery.bin` beside the account's database: the same device
  keys `SecretStore` keeps under the password, so that "forgot password" can seal
  them under a new one.

Accounts made before this kept a password-sealed blob (`b"SCR1"`, see
`keys.open_recovery`); a device that opens the account with the password and holds
the identity seed replaces it (`keep_relay_blob_sealed`).

Why a fast KDF (HKDF-SHA256) and not Argon2id: the phrase is 128 uniformly random
bits, not something a person chose. Guessing it costs 2**127 tries on average
whatever each try costs; a memory-hard KDF would add about 20 bits to that and only
slow down every honest sign-in. It is also why the relay may hand the blob to an
unauthenticated caller for a password reset.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Any

from autobahn.wamp.exception import ApplicationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mnemonic import Mnemonic
from twisted.internet import defer, threads
from twisted.internet.error import ConnectError
from twisted.logger import Logger

from securechat.client.accountlock import AccountLock
from securechat.client.errors import (
    AccountInUse,
    ClientError,
    CorruptBlob,
    InvalidRecoveryPhrase,
    LoginParametersRefused,
    NoSuchAccount,
    WrongRecoveryPhrase,
)
from securechat.client.keys import AccountSecrets, open_recovery
from securechat.client.scram_pinning import (
    Floor,
    LoginPolicy,
    ScramParameters,
    pin_scram_parameters,
)
from securechat.client.secrets import SecretStore, write_private
from securechat.client.storage import AccountStore, database_key
from securechat.client.wamp import Anonymous, Credentials, JoinRefused, Password, connect, leave
from securechat.crypto.sealing import KeySealing, UnknownFormat, WrongKey
from securechat.protocol import scram, uris
from securechat.protocol.encoding import b64, unb64
from securechat.protocol.keys import user_id_for_email
from securechat.protocol.recovery import (
    PHRASE_SEALED_MAGIC,
    is_phrase_sealed,
    password_reset_message,
)

log = Logger()

PHRASE_WORDS = 12
LOCAL_COPY = "recovery.bin"
_RELAY_BLOB = KeySealing(PHRASE_SEALED_MAGIC)
_LOCAL = KeySealing(b"SCL1")
_WORDS = Mnemonic("english")



# === the phrase ===========================================================================


def check_phrase(text: str) -> str:
    """The phrase in its one spelling (lowercase, single spaces), or InvalidRecoveryPhrase
    saying what is wrong with it. Never echoes more than the one mistyped word."""
    words = text.lower().split()
    if len(words) != PHRASE_WORDS:
        raise InvalidRecoveryPhrase(f"a recovery phrase has {PHRASE_WORDS} words; this one "
                                    f"has {len(words)}")
    known = set(_WORDS.wordlist)
    for position, word in enumerate(words, 1):
        if word not in known:
            raise InvalidRecoveryPhrase(f"word {position} ({word!r}) is not a recovery-phrase "
                                        "word: check its spelling")
    phrase = " ".join(words)
    if not _WORDS.check(phrase):
        raise InvalidRecoveryPhrase("these are all recovery-phrase words, but not a valid "
                                    "phrase: a word is wrong or two are swapped")
    return phrase


def _key(phrase: str, purpose: bytes, user_id: str) -> bytes:
    # HKDF over the phrase's 128 bits of entropy (see the module docstring for why
    # a fast KDF is right here). One key per purpose and account.
    entropy = bytes(_WORDS.to_entropy(phrase))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"securechat recovery phrase",
                info=purpose + b":" + user_id.encode()).derive(entropy)


def _seal(plaintext: bytes, phrase: str, kind: KeySealing, purpose: bytes,
          user_id: str) -> bytes:
    return kind.seal(plaintext, _key(phrase, purpose, user_id), user_id.encode())


def _open(sealed: bytes, phrase: str, kind: KeySealing, purpose: bytes, user_id: str) -> bytes:
    """Raises CorruptBlob (not this format) or WrongRecoveryPhrase."""
    try:
        return kind.open_by_id(sealed, lambda _: _key(phrase, purpose, user_id),
                               user_id.encode())
    except UnknownFormat:
        raise CorruptBlob("the recovery data has an unknown format") from None
    except WrongKey:
        raise WrongRecoveryPhrase("this is not the recovery phrase of this account") from None


# === the blob on the relay ================================================================


def seal_blob(secrets: AccountSecrets, user_id: str) -> bytes:
    """The recovery blob for the relay: the identity seed under the phrase. (Fast.)"""
    plaintext = json.dumps({"v": 2, "identity_seed": secrets.identity_seed.hex()}).encode()
    return _seal(plaintext, secrets.mnemonic, _RELAY_BLOB, b"relay blob", user_id)


def open_blob(blob: bytes, phrase: str, user_id: str) -> AccountSecrets:
    """The account secrets a phrase-sealed blob holds. Raises WrongRecoveryPhrase."""
    fields = json.loads(_open(blob, phrase, _RELAY_BLOB, b"relay blob", user_id))
    return AccountSecrets(bytes.fromhex(fields["identity_seed"]), phrase)


@defer.inlineCallbacks
def secrets_from_relay(blob: bytes, phrase: str, password: str, user_id: str) -> Any:
    """Deferred[AccountSecrets] from the blob `sc.account.recovery` gave a password session.
    A blob of an account not yet migrated is still sealed under the password: it opens with
    that, and then its mnemonic must be the phrase given (else WrongRecoveryPhrase), so
    that signing in takes the phrase for every account."""
    if is_phrase_sealed(blob):
        return open_blob(blob, phrase, user_id)
    secrets = yield threads.deferToThread(open_recovery, blob, password, user_id)
    if not hmac.compare_digest(secrets.mnemonic.encode(), phrase.encode()):
        raise WrongRecoveryPhrase("this is not the recovery phrase of this account")
    return secrets


@defer.inlineCallbacks
def keep_relay_blob_sealed(session: Any, secrets: AccountSecrets, user_id: str) -> Any:
    """Make sure the relay's recovery blob is sealed under the phrase and opens to this
    account's key; replace it if not (an account made before, or a relay that lost it).
    Fires True when the blob is (now) right, False when the relay would not say or take it
    (a relay without `sc.account.recovery.update`: tried again at the next connection)."""
    try:
        answer = yield session.call(uris.ACCOUNT_RECOVERY)
        blob = answer.get("recovery_blob")
        if isinstance(blob, bytes) and is_phrase_sealed(blob):
            try:
                found = open_blob(blob, secrets.mnemonic, user_id)
            except (WrongRecoveryPhrase, CorruptBlob, ValueError, KeyError):
                found = None
            if found is not None and hmac.compare_digest(found.identity_seed,
                                                         secrets.identity_seed):
                return True
        yield session.call(uris.ACCOUNT_RECOVERY_UPDATE, seal_blob(secrets, user_id))
        log.info("the relay's recovery blob is now sealed under the recovery phrase")
        return True
    except ApplicationError as e:
        log.warn("could not seal the recovery blob under the phrase: {error}", error=e.error)
        return False


# === this device's copy under the phrase ==================================================


def save_local_copy(account_dir: str, user_id: str, keys: dict[str, str]) -> None:
    """Seal this device's keys (as SecretStore holds them) under the phrase they contain."""
    plaintext = json.dumps(keys, sort_keys=True).encode()
    write_private(os.path.join(account_dir, LOCAL_COPY),
                  _seal(plaintext, keys["mnemonic"], _LOCAL, b"device keys", user_id))


def load_local_copy(account_dir: str, user_id: str, phrase: str) -> dict[str, str] | None:
    """This device's keys, or None where no copy was made. Raises WrongRecoveryPhrase."""
    try:
        with open(os.path.join(account_dir, LOCAL_COPY), "rb") as f:
            sealed = f.read()
    except FileNotFoundError:
        return None
    return dict(json.loads(_open(sealed, phrase, _LOCAL, b"device keys", user_id)))


def keep_local_copy(account_dir: str, user_id: str, keys: dict[str, Any]) -> None:
    """After the password opened the account: keep `recovery.bin` equal to what the
    password opens (made once for accounts set up before it existed). Fast."""
    if "mnemonic" not in keys:  # opened with the PIN: the phrase is not at hand
        return
    try:
        current = load_local_copy(account_dir, user_id, keys["mnemonic"])
    except (WrongRecoveryPhrase, CorruptBlob, ValueError):
        current = None
    if current != keys:
        save_local_copy(account_dir, user_id, keys)


# === password change and reset ============================================================


def verifier_argument(verifier: scram.ScramVerifier) -> dict[str, Any]:
    """A verifier as `sc.account.register`, `.password.change` and `.reset` take it."""
    return {"kdf": verifier.kdf, "salt": verifier.salt, "iterations": verifier.iterations,
            "memory": verifier.memory, "stored_key": b64(verifier.stored_key),
            "server_key": b64(verifier.server_key)}


def _check_new_password(new: str, old: str | None = None) -> None:
    if not new:
        raise ClientError("the new password is empty")
    if old is not None and hmac.compare_digest(new.encode(), old.encode()):
        raise ClientError("the new password is the same as the old one")


@defer.inlineCallbacks
def change_password(reactor: Any, url: str, serializer: str, account_dir: str, user_id: str,
                    old: str, new: str, iterations: int, memory_kib: int,
                    policy: LoginPolicy, ca_file: str | None = None) -> Any:
    """See SecureChatClient.change_password. Order: the old password is checked here
    (it opens this device's keys), then the relay takes the new verifier from a session
    that logged in with the old one (under this device's pinned `policy`), then this
    device's keys are sealed under the new one. A failure before the last step leaves the
    old password working everywhere. Fires with the SCRAM parameters to pin from now on."""
    _check_new_password(new, old)
    keys = yield threads.deferToThread(SecretStore(account_dir, user_id, old).load)
    verifier = yield threads.deferToThread(scram.make_verifier, new, iterations, memory_kib)
    try:
        yield _call(reactor, url, Password(user_id, old, policy), serializer,
                    uris.ACCOUNT_PASSWORD_CHANGE, verifier_argument(verifier), ca_file=ca_file)
        parameters = ScramParameters.of(verifier)
    except (JoinRefused, LoginParametersRefused) as e:
        # Refused by the relay, or (other parameters than pinned here) by this device.
        if isinstance(e, JoinRefused) and e.reason != uris.ERR_WRONG_PASSWORD:
            raise _join_error(e) from None
        # The relay no longer takes this device's password: changed (or reset) elsewhere,
        # or an earlier change here stopped before sealing the keys. If it takes the new
        # one, only this device is left to do. Its parameters are new to this device: a
        # login with the new password holds them to the floor, and they are pinned after.
        try:
            floor = Floor(min(iterations, scram.DEFAULT_ITERATIONS),
                          min(memory_kib, scram.DEFAULT_MEMORY_KIB))
            session = yield _call(reactor, url, Password(user_id, new, floor), serializer,
                                  None, ca_file=ca_file)
            parameters = session.scram_parameters
        except JoinRefused as again:
            if again.reason == uris.ERR_WRONG_PASSWORD:
                raise ClientError("the relay takes neither this device's password nor the "
                                  "new one (was it changed on another device?): nothing "
                                  "was changed") from None
            raise _join_error(again) from None
    try:
        yield threads.deferToThread(SecretStore(account_dir, user_id, new, memory_kib).save,
                                    keys)
    except ClientError as e:
        raise ClientError(f"the relay now takes the new password, but this device still "
                          f"opens with the old one: {e}. Change it here again, from the "
                          f"old password to the new one.") from None
    return parameters


@defer.inlineCallbacks
def reset_password(reactor: Any, data_dir: str, url: str, email: str, phrase: str,
                   new_password: str, iterations: int, memory_kib: int,
                   serializer: str, ca_file: str | None = None) -> Any:
    """See SecureChatClient.reset_password. Fires True when this device's copy of the
    account (if any) now opens with the new password, False when there is one it could
    not re-seal (an account here not opened since recovery.bin exists), None when this
    device has no copy of the account."""
    phrase = check_phrase(phrase)
    _check_new_password(new_password)
    user_id = user_id_for_email(email)
    account_dir = os.path.join(data_dir, user_id)
    lock = None
    if os.path.isdir(account_dir):
        lock = AccountLock(account_dir)
        if not lock.acquire():
            raise AccountInUse("this account is open in another SecureChat window or program")
    try:
        local = load_local_copy(account_dir, user_id, phrase) if lock else None
        verifier = yield threads.deferToThread(scram.make_verifier, new_password, iterations,
                                               memory_kib)
        new = verifier_argument(verifier)
        try:
            session = yield connect(reactor, url, Anonymous(), serializer, ca_file=ca_file)
        except ConnectError as e:
            raise ClientError(f"could not reach the relay ({type(e).__name__}): nothing "
                              "was changed") from None
        try:
            answer = yield session.call(uris.ACCOUNT_RECOVERY_FETCH, user_id)
            secrets = open_blob(bytes(answer["recovery_blob"]), phrase, user_id)
            if b64(secrets.identity_public) != b64(unb64(answer["identity_key"])):
                raise ClientError("the relay's recovery data does not match the account's "
                                  "key: nothing was changed")
            timestamp = int(time.time() * 1000)
            signature = secrets.identity.sign(
                password_reset_message(user_id, answer["scram_salt"], new, timestamp))
            yield session.call(uris.ACCOUNT_PASSWORD_RESET, user_id, new, timestamp,
                               b64(signature))
        except ApplicationError as e:
            raise _relay_error(e) from None
        finally:
            yield leave(session)
        if local is not None:
            yield threads.deferToThread(
                SecretStore(account_dir, user_id, new_password, memory_kib).save, local)
            yield _pin_locally(reactor, account_dir, local, ScramParameters.of(verifier))
            return True
        return False if lock else None
    finally:
        if lock is not None:
            lock.release()


# === talking to the relay =================================================================


@defer.inlineCallbacks
def _pin_locally(reactor: Any, account_dir: str, keys: dict[str, str],
                 parameters: ScramParameters) -> Any:
    """Pin the new verifier's parameters in this device's (closed) account database."""
    store = AccountStore(os.path.join(account_dir, "account.sqlite"), reactor,
                         database_key(bytes.fromhex(keys["local_key"])))
    yield store.start()
    try:
        yield pin_scram_parameters(store, parameters)
    finally:
        yield store.stop()


@defer.inlineCallbacks
def _call(reactor: Any, url: str, credentials: Credentials, serializer: str,
          procedure: str | None, *args: Any, ca_file: str | None = None) -> Any:
    """Join, make one call and leave; with no procedure, only prove the credentials and
    return the session (its `scram_parameters` say what the login accepted)."""
    try:
        session = yield connect(reactor, url, credentials, serializer, ca_file=ca_file)
    except ConnectError as e:
        raise ClientError(f"could not reach the relay ({type(e).__name__}): nothing was "
                          "changed") from None
    try:
        if procedure is not None:
            return (yield session.call(procedure, *args))
        return session
    except ApplicationError as e:
        raise _relay_error(e) from None
    finally:
        yield leave(session)



def _relay_error(e: ApplicationError) -> Exception:
    if e.error == uris.ERR_NO_SUCH_ACCOUNT:
        return NoSuchAccount("there is no account with this email")
    if e.error in (uris.ERR_RECOVERY_UNAVAILABLE, uris.ERR_RESET_EXPIRED, uris.ERR_RATE_LIMITED,
                   uris.ERR_BAD_SIGNATURE):
        return ClientError(f"the relay refused: {e.error_message()}")
    return e


def _join_error(e: JoinRefused) -> ClientError:
    if e.reason == uris.ERR_RATE_LIMITED:
        return ClientError("too many wrong passwords for this account: try again later")
    return ClientError(f"the relay refused the sign-in ({e.reason})")
