"""`securechat`: the desktop client.

QApplication → qasync.QEventLoop (the asyncio loop) → Twisted's asyncio reactor on it,
installed before anything imports the reactor. Closing the last window stops the
client and then the reactor, which ends the process.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

SHUTDOWN_DEADLINE_S = 20


def parse_args(argv: list[str]) -> argparse.Namespace:
    from securechat.client import (
        INSECURE_FLAG,
        ClientError,
        check_relay_url,
        default_data_dir,
        default_relay_url,
    )

    parser = argparse.ArgumentParser(prog="securechat", description="SecureChat desktop client")
    parser.add_argument("--relay", default=default_relay_url(),
                        help="the relay's ws:// or wss:// URL (default %(default)s)")
    parser.add_argument("--data-dir", default=default_data_dir(),
                        help="where accounts are stored (default %(default)s)")
    parser.add_argument("--ca-file", default=os.environ.get("SECURECHAT_CA_FILE"),
                        metavar="PATH",
                        help="for a wss:// relay: trust this PEM certificate or CA (a "
                             "development certificate, a private CA); remembered for this "
                             "relay URL ('' forgets it)")
    parser.add_argument(INSECURE_FLAG, dest="insecure_ws", action="store_true",
                        help="allow a ws:// relay that is not on this machine: unencrypted, "
                             "anyone on the network can read and change the traffic")
    args = parser.parse_args(argv)
    try:  # before any window: every sign-in would be refused anyway
        check_relay_url(args.relay, args.insecure_ws)
    except ClientError as e:
        parser.error(str(e))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from securechat.ui import loop

    app, reactor = loop.install([sys.argv[0]])  # before anything imports the reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)])
    from PyQt6.QtCore import QSettings

    from securechat.ui import strings as S
    from securechat.ui import theme
    from securechat.ui.windows.shell import ShellWindow

    language = str(QSettings(S.APP_NAME, S.APP_NAME).value("appearance/language", ""))
    S.install_system_translation(language or None)  # before any window is built
    app.setApplicationName(S.APP_NAME)
    app.setOrganizationName(S.APP_NAME)
    theme.apply(app)
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
    from PyQt6.QtCore import QSettings

    from securechat.ui.relay_trust import ca_file_for

    ca_file = ca_file_for(QSettings(), args.relay, args.ca_file)
    window = ShellWindow(reactor, args.data_dir, args.relay, ca_file=ca_file,
                         insecure_ws=args.insecure_ws)
    theme.follow_system(app, window.update)
    app.setQuitOnLastWindowClosed(False)

    overdue: list[bool] = []

    def last_window_closed() -> None:
        def stop(_: Any = None) -> None:
            if reactor.running:
                reactor.stop()

        def deadline() -> None:
            overdue.append(True)
            stop()
        window.shutdown().addBoth(stop)
        # The clients give up on an unresponsive relay after a few seconds; whatever
        # else goes wrong, the process still ends.
        reactor.callLater(SHUTDOWN_DEADLINE_S, deadline)

    app.lastWindowClosed.connect(last_window_closed)
    window.show()
    reactor.run()
    if overdue:  # a database thread may still be busy: it must not keep the process
        sys.stderr.write("securechat: shutdown overran its deadline; exiting now\n")
        sys.stderr.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
