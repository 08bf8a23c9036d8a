"""Write securechat/ui/i18n/securechat.ts: every UI string, for Qt Linguist.

    .venv/bin/python scripts/make_ts.py

Copy it to securechat_<lang>.ts (securechat_fr.ts), translate it in Qt Linguist and
compile it with `lrelease` into securechat_<lang>.qm next to it: the client loads the
one matching the system's language at start (securechat.ui.strings).
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from securechat.ui import strings  # noqa: E402


def sources() -> list[str]:
    texts: list[str] = []
    for value in strings._SOURCE.values():
        for text in (value.values() if isinstance(value, dict) else [value]):
            if text not in texts:
                texts.append(text)
    return texts


def main() -> None:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<!DOCTYPE TS>",
             '<TS version="2.1">', "<context>", f"    <name>{strings.CONTEXT}</name>"]
    for text in sources():
        lines += ["    <message>", f"        <source>{escape(text)}</source>",
                  '        <translation type="unfinished"></translation>', "    </message>"]
    lines += ["</context>", "</TS>", ""]
    out = Path(strings.I18N_DIR) / "securechat.ts"
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"{out.relative_to(ROOT)}: {len(sources())} strings")


if __name__ == "__main__":
    main()
