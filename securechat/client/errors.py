"""Every refusal of the client core a user may see: each carries a message fit to show.

The UI, the CLI and bots catch `ClientError` (or one of these) and print `str(e)`;
anything else escaping the core is a bug, logged in full and shown as a generic error.
"""

from __future__ import annotations


class ClientError(Exception):
    """A request the client core refuses, with a message fit for the user."""


class NoSuchAccount(ClientError):
    pass


class AccountExists(ClientError):
    pass


class AccountInUse(ClientError):
    pass


class IdentityKeyChangedError(ClientError):
    """A contact's account key changed: nothing is sent to them until the user accepts it."""


class WrongPassword(ClientError):
    """The password does not open this account's sealed keys (or the relay refused it)."""


class CorruptBlob(ClientError):
    """Sealed recovery data (the relay's recovery blob, recovery.bin) is not in a format
    this client knows: damaged, or not SecureChat's."""


class LinkFailed(ClientError):
    """The link ended without trust; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PasswordTooShort(ClientError):
    """A new master password shorter than MIN_PASSWORD_LENGTH characters."""


class InvalidPin(ClientError):
    """Not 6 to 12 digits."""


class WrongPin(ClientError):
    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN: {tries_left} {'try' if tries_left == 1 else 'tries'} left")
        self.tries_left = tries_left


class PinLocked(ClientError):
    def __init__(self) -> None:
        super().__init__("too many wrong PINs: the PIN is erased, use your master password")


class InvalidRecoveryPhrase(ClientError):
    """Not 12 words of the BIP39 list with a valid checksum: a typo, not a wrong phrase."""


class WrongRecoveryPhrase(ClientError):
    """A well-formed phrase, but not this account's."""


class RecoveryPhraseNeeded(ClientError):
    """Signing in on a new device takes the recovery phrase too."""


class CreatedNotSetUp(ClientError):
    """The account was registered on the relay but this device could not be set up:
    the recovery phrase must still be shown, or the account is lost."""

    def __init__(self, reason: str, recovery_phrase: str) -> None:
        super().__init__(f"the account was created, but this device could not be set up "
                         f"({reason}): sign in with the password and the recovery phrase")
        self.recovery_phrase = recovery_phrase

    def __repr__(self) -> str:  # never the phrase in a log line
        return f"CreatedNotSetUp({str(self)!r})"


class EmailCodeRequired(ClientError):
    """The relay registers an email only with the code it mails there."""


class EmailCodeRejected(ClientError):
    """The code is wrong (`expired` False: try again) or no longer valid (ask anew)."""

    def __init__(self, message: str, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


class MailFailed(ClientError):
    """The relay could not send the mail."""


class WeakVerifier(ClientError):
    """The relay wants costlier Argon2id settings for the password than were used."""


class InsecureRelayUrl(ClientError):
    """A relay URL this client will not connect to (not wss://, not loopback)."""


class LoginParametersRefused(ClientError):
    """The relay's password CHALLENGE was refused before any proof was computed."""


class RelayNotProven(ClientError):
    """The relay's WELCOME to a password login does not prove it holds the verifier."""


class MissingSecrets(ClientError):
    """The account's keys are gone or damaged on this device."""


class UnreadableDatabase(ClientError):
    """The account's database does not open with this device's key."""


class BadCaFile(ClientError):
    """The --ca-file cannot be read or holds no PEM certificate."""


class DatabaseFromNewerVersion(ClientError):
    """A newer version of SecureChat wrote the account's database (left untouched)."""


class NotCaughtUp(ClientError):
    """`wait_caught_up` gave up: `event` is the events.ConnectionStateChanged that says
    why (the relay unreachable, or refusing this device), None if it was too slow."""

    def __init__(self, message: str, event: object | None) -> None:
        super().__init__(message)
        self.event = event


class InvalidCode(ClientError):
    """A TOTP (or recovery) code that does not verify: mistyped, expired, or used."""

    def __init__(self, message: str = "Invalid code: check your authenticator app and "
                 "try again") -> None:
        super().__init__(message)


class MfaLockedOut(ClientError):
    """Too many wrong codes in a row: the next try is refused for `retry_after` s."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(f"too many wrong codes: try again in {seconds} s")
        self.retry_after = float(retry_after)


class VaultLocked(ClientError):
    """The vault is locked: unlock it (with the MFA code) first."""


class VaultPasswordNeeded(ClientError):
    """The account was opened with the PIN: the vault key comes from the recovery
    phrase, which only the master password opens."""


class VaultCorrupted(ClientError):
    """The vault's files are damaged: `Vault.reset` (after explicit confirmation) starts
    an empty one."""


class StorageFull(ClientError):
    """No room left (the disk, or the vault's quota): nothing was changed."""


class BackupError(ClientError):
    """A backup could not be made or restored; nothing existing was changed."""


class BackupDecryptionFailed(BackupError):
    """Wrong passphrase (or a tampered file: AES-GCM cannot tell them apart)."""


class CorruptBackup(BackupError):
    """Truncated, tampered, or not a SecureChat backup."""


class BackupMissingEmail(BackupError):
    """metadata.json is absent or has no account email."""


class InvalidAvatar(ClientError):
    """A picture that cannot be an avatar (not an image, too large, unreadable); the
    message says why."""
# --- encrypted file sharing (client.files) --------------------------------------------


class FileReadError(ClientError):
    """The file to send cannot be read (missing, a folder, no permission)."""


class FileTooLarge(ClientError):
    """Larger than this client or the relay sends (`max_bytes`)."""

    def __init__(self, message: str, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class FileQuotaExceeded(StorageFull):
    """The relay's quota for my files is used up ("Storage full")."""


class FileRejected(ClientError):
    """A received file failed verification (a chunk kept failing, or its SHA-256 is not
    what the sender announced): nothing of it is kept."""


class FileUnavailable(ClientError):
    """The file is not (or no longer) on the relay, or not downloaded here."""


class TransferCanceled(ClientError):
    """The transfer was canceled."""
