"""The CA file the desktop client trusts for a wss:// relay, remembered per relay URL.

`securechat --relay wss://… --ca-file PATH` stores PATH in the settings under that
URL; later starts with the same --relay use it without --ca-file (`--ca-file ""`
forgets it).
"""

from __future__ import annotations

import json
import os

from PyQt6.QtCore import QSettings

KEY = "relay/ca_files"  # JSON: {relay URL: absolute path of the PEM file}


def _remembered(settings: QSettings) -> dict[str, str]:
    try:
        stored = json.loads(str(settings.value(KEY, "{}")))
    except ValueError:
        return {}
    if not isinstance(stored, dict):
        return {}
    return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)}


def ca_file_for(settings: QSettings, url: str, given: str | None) -> str | None:
    """The CA file to trust for `url`: `given` (then remembered for it; "" forgets),
    else the one remembered for it, else None (the system's CAs)."""
    remembered = _remembered(settings)
    if given is None:
        return remembered.get(url)
    if given:
        remembered[url] = os.path.abspath(given)
    else:
        remembered.pop(url, None)
    settings.setValue(KEY, json.dumps(remembered))
    return remembered.get(url)
