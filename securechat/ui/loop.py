"""One loop per process: Qt's, shared by asyncio (qasync) and Twisted (asyncioreactor).

`install()` must run before anything imports `twisted.internet.reactor`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from PyQt6.QtWidgets import QApplication


def install(argv: list[str] | None = None) -> tuple[QApplication, Any]:
    """Create (or reuse) the QApplication, put a qasync loop under asyncio and install
    Twisted's asyncio reactor on it. Returns (app, reactor)."""
    import qasync

    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor

        if _on_qasync(reactor):
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            return app, reactor
        raise RuntimeError("a Twisted reactor was installed before the Qt loop")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import reactor

    return app, reactor


def _on_qasync(reactor: Any) -> bool:
    import qasync

    return isinstance(getattr(reactor, "_asyncioEventloop", None), qasync.QEventLoop)


def is_installed() -> bool:
    """True when the running reactor is the asyncio reactor on a qasync loop."""
    if "twisted.internet.reactor" not in sys.modules:
        return False
    from twisted.internet import reactor

    return _on_qasync(reactor)
