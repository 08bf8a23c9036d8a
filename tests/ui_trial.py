"""Runs trial with Twisted's asyncio reactor on a qasync (Qt) loop, for the UI tests.

`python -m tests.ui_trial [trial options] tests.test_ui` - scripts/run_trial.py does this.
The loop must exist before trial (or anything) imports the reactor, so trial gets
no --reactor option: the reactor is already installed when it starts.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from securechat.ui import loop

    app, _ = loop.install(["trial"])
    app.setQuitOnLastWindowClosed(False)  # the tests open and close windows
    from twisted.scripts.trial import run

    sys.argv = ["trial", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
