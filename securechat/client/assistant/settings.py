"""The assistant's settings on this device (assistant.json in the data directory).

Per device, not per account: the model file is hundreds of MB, and one copy serves
every account on the device; nothing in here is secret (a path, a URL, numbers).
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs

from securechat.client.assistant.model import DEFAULT_MODEL, ModelSource
from securechat.client.assistant.service import ServiceSettings

SETTINGS_FILE = "assistant.json"
MODELS_DIR = "models"


@attrs.define
class AssistantSettings:
    model_path: str | None = None  # a chosen or downloaded .gguf file
    model_url: str = DEFAULT_MODEL.url
    model_sha256: str | None = DEFAULT_MODEL.sha256
    threads: int | None = None  # None: all cores
    timeout_s: float = 120.0
    idle_unload_minutes: float = 10.0
    enabled: bool = True

    @classmethod
    def saved(cls, data_dir: str) -> AssistantSettings:
        """The settings saved on this device (the defaults when there are none)."""
        return load(data_dir)

    def service(self) -> ServiceSettings:
        return ServiceSettings(model_path=self.model_path, threads=self.threads,
                               timeout_s=self.timeout_s,
                               idle_unload_s=self.idle_unload_minutes * 60)

    def source(self) -> ModelSource:
        filename = self.model_url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        if not filename.endswith(".gguf"):
            filename = "model.gguf"
        size = DEFAULT_MODEL.size if self.model_url == DEFAULT_MODEL.url else None
        return ModelSource(self.model_url, filename, self.model_sha256 or None, size)


def load(data_dir: str) -> AssistantSettings:
    """The saved settings; the defaults when there are none (or they are unreadable)."""
    try:
        with open(os.path.join(data_dir, SETTINGS_FILE), encoding="utf-8") as f:
            saved: dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        return AssistantSettings()
    known = {a.name for a in attrs.fields(AssistantSettings)}
    try:
        return AssistantSettings(**{k: v for k, v in saved.items() if k in known})
    except TypeError:
        return AssistantSettings()


def save(data_dir: str, settings: AssistantSettings) -> None:
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    path = os.path.join(data_dir, SETTINGS_FILE)
    with open(path + ".new", "w", encoding="utf-8") as f:
        json.dump(attrs.asdict(settings), f, indent=1)
    os.replace(path + ".new", path)
