"""Run trial over tests/ with the options in trial.cfg; end with 'N passed, N failed'."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^(PASSED|FAILED) \((.*)\)$")


def trial_options() -> list[str]:
    options = []
    for line in (ROOT / "trial.cfg").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            options += shlex.split(line)
    return options


def main(argv: list[str]) -> int:
    tests = argv or ["tests"]
    command = [sys.executable, "-m", "twisted.trial", *trial_options(), *tests]
    # The checkout itself on the path: `tests` is not an installed package.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
    counts: dict[str, int] = {}
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        match = SUMMARY.match(line.strip())
        if match:
            counts = {k: int(v) for k, v in
                      (item.split("=") for item in match.group(2).split(", ") if "=" in item)}
    code = process.wait()
    passed = counts.get("successes", 0) + counts.get("expectedFailures", 0)
    failed = (counts.get("failures", 0) + counts.get("errors", 0)
              + counts.get("unexpectedSuccesses", 0))
    if not counts and code:
        failed = max(failed, 1)  # trial died before summarising: never report green
    line = f"{passed} passed, {failed} failed"
    if counts.get("skips"):
        line += f", {counts['skips']} skipped"
    sys.stdout.write("\n" + line + "\n")
    return code or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
