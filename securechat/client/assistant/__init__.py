"""The local AI assistant (llama.cpp on this device): see assistant.py."""

from securechat.client.assistant.assistant import Assistant
from securechat.client.assistant.errors import (
    AssistantClosed,
    AssistantError,
    BadChecksum,
    ChecksumMismatch,
    DeviceUnsupported,
    DownloadCancelled,
    DownloadFailed,
    GenerationCancelled,
    GenerationFailed,
    GenerationTimedOut,
    ModelMissing,
    NotEnoughDisk,
    UnverifiedModel,
)
from securechat.client.assistant.model import DEFAULT_MODEL, ModelDownload, ModelSource
from securechat.client.assistant.prompts import LABELS as QUICK_REPLY_LABELS
from securechat.client.assistant.prompts import QuickReply
from securechat.client.assistant.service import Generation, InferenceService, ServiceSettings
from securechat.client.assistant.settings import AssistantSettings

__all__ = [
    "DEFAULT_MODEL",
    "QUICK_REPLY_LABELS",
    "Assistant",
    "AssistantClosed",
    "AssistantError",
    "AssistantSettings",
    "BadChecksum",
    "ChecksumMismatch",
    "DeviceUnsupported",
    "DownloadCancelled",
    "DownloadFailed",
    "Generation",
    "GenerationCancelled",
    "GenerationFailed",
    "GenerationTimedOut",
    "InferenceService",
    "ModelDownload",
    "ModelMissing",
    "ModelSource",
    "NotEnoughDisk",
    "QuickReply",
    "ServiceSettings",
    "UnverifiedModel",
]
