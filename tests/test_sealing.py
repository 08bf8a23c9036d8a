"""Sealed blobs (securechat.crypto.sealing): what was sealed before still opens, new blobs
keep the documented layout, and a hostile header or a moved blob does not open."""

from __future__ import annotations

import json
import os
import struct

import keyring
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from keyring.backends import fail
from mnemonic import Mnemonic
from twisted.trial import unittest

from securechat.client import pin, recovery
from securechat.client.errors import ClientError, CorruptBlob, WrongPassword
from securechat.client.keys import AccountSecrets, open_recovery
from securechat.client.pin import WrongPin
from securechat.client.recovery import WrongRecoveryPhrase
from securechat.client.secrets import MissingSecrets, SecretStore
from securechat.crypto.sealing import (
    CostsOutOfBounds,
    KdfBounds,
    KeySealing,
    PasswordSealing,
    UnknownFormat,
    WrongKey,
    random_key,
)
from securechat.protocol.keys import user_id_for_email
from tests.test_client_faults import install_keychain

# What the blobs below hold. Made with the sealing code as it was before
# securechat/crypto/sealing.py existed (commit a4b2013: keys.seal_recovery,
# secrets.SecretStore.save, pin.set_pin without and with a keychain, recovery.seal_blob and
# save_local_copy), so that accounts, relay blobs, PIN files and secrets.bin files written
# by earlier versions keep opening.
USER_ID = user_id_for_email("alice@example.org")
PHRASE = Mnemonic("english").to_mnemonic(bytes(range(16)))
SEED = bytes(range(32))
PASSWORD = "correct horse battery staple"
PIN = "482916"
DEVICE_KEYS = {"local_key": "11" * 32, "device_seed": "22" * 32, "identity_public": "33" * 32}
ALL_KEYS = {**DEVICE_KEYS, "identity_seed": SEED.hex(), "mnemonic": PHRASE}


def vector(kind: str) -> bytes:
    return bytes.fromhex("".join(BEFORE[kind]))


class NoKeychain(unittest.TestCase):
    def setUp(self) -> None:
        previous = keyring.get_keyring()
        keyring.set_keyring(fail.Keyring())
        self.addCleanup(keyring.set_keyring, previous)

    def account_dir(self, files: dict[str, bytes] | None = None) -> str:
        """A device's directory for the account, holding these files."""
        path = os.path.join(self.mktemp(), USER_ID)
        os.makedirs(path)
        for name, data in (files or {}).items():
            with open(os.path.join(path, name), "wb") as f:
                f.write(data)
        return path


class BlobsSealedBeforeStillOpen(NoKeychain):
    def test_the_old_password_sealed_relay_blob(self) -> None:
        self.assertEqual(open_recovery(vector("SCR1"), PASSWORD, USER_ID),
                         AccountSecrets(SEED, PHRASE))
        with self.assertRaises(WrongPassword):
            open_recovery(vector("SCR1"), "not the password", USER_ID)

    def test_the_phrase_sealed_relay_blob(self) -> None:
        self.assertEqual(recovery.open_blob(vector("SCR2"), PHRASE, USER_ID),
                         AccountSecrets(SEED, PHRASE))

    def test_secrets_bin(self) -> None:
        directory = self.account_dir({"secrets.bin": vector("SCS1")})
        self.assertEqual(SecretStore(directory, USER_ID, PASSWORD).load(), ALL_KEYS)
        with self.assertRaises(WrongPassword):
            SecretStore(directory, USER_ID, "not the password").load()

    def test_recovery_bin(self) -> None:
        directory = self.account_dir({"recovery.bin": vector("SCL1")})
        self.assertEqual(recovery.load_local_copy(directory, USER_ID, PHRASE), ALL_KEYS)

    def test_a_pin_file_without_a_keychain(self) -> None:
        directory = self.account_dir({"pin.bin": vector("SCP2")})
        with self.assertRaises(WrongPin):
            pin.unlock(directory, "000000")
        self.assertEqual(pin.unlock(directory, PIN), DEVICE_KEYS)

    def test_a_pin_file_bound_to_the_keychain(self) -> None:
        keychain = install_keychain(self)
        keychain.items[("securechat", KEYCHAIN_ENTRY[0])] = KEYCHAIN_ENTRY[1]
        directory = self.account_dir({"pin.bin": vector("SCK1")})
        self.assertEqual(pin.unlock(directory, PIN), DEVICE_KEYS)


class NewBlobsKeepTheDocumentedLayout(NoKeychain):
    """Read here without the sealing module, as another client (or an older version of
    this one, on another device of the account) reads them."""

    def test_password_sealed(self) -> None:
        directory = self.account_dir()
        SecretStore(directory, USER_ID, PASSWORD, memory_kib=8192).save(ALL_KEYS)
        with open(os.path.join(directory, "secrets.bin"), "rb") as f:
            blob = f.read()
        magic, passes, memory, salt, nonce = struct.unpack_from(">4sBI16s12s", blob)
        self.assertEqual((magic, passes, memory), (b"SCS1", 3, 8192))
        key = hash_secret_raw(PASSWORD.encode(), salt, time_cost=passes, memory_cost=memory,
                              parallelism=1, hash_len=32, type=Type.ID)
        plaintext = AESGCM(key).decrypt(nonce, blob[37:], blob[:37] + USER_ID.encode())
        self.assertEqual(json.loads(plaintext), ALL_KEYS)

    def test_phrase_sealed(self) -> None:
        blob = recovery.seal_blob(AccountSecrets(SEED, PHRASE), USER_ID)
        # docs/protocol.md, "The recovery blob"
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"securechat recovery phrase",
                   info=b"relay blob:" + USER_ID.encode()).derive(bytes(range(16)))
        self.assertEqual(blob[:4], b"SCR2")
        plaintext = AESGCM(key).decrypt(blob[4:16], blob[16:], blob[:16] + USER_ID.encode())
        self.assertEqual(json.loads(plaintext), {"v": 2, "identity_seed": SEED.hex()})

    def test_key_sealed_with_a_key_id(self) -> None:
        kind, key, key_id = KeySealing(b"TST1", key_id_size=16), random_key(), os.urandom(16)
        blob = kind.seal(b"sealed", key, b"context", key_id=key_id)
        self.assertEqual((blob[:4], blob[4:20], kind.key_id(blob[:kind.header_size])),
                         (b"TST1", key_id, key_id))
        self.assertEqual(AESGCM(key).decrypt(blob[20:32], blob[32:], blob[:32] + b"context"),
                         b"sealed")


class HostileOrMovedBlobs(unittest.TestCase):
    kind = PasswordSealing(b"TST1", KdfBounds(passes=range(1, 3), memory_kib=range(8192, 9000)))

    def test_a_blob_opens_only_with_its_secret_and_context(self) -> None:
        blob = self.kind.seal(b"sealed", "secret", b"user-1", 1, 8192)
        self.assertEqual(self.kind.open(blob, "secret", b"user-1"), b"sealed")
        for secret, context in (("other secret", b"user-1"), ("secret", b"user-2")):
            with self.assertRaises(WrongKey):
                self.kind.open(blob, secret, context)

    def test_an_edited_header_does_not_open(self) -> None:
        blob = self.kind.seal(b"sealed", "secret", b"user-1", 1, 8192)
        other_salt = blob[:9] + bytes(16) + blob[25:]
        more_passes = blob[:4] + b"\x02" + blob[5:]  # within bounds
        for edited in (other_salt, more_passes):
            with self.assertRaises(WrongKey):
                self.kind.open(edited, "secret", b"user-1")

    def test_a_header_asking_for_costs_out_of_bounds_is_refused_before_deriving(self) -> None:
        blob = self.kind.seal(b"sealed", "secret", b"user-1", 1, 8192)
        four_gib = blob[:5] + struct.pack(">I", 4 * 1024 * 1024) + blob[9:]
        no_passes = blob[:4] + b"\x00" + blob[5:]
        for hostile in (four_gib, no_passes, blob[:4] + b"\xff" + blob[5:]):
            with self.assertRaises(UnknownFormat) as caught:
                self.kind.open(hostile, "secret", b"user-1")
            # refused for its header: Argon2id never ran (4 GiB would fail otherwise)
            self.assertIn("out of bounds", str(caught.exception))

    def test_not_a_blob_of_this_kind(self) -> None:
        blob = self.kind.seal(b"sealed", "secret", b"user-1", 1, 8192)
        other = PasswordSealing(b"TST2", self.kind.bounds)
        for damaged, says in ((blob[:40], "too short"), (b"", "too short")):
            with self.assertRaises(UnknownFormat) as caught:
                self.kind.open(damaged, "secret", b"user-1")
            self.assertIn(says, str(caught.exception))
        with self.assertRaises(UnknownFormat) as caught:
            other.open(blob, "secret", b"user-1")
        self.assertIn("not of this kind", str(caught.exception))

    def test_sealing_refuses_costs_that_opening_would_refuse(self) -> None:
        with self.assertRaises(CostsOutOfBounds):
            self.kind.seal(b"sealed", "secret", b"user-1", 3, 8192)

    def test_the_relay_blob_is_held_to_what_a_scram_verifier_may_cost(self) -> None:
        # a relay (which stores the blob) asking for 512 MiB of Argon2id: refused
        old = vector("SCR1")
        greedy = old[:5] + struct.pack(">I", 512 * 1024) + old[9:]
        with self.assertRaises(CorruptBlob) as caught:
            open_recovery(greedy, PASSWORD, USER_ID)
        self.assertIsInstance(caught.exception, ClientError)  # the CLI and UI show it
        self.assertIn("out of bounds", str(caught.exception))
        with self.assertRaises(WrongPassword):  # within bounds, but not what was sealed
            open_recovery(old[:4] + b"\x02" + old[5:], PASSWORD, USER_ID)

    def test_a_local_file_is_sealed_only_under_costs_it_can_be_opened_with(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        store = SecretStore(directory, USER_ID, PASSWORD, memory_kib=2 * 1024 * 1024)
        with self.assertRaises(ClientError) as caught:
            store.save(ALL_KEYS)
        self.assertIn("out of bounds", str(caught.exception))
        self.assertEqual(os.listdir(directory), [])

    def test_a_moved_or_damaged_secrets_file(self) -> None:
        other_user = user_id_for_email("bob@example.org")
        directory = os.path.join(self.mktemp(), other_user)
        os.makedirs(directory)
        with open(os.path.join(directory, "secrets.bin"), "wb") as f:
            f.write(vector("SCS1"))  # alice's, copied into bob's directory
        with self.assertRaises(WrongPassword):
            SecretStore(directory, other_user, PASSWORD).load()
        with open(os.path.join(directory, "secrets.bin"), "wb") as f:
            f.write(b"SCL1" + vector("SCS1")[4:])
        with self.assertRaises(MissingSecrets) as caught:
            SecretStore(directory, other_user, PASSWORD).load()
        self.assertIn("damaged", str(caught.exception))

    def test_a_phrase_blob_of_another_account_or_phrase(self) -> None:
        blob = vector("SCR2")
        other_phrase = Mnemonic("english").to_mnemonic(bytes(16))
        for phrase, user_id in ((other_phrase, USER_ID), (PHRASE, "someone else")):
            with self.assertRaises(WrongRecoveryPhrase):
                recovery.open_blob(blob, phrase, user_id)
        with self.assertRaises(CorruptBlob):
            recovery.open_blob(vector("SCL1"), PHRASE, USER_ID)  # the local copy's kind


BEFORE = {
    "SCR1": (
        "534352310100002000d9dfed8379602584a734702404af07ebe6381336acf4fac25e7a87bd5e83681cffcb7f"
        "af98ff84fad6d0ea2c955453f371149ef6198f3202c89936512dbb3c6f0ed2f65ce079b7f1758e2c1d2a9c46"
        "a69dd67128a16502d3d51b2636e136a973aec60c60a2aeaf447006f3f9397bed4e1e4b7ceb1a74e5439c220a"
        "ebd810c1ae1658415c011f944c4a38fc25af840f176891c974b75f9af34cf81c6ee74077c499ee07c899be03"
        "97ce8996de73ab64f54d739ec5db00c0df088ce29508784b57ec444beb48d809caa7d22cb0a2ad9df6a821df"
        "045c865e21d140d6"
    ),
    "SCS1": (
        "534353310300002000fe1683d71ba0cfd9e83d19755488f0acc524f221bfcdb026b32bd3cffea6d8a289861d"
        "b9949cdf03c34688ccab8e9d836668f9d3f8f46e90b2cefd18cc076c9f984ac89b7f3e117125b197f64d6f5e"
        "d2d491e742500bde1018a405feb94d940ea87d0e0d9105fc2bca12504d7e765d484a38a2373541d4751bd6e4"
        "3db640b91e496df4c25de734b0803720b23949ee575cc0b6631052af60664e21d7297e8e95ea8caf1741cddd"
        "41f1eebb141e34c3eb8781286473bc4dd60ad6f4a947c0844b508e1073106d54cb1d6a72bb94c297af09a2d0"
        "494a5c0b63cd8ba417d99a020bcb32312df4bf2f7466e1a6c00bc5c48741604d935c542778af987929034a67"
        "216dd77a934eb19f144a03bd62c1b5d16c623722485b7a2310d47df484a5107bf0c28c2a092b1403ef6073a3"
        "7fdd08e622e6aa172e0664e3f911def6ce348691c9e0e52f0db2a74d2e5345e9019f57e973450768d6f2b353"
        "bc24144aeb20c82fc53e35dc2111201fe0223581537cd7b8fbe0f87cff4f7d8b46a36b6ab3f345c486b1d35c"
        "23ceb707a403d5fc2f821f13f5e283a0260146bf18b8be34dc3f4de420d9d301116589fe43fe751f523e3b1c"
        "13808995014c7fd8c724101383aa75f5dc312201fbdc32d5d8872656a9ec389324ed56cab20be8"
    ),
    "SCR2": (
        "5343523225f288e2865eafaad08bcb1c239488f13c1e7a7e116c2d303564ff32f3abb36e399f42d89c35a2f7"
        "2135f05e4f761559a7938c22fea7de3035d975024bc81d5ecb61a2a83354a214f0380e6262169a14d55df772"
        "6d231339b4b8e25130b432862110829361697c72d0fe8bd44e8b265951bd1f1f46adf808d6"
    ),
    "SCL1": (
        "53434c31ae081d3d71c95def2ead65df5e269fd7b4c74e8d19dbad6cc93c8e101b077e72554ac8bf30c05e96"
        "5e934a6711d06c6d07ead0311941efdb36edbc81ae221a93e2bd85adbd7dab1c31cf1f01617e36e6b8c13a01"
        "b0a2c2471d4c7b210472bbdd438aa7c6283a4325a10b91bb8bd7656108767411e3b14a4e52042b37a77d377a"
        "b260916705a3e72756f3c83c2e9a1070ab7c3d365c0550a3180ce5f30a9293ea60d2ed197229df0c84c44299"
        "0615faabe37c3e0ca579c877f13b1310b585b83c0c7f393ac1aeafc8cc5a46c3fa2bd40310509d632ae3944b"
        "92dc0f8cc965e341f64b8d7e17cbe455e73ba1f67b6660e759b718a010526af9fbe9b6b46ceb13d981a6c6c5"
        "0b6979ea6fff174e704a5f3ec30a79360fb6221d02c2f9bb69b1b222e6337066a97721da2e4662dd106c0680"
        "12ff56bee86d3c13c52a3801057a4561a9c735ff2c9a28f1690934ec6b64e870a3fd19aab20f103b054ceb0d"
        "ae7992a539e25ef1e57a971b0ffebfd6a1e1dd448fa781c0b4adc4055d6e94ba8fd0d22cc7b2af0f179acdb9"
        "3eaae4913737fb85607eea048017a3a39e804e7048f6f10d85b5cca7aa4d6df598ce5c26acc5bda7dba28ada"
        "de6bcad670b2aed2621e4a0524ad3ebfdb15"
    ),
    "SCP2": (
        "534350320100002000f23529368e2797fcc62f89e70e74722f4d69e7d1b00cb72129698a9e506c8022dacb5a"
        "5084c79dce7b5655073ce3a3ed217f079beef2bc2c3e84a73d104e462f19f230b9c43953519052e44bd9acac"
        "b54a8c683ab73f2be286b5090e708da1d064dd7ea59e71a19b4b91f84d773d13bcbe8ec71d47da84230ece75"
        "e7a3461b64d2668d1e52a0517f25b195df7753153cbf89125b4017acacdf830106f697a19c5306c6c8613b9e"
        "d6e6cc281b2f0346bbcd218fc269f20b12f568754ac886e9aa6fd73ab3ac4af7218cf75d48d423958a92b500"
        "1703d208c84c617cde451a7ddb9cb0ce983c6a356e1eda863b5da45c30630b7071fb20e600b36aaf1e2931fc"
        "83b9d75f5122f774b7db2de31f810890a8c229567bb8cf6a7e82a5f452d857bc293bb429851eaab9"
    ),
    "SCK1": (
        "53434b31431d165ae61e049692b58da84884a31d160a59c21e52a1b667c5c5ce50903806443421f1efd5c632"
        "35e90fd211c9fac26433cc3892e684a78508afb0d636fcdf8969ab7204ffd6091e06a16a3053bbeb641fcd75"
        "96afbfbafb076d382cfcfb0eb4ecce97c55a9a85933b0ec97753ef24e290b8595ff9a1aefd1e9bc81f0ece63"
        "d7cfd309fb62a4a33351bfe4219e46c2525324f23fb11ce4d0c6064b5d2ed2156ef07b2e7f2f7bb96c559d1d"
        "edaf85591917d9cc9e89a112605385e6b7a6e2ffd616ba7f125a02dd3262b8f9f0e8786c2eb420aa62b8f600"
        "57271db7cb85694103672354df8c149de051c0d13854e842a918eeb914e6219b621ce284f6d404d4115aa633"
        "afe52c24caad6c3cc284683bf718d2d3f6e115dd259eb09a2b88c4eafa5b8ada1a98f9e1541eb381158c6539"
        "a75e77a339f6ef565b80b2fab3e70f68434bab4626d3d3ddb9cebd3ec39692dc829f7a705d2d503c2d15284a"
    ),
}
# The keychain entry (name, base64 key) the SCK1 pin.bin names.
KEYCHAIN_ENTRY = (
    "7a64adf28737ea90719cbdf0b1a87a5effff3753b79c91d717f4f4153ead0498"
    "/pin/431d165ae61e049692b58da84884a31d",
    "cUojAA++GPHqHvMbzNq1pOGJZwnmewmKKihsWwXId2w=",
)
