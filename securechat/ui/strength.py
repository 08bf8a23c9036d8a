"""How strong a typed password or passphrase looks: a hint shown as it is typed."""

from __future__ import annotations

import re

MIN_PASSWORD = 10  # the master password's minimum length


def password_strength(password: str, minimum: int = MIN_PASSWORD) -> int:
    """0 (shorter than `minimum`) to 4 (strong): length and variety, a hint only."""
    if len(password) < minimum:
        return 0
    classes = sum(bool(re.search(p, password)) for p in
                  (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    score = 1 + (len(password) >= 14) + (len(password) >= 20) + (classes >= 3)
    return min(4, score)
