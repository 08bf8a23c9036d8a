"""The short authentication string both devices show, and the MACs that confirm each
side's keys (see securechat.client.linking)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs
import vodozemac
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from securechat.protocol.encoding import b64, unb64
from securechat.protocol.keys import device_certificate

# Matrix's SAS emoji table (spec: m.key.verification, "sas-method-emoji"), index -> emoji, name.
EMOJI = (
    ("🐶", "Dog"), ("🐱", "Cat"), ("🦁", "Lion"), ("🐎", "Horse"), ("🦄", "Unicorn"),
    ("🐷", "Pig"), ("🐘", "Elephant"), ("🐰", "Rabbit"), ("🐼", "Panda"), ("🐓", "Rooster"),
    ("🐧", "Penguin"), ("🐢", "Turtle"), ("🐟", "Fish"), ("🐙", "Octopus"),
    ("🦋", "Butterfly"), ("🌷", "Flower"), ("🌳", "Tree"), ("🌵", "Cactus"),
    ("🍄", "Mushroom"), ("🌏", "Globe"), ("🌙", "Moon"), ("☁️", "Cloud"), ("🔥", "Fire"),
    ("🍌", "Banana"), ("🍎", "Apple"), ("🍓", "Strawberry"), ("🌽", "Corn"), ("🍕", "Pizza"),
    ("🎂", "Cake"), ("❤️", "Heart"), ("😀", "Smiley"), ("🤖", "Robot"), ("🎩", "Hat"),
    ("👓", "Glasses"), ("🔧", "Spanner"), ("🎅", "Santa"), ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"), ("⌛", "Hourglass"), ("⏰", "Clock"), ("🎁", "Gift"),
    ("💡", "Light Bulb"), ("📕", "Book"), ("✏️", "Pencil"), ("📎", "Paperclip"),
    ("✂️", "Scissors"), ("🔒", "Lock"), ("🔑", "Key"), ("🔨", "Hammer"), ("☎️", "Telephone"),
    ("🏁", "Flag"), ("🚂", "Train"), ("🚲", "Bicycle"), ("✈️", "Aeroplane"), ("🚀", "Rocket"),
    ("🏆", "Trophy"), ("⚽", "Ball"), ("🎸", "Guitar"), ("🎺", "Trumpet"), ("🔔", "Bell"),
    ("⚓", "Anchor"), ("🎧", "Headphones"), ("📁", "Folder"), ("📌", "Pin"),
)


@attrs.frozen
class LinkCode:
    """What both screens show: compare either the emoji or the numbers."""

    emoji: tuple[tuple[str, str], ...]  # 7 x (emoji, English name)
    decimals: tuple[int, int, int]  # each 1000..9191

    @property
    def emoji_text(self) -> str:
        return "  ".join(f"{e} {name}" for e, name in self.emoji)

    @property
    def decimal_text(self) -> str:
        return " ".join(f"{d:04d}" for d in self.decimals)


@attrs.frozen
class DeviceKeys:
    """A device's keys as the relay lists them (and as the MAC must confirm them)."""

    user_id: str
    device_id: str
    signing_key: str  # Ed25519, hex
    identity_key: str  # Curve25519, base64
    signature: str | None = None

    @classmethod
    def from_listing(cls, entry: dict[str, Any]) -> DeviceKeys:
        return cls(str(entry["user_id"]), str(entry["device_id"]), str(entry["signing_key"]),
                   str(entry["identity_key"]), entry.get("signature") or None)

    def mac_input(self) -> str:
        return json.dumps({"device_id": self.device_id, "identity_key": self.identity_key,
                           "signing_key": self.signing_key, "user_id": self.user_id},
                          sort_keys=True, separators=(",", ":"))

    def certified_by(self, account_key: bytes) -> bool:
        if not self.signature:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(account_key).verify(
                unb64(self.signature), device_certificate(
                    self.user_id, self.device_id, self.signing_key, self.identity_key))
        except (InvalidSignature, ValueError):
            return False
        return True


class Sas:
    """One side's SAS: its key pair, the commitment, the code and the MACs."""

    def __init__(self, user_id: str, requester: str, approver: str, txn: str) -> None:
        self._sas = vodozemac.Sas()
        self.public_key = str(self._sas.public_key.to_base64())
        self._user_id, self._requester, self._approver, self._txn = (
            user_id, requester, approver, txn)
        self._established: Any = None

    @staticmethod
    def commitment(public_key: str, txn: str) -> str:
        return b64(hashlib.sha256(f"{public_key}|{txn}".encode("ascii")).digest())

    def establish(self, requester_key: str, approver_key: str) -> LinkCode:
        their = approver_key if requester_key == self.public_key else requester_key
        self._established = self._sas.diffie_hellman(
            vodozemac.Curve25519PublicKey.from_base64(their))
        sas_bytes = self._established.bytes(
            f"SECURECHAT_LINK_SAS|{self._user_id}|{self._requester}|{requester_key}|"
            f"{self._approver}|{approver_key}|{self._txn}")
        return LinkCode(tuple(EMOJI[i] for i in sas_bytes.emoji_indices),
                        tuple(sas_bytes.decimals))

    def _info(self, sender: str, receiver: str) -> str:
        return f"SECURECHAT_LINK_MAC|{self._user_id}|{sender}|{receiver}|{self._txn}"

    def mac(self, mine: DeviceKeys, receiver: str) -> str:
        return str(self._established.calculate_mac(mine.mac_input(),
                                                   self._info(mine.device_id, receiver)))

    def verify(self, mac: str, theirs: DeviceKeys, receiver: str) -> bool:
        if self._established is None:  # a MAC before the key exchange: out of order
            return False
        try:
            self._established.verify_mac(theirs.mac_input(),
                                         self._info(theirs.device_id, receiver), mac)
        except vodozemac.SasException:
            return False
        return True
