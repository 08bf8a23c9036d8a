"""What the assistant refuses or fails at, each with a message fit to show (the spec's
error table: download failed → retry; native init failed → device unsupported;
generation timeout / out of memory → cancelled, and the user told)."""

from __future__ import annotations

from securechat.client.errors import ClientError


class AssistantError(ClientError):
    """Any refusal of the local assistant."""


class ModelMissing(AssistantError):
    """No model file yet: download one or choose a .gguf file in the settings."""


class DeviceUnsupported(AssistantError):
    """The model cannot run here (not a GGUF file, damaged, an architecture this
    llama.cpp does not know, not enough memory to load it, llama.cpp not installed):
    `reason` says which. The assistant stays off until another model is chosen."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"device unsupported: {reason}")
        self.reason = reason


class DownloadFailed(AssistantError):
    """The model download stopped (network, server, disk); `retry` resumes it from
    where it stopped when that can help."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        hint = " — retry to resume the download" if retry else ""
        super().__init__(f"download failed: {reason}{hint}")
        self.reason = reason
        self.retry = retry


class NotEnoughDisk(DownloadFailed):
    """Checked before downloading: the model would not fit on the disk."""

    def __init__(self, needed: int, free: int) -> None:
        super().__init__(f"not enough disk space: the model needs {needed / 1e6:.1f} MB, "
                         f"{free / 1e6:.1f} MB are free", retry=False)
        self.needed, self.free = needed, free


class ChecksumMismatch(DownloadFailed):
    """The downloaded file is not the model expected (SHA-256): it is deleted."""

    def __init__(self) -> None:
        super().__init__("the downloaded file does not match its SHA-256 checksum and was "
                         "deleted", retry=True)


class UnverifiedModel(AssistantError):
    """The model to download has no SHA-256 checksum: what comes could be anything, so
    it is only downloaded once the user has said so (`allow_unverified`)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"the model from {host} has no SHA-256 checksum, so the download "
                         "cannot be verified: enter the checksum published with the model, "
                         "or confirm that you want it unverified")
        self.host = host


class BadChecksum(AssistantError):
    """The SHA-256 checksum given for a model is not 64 hexadecimal digits."""

    def __init__(self) -> None:
        super().__init__("a SHA-256 checksum is 64 hexadecimal digits (0-9, a-f)")


class DownloadCancelled(AssistantError):
    """The user cancelled the download; what came is kept, to resume later."""


class GenerationCancelled(AssistantError):
    """The user stopped the generation (the text so far is in `Generation.text`)."""


class GenerationTimedOut(AssistantError):
    """The generation ran longer than the timeout and was cancelled."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the assistant took longer than {seconds:g} s and was stopped; "
                         "try a shorter text, or a longer timeout in the settings")
        self.seconds = seconds


class GenerationFailed(AssistantError):
    """llama.cpp failed mid-generation (out of memory, the context is full, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the assistant failed and was stopped: {reason}")
        self.reason = reason


class AssistantClosed(AssistantError):
    """The assistant was shut down (the app is closing)."""
