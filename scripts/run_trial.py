"""Run trial over tests/ with the options in trial.cfg; end with 'N passed, N failed'.

The UI tests (tests.test_ui*) need Twisted's asyncio reactor on a Qt (qasync) loop,
installed before anything imports the reactor, so they run in a second trial process
started through tests/ui_trial.py; the call tests (tests.test_call*) run in a third, on
Twisted's asyncio reactor (aiortc); the counts of all processes are added up.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^(PASSED|FAILED) \((.*)\)$")
UI_PREFIX = "tests.test_ui"  # tests/test_ui*.py run on the Qt reactor
# Calls (issue 15): tests/test_call*.py run on Twisted's asyncio reactor (aiortc is
# asyncio), in a trial process of their own; counted with the others.
CALL_PREFIX = "tests.test_call"
# Seconds one trial process may run (the whole suite takes about 5 minutes here).
LIMIT = int(os.environ.get("SECURECHAT_TEST_LIMIT", "2400"))


def trial_options() -> list[str]:
    options = []
    for line in (ROOT / "trial.cfg").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            options += shlex.split(line)
    return options


def split_tests(tests: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(for the default reactor, for the Qt reactor, for the asyncio reactor)."""
    plain: list[str] = []
    ui: list[str] = []
    calls: list[str] = []
    for name in tests:
        if name.rstrip("/") in ("tests", str(ROOT / "tests")):
            names = sorted(f"tests.{p.stem}" for p in (ROOT / "tests").glob("test_*.py"))
        else:
            names = [name]
        for module in names:
            if module.startswith(UI_PREFIX):
                ui.append(module)
            elif module.startswith(CALL_PREFIX):
                calls.append(module)
            else:
                plain.append(module)
    return plain, ui, calls


def run(command: list[str], env: dict[str, str]) -> tuple[dict[str, int], int]:
    """Run one trial process, echoing its output; (its summary counts, exit status).

    A process still running after LIMIT seconds is hung (trial's own per-test timeout
    cannot fire while native code holds the main thread): it is sent SIGABRT, which
    makes faulthandler print every thread's stack, then killed, and counts as failed."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
    hung = threading.Event()

    def abort() -> None:
        hung.set()
        module = command[command.index("-m") + 1]
        sys.stdout.write(f"\n*** {module} still running after {LIMIT} s: hung, killed "
                         "(stacks below)\n")
        process.send_signal(signal.SIGABRT)
        threading.Timer(10, process.kill).start()
    watchdog = threading.Timer(LIMIT, abort)
    watchdog.daemon = True
    watchdog.start()
    counts: dict[str, int] = {}
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        match = SUMMARY.match(line.strip())
        if match:
            counts = {k: int(v) for k, v in
                      (item.split("=") for item in match.group(2).split(", ") if "=" in item)}
    code = process.wait()
    watchdog.cancel()
    return ({} if hung.is_set() else counts), (code or int(hung.is_set()))


def main(argv: list[str]) -> int:
    plain, ui, calls = split_tests(argv or ["tests"])
    options = trial_options()
    # The checkout itself on the path: `tests` is not an installed package.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    runs = []
    if plain:
        runs.append([sys.executable, "-X", "faulthandler", "-m", "twisted.trial", *options,
                     *plain])
    if ui:
        ui_options = [o for o in options if not o.startswith("--temp-directory")]
        ui_env = {**env, "QT_QPA_PLATFORM": env.get("QT_QPA_PLATFORM", "offscreen"),
                  "SECURECHAT_SCREENSHOTS": str(ROOT / "_trial_temp" / "screenshots")}
        runs.append(([sys.executable, "-X", "faulthandler", "-m", "tests.ui_trial", *ui_options,
                      "--temp-directory=_trial_temp/ui", *ui], ui_env))
    if calls:  # calls: the asyncio reactor (aiortc)
        call_options = [o for o in options if not o.startswith("--temp-directory")]
        runs.append([sys.executable, "-X", "faulthandler", "-m", "twisted.trial",
                     "--reactor=asyncio",
                     *call_options, "--temp-directory=_trial_temp_calls", *calls])
    passed = failed = skipped = 0
    worst = 0
    for spec in runs:
        command, run_env = spec if isinstance(spec, tuple) else (spec, env)
        counts, code = run(command, run_env)
        passed += counts.get("successes", 0) + counts.get("expectedFailures", 0)
        bad = (counts.get("failures", 0) + counts.get("errors", 0)
               + counts.get("unexpectedSuccesses", 0))
        if not counts and code:
            bad = max(bad, 1)  # trial died before summarising: never report green
        failed += bad
        skipped += counts.get("skips", 0)
        worst = worst or code
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    sys.stdout.write("\n" + line + "\n")
    return worst or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
