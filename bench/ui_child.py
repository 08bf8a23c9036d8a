"""The measured side of the desktop-client benchmark: fresh interpreters, one per figure set.

Spawned by ``bench/bench_ui.py`` (its docstring gives the method); by hand::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.ui_child reference
    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.ui_child measure --data-dir D --url U \\
        --email E --password P --peer-email F

``reference`` is a bare PyQt6 process: a plain QListView of 50 strings shown and
painted, then 5,000 word-wrapped strings scrolled frame by frame, and a 10 ms timer
on the idle Qt loop. ``measure`` is the real client (``ShellWindow`` on the qasync
loop with Twisted's asyncio reactor, as ``securechat.ui.app`` starts it): unlock,
open the big conversation, scroll back through history, take live messages.

Figures go to the parent as stdout lines ``bench-ui {json}``: ``{"event":
"stream-ready"}`` when the client waits for the live messages, then one ``{"event":
"result", ...}`` (or ``{"event": "failed", "error": ...}``). Qt's and Twisted's
warnings go to stderr. Only the standard library and PyQt6 load at module level: the
reference must be a bare PyQt6 process, and the client installs its Qt loop before
anything imports Twisted's reactor.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlcipher3
from PyQt6.QtCore import QObject, QSettings, Qt, QTimer

PREFIX = "bench-ui "
WINDOW_W, WINDOW_H = 980, 680  # ShellWindow's default size
TICK_MS = 10  # the loop-lateness probe
FRAME_MS = 16  # one scroll step per 60 Hz frame
BACKLOG_PREFIX = "waiting "
LIVE_PREFIX = "live "
_FILLER = ("see you at the station tomorrow, bring the blue folder and the charger "
           "please, and tell me when you leave so I can put the kettle on")


def backlog_text(seq: int) -> str:
    """A message Bob sent while Alice was offline (in the relay's mailbox at unlock)."""
    return f"{BACKLOG_PREFIX}{seq} " + _FILLER[: 40 + seq % 80]


def live_text(seq: int, sent_wall: float) -> str:
    """A message Bob sends while Alice's window is open; carries its send time."""
    return f"{LIVE_PREFIX}{seq} {sent_wall:.6f} " + _FILLER[: 20 + seq % 100]


def emit(event: dict[str, Any]) -> None:
    print(PREFIX + json.dumps(event), flush=True)


def memory_mib() -> dict[str, float]:
    """Resident set now (VmRSS) and its peak so far (VmHWM), MiB."""
    found: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return {"rss": found["VmRSS"], "peak": found["VmHWM"]}


def nearest_rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), as bench.loadgen.percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(int(-(-q * len(ordered) // 100)), 1)
    return float(ordered[min(rank, len(ordered)) - 1])


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """count, median, p95, p99 and max of durations, in ms."""
    ms = [1000 * s for s in seconds]
    return {"count": len(ms), "median": statistics.median(ms) if ms else float("nan"),
            "p95": nearest_rank(ms, 95), "p99": nearest_rank(ms, 99),
            "max": max(ms, default=float("nan"))}


class LoopProbe(QObject):
    """A repeating 10 ms precise QTimer on the loop; each tick records how much later
    than 10 ms after the previous one it ran. Anything that holds the loop (Python
    callbacks, layout, painting, the GIL held by another thread) shows up here."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[tuple[float, float]] = []  # (tick time, lateness), perf_counter s
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.ticks.append((now, max(0.0, now - self._last - TICK_MS / 1000)))
        self._last = now

    def during(self, start: float, end: float) -> dict[str, float]:
        """Lateness (ms) of the ticks whose interval overlaps [start, end]."""
        ticks = [(t, lateness) for t, lateness in self.ticks
                 if t > start and t - lateness - TICK_MS / 1000 < end]
        stats = summary_ms([lateness for _, lateness in ticks])
        worst_at = max(ticks, key=lambda tick: tick[1])[0] - start if ticks else float("nan")
        return {"ticks": stats["count"], "p99": stats["p99"], "worst": stats["max"],
                "worst_at_s": worst_at, "seconds": end - start}


# --------------------------------------------------------------------------- reference


def reference(args: argparse.Namespace) -> dict[str, Any]:
    """A bare PyQt6 process: what showing and scrolling a plain list costs."""
    from PyQt6.QtCore import QStringListModel
    from PyQt6.QtWidgets import QAbstractItemView, QApplication, QListView

    app = QApplication([sys.argv[0]])
    started = time.perf_counter()
    view = QListView()
    view.resize(WINDOW_W, WINDOW_H)
    view.setModel(QStringListModel([f"message {i}: {_FILLER[: 20 + i]}" for i in range(50)]))
    view.show()
    app.processEvents()
    view.repaint()
    show_s = time.perf_counter() - started
    after_show = memory_mib()
    # Scroll frames: 5,000 word-wrapped rows of realistic lengths, per-pixel, the same
    # step per frame as the client's chat view gets.
    rows = [(_FILLER * 2)[: 20 + (i * 37) % 180] for i in range(5000)]
    view.setModel(QStringListModel(rows))
    view.setWordWrap(True)
    view.setUniformItemSizes(False)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.scrollToBottom()
    app.processEvents()
    viewport = view.viewport()
    bar = view.verticalScrollBar()
    assert viewport is not None and bar is not None
    frames: list[float] = []
    while bar.value() > bar.minimum() and len(frames) < 2000:
        t = time.perf_counter()
        bar.setValue(max(bar.minimum(), bar.value() - args.scroll_step))
        viewport.repaint()
        frames.append(time.perf_counter() - t)
    # The 10 ms timer on an idle Qt loop: the platform's own timer jitter.
    probe = LoopProbe()
    probe.start()
    QTimer.singleShot(1000, app.quit)
    idle_from = time.perf_counter()
    app.exec()
    probe.stop()
    return {"event": "result", "show_ms": 1000 * show_s, "rss_mib": after_show["rss"],
            "peak_mib": memory_mib()["peak"], "frames": summary_ms(frames),
            "lateness": probe.during(idle_from, time.perf_counter())}


# --------------------------------------------------------------------------- the client


def when(reactor: Any, signal: Any, ready: Callable[[], bool]) -> Any:
    """A Deferred firing (on the next turn of the loop, so no caller's code runs inside
    the emitting slot) with the perf_counter time of the first emission of `signal`
    after which `ready()` holds; at once if it holds already."""
    from twisted.internet.defer import Deferred

    d: Deferred[float] = Deferred()
    seen: list[float] = []

    def check(*_: Any) -> None:
        if seen or not ready():
            return
        seen.append(time.perf_counter())
        signal.disconnect(check)
        reactor.callLater(0, d.callback, seen[0])

    signal.connect(check)
    check()
    return d


class Inbox:
    """Counts the messages from the peer as the client reports them (after the UI's own
    slots ran: the bridge subscribed first), backlog and live apart."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.ids: set[str] = set()
        self.backlog = 0
        self.live_latency: list[float] = []  # Bob's send_text call to this client's event
        self.duplicates = 0
        self.caught_up = False
        self._waiters: list[tuple[Callable[[], bool], Any]] = []

    def event(self, event: Any) -> None:
        from securechat.client import events as ev

        if isinstance(event, ev.CaughtUp):
            self.caught_up = True
        elif isinstance(event, ev.MessageReceived) and event.peer_user_id == self.peer:
            now = time.time()
            if event.message.id in self.ids:
                self.duplicates += 1
                return
            self.ids.add(event.message.id)
            text = event.message.text
            if text.startswith(BACKLOG_PREFIX):
                self.backlog += 1
            elif text.startswith(LIVE_PREFIX):
                self.live_latency.append(now - float(text.split()[2]))
        else:
            return
        for waiter in list(self._waiters):
            ready, d = waiter
            if ready():
                self._waiters.remove(waiter)
                d.callback(time.perf_counter())

    def until(self, ready: Callable[[], bool]) -> Any:
        from twisted.internet.defer import Deferred, succeed

        if ready():
            return succeed(time.perf_counter())
        d: Deferred[float] = Deferred()
        self._waiters.append((ready, d))
        return d


class Scroller(QObject):
    """Scrolls the chat up `step` px per frame, one frame every 16 ms on the loop, as a
    user flicking upward through history. Reaching the top starts ChatView's own
    load_older; the user waits there until the older page is in, then goes on.

    Frame time: the scroll bar's setValue plus a synchronous repaint of the viewport.
    Page wait: from reaching the top to the older page arriving in the model. Page
    insert: from the model's insert to the view putting the scroll position back (the
    prepend, the relayout of every loaded row, the scroll)."""

    def __init__(self, reactor: Any, chat: Any, target_messages: int, step: int) -> None:
        from twisted.internet.defer import Deferred

        super().__init__()
        self._reactor, self.chat, self.step = reactor, chat, step
        self.target_messages = target_messages  # older messages to scroll back through
        self.older_loaded = 0
        self.bar = chat.view.verticalScrollBar()
        self.viewport = chat.view.viewport()
        self.frames: list[float] = []
        self.page_waits: list[float] = []
        self.page_inserts: list[float] = []
        self.done: Deferred[None] = Deferred()
        self._top_since: float | None = None
        self._insert_started: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame)
        chat.model.rowsAboutToBeInserted.connect(self._inserting)
        self.bar.valueChanged.connect(self._moved)

    def start(self) -> Any:
        self._timer.start()
        return self.done

    def _finished(self) -> bool:
        model = self.chat.model
        at_top = self.bar.value() == self.bar.minimum()
        return self.older_loaded >= self.target_messages or (model.at_start and at_top)

    def _frame(self) -> None:
        if self._finished():
            self._timer.stop()
            self.chat.model.rowsAboutToBeInserted.disconnect(self._inserting)
            self.bar.valueChanged.disconnect(self._moved)
            self._reactor.callLater(0, self.done.callback, None)
            return
        if self._top_since is not None:
            return  # at the top, the older page on its way
        started = time.perf_counter()
        self.bar.setValue(max(self.bar.minimum(), self.bar.value() - self.step))
        at_top = self.bar.value() == self.bar.minimum()
        if at_top and not self.chat.model.at_start:
            self._top_since = time.perf_counter()
        self.viewport.repaint()
        self.frames.append(time.perf_counter() - started)

    def _inserting(self, _parent: Any, first: int, last: int) -> None:
        if first == 0:
            self.older_loaded += last - first + 1
        if first == 0 and self._top_since is not None:
            now = time.perf_counter()
            self.page_waits.append(now - self._top_since)
            self._top_since = None
            self._insert_started = now

    def _moved(self, _value: int) -> None:
        if self._insert_started is not None:
            self.page_inserts.append(time.perf_counter() - self._insert_started)
            self._insert_started = None


def raw_newest_page_s(db_path: str, sid: str, key: bytes, repeat: int = 20) -> float:
    """Median time to read a conversation's newest 50 rows straight from SQLCipher: the
    query AccountStore.messages runs, on a read-only connection of this thread."""
    conn = sqlcipher3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    try:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            rows = conn.execute(
                "SELECT id, sid, sender, text, type, timestamp, status, is_read, reply_to "
                "FROM messages WHERE sid=? AND (timestamp < ? OR (timestamp = ? AND id < ?)) "
                "ORDER BY timestamp DESC, id DESC LIMIT ?",
                (sid, 2**63 - 1, 2**63 - 1, "", 50)).fetchall()
            list(reversed(rows))
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        conn.close()


async def measure(args: argparse.Namespace, app: Any, reactor: Any) -> dict[str, Any]:
    from twisted.internet.defer import Deferred

    from bench.common import BenchFailed, bounded
    from securechat.client.secrets import SecretStore
    from securechat.client.storage import database_key
    from securechat.protocol.keys import user_id_for_email
    from securechat.ui import strings as S
    from securechat.ui import theme
    from securechat.ui.models.roles import Roles
    from securechat.ui.windows.shell import ShellWindow

    stall = args.stall
    S.install_system_translation()
    app.setApplicationName(S.APP_NAME)
    app.setOrganizationName(S.APP_NAME)
    theme.apply(app)
    settings = QSettings(os.path.join(args.workdir or args.data_dir, "ui-settings.ini"),
                         QSettings.Format.IniFormat)
    window = ShellWindow(reactor, args.data_dir, args.url, settings=settings)
    theme.follow_system(app, window.update)
    window.resize(WINDOW_W, WINDOW_H)
    window.show()
    window.activateWindow()
    app.processEvents()
    window.repaint()
    startup_s = time.time() - args.spawned_at
    memory = {"lock screen": memory_mib()}
    probe = LoopProbe()
    probe.start()

    lock, main = window.lock_page, window.main
    chat = main.chat
    peer = user_id_for_email(args.peer_email)
    lock.account.setCurrentText(args.email)
    if lock.account.currentText() != args.email:
        raise BenchFailed(f"the lock screen does not offer {args.email}")
    lock.password.setText(args.password)
    inbox = Inbox(peer)
    opened: Deferred[Any] = Deferred()

    def signed_in(client: Any) -> None:  # synchronously: before any event can arrive
        client.events.subscribe(inbox.event)
        opened.callback((client, time.perf_counter()))

    window.signed_in.connect(signed_in)
    sessions = main.sessions

    def list_filled() -> bool:
        rows = sessions.rowCount()
        return (window.client is not None and rows == len(window.client.contacts) > 0
                and all(sessions.index(i).data(Roles.TIMESTAMP) for i in range(rows)))

    filled = when(reactor, sessions.dataChanged, list_filled)

    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()

    # --- unlock: the click to the big conversation on screen --------------------------
    clicked = time.perf_counter()
    lock.unlock_button.click()
    client, opened_at = await bounded(opened, stall, "the account to open (unlock)")
    listed_at = await bounded(filled, stall, "the session list's last messages")
    page = when(reactor, chat.model.modelReset,
                lambda: chat.model.peer == peer and chat.model.rowCount() > 0)
    asked_at = time.perf_counter()
    main.open_chat(peer)  # what a click on the row does
    page_at = await bounded(page, stall, "the conversation's newest page")
    window.repaint()  # the first full frame with it (the loop would paint it next)
    interactive_at = time.perf_counter()
    view = chat.view
    last = view.visualRect(chat.model.index(chat.model.rowCount() - 1))
    newest_visible = last.isValid() and view.viewport().rect().intersects(last)
    first_page_rows = chat.model.rowCount()
    memory["interactive"] = memory_mib()
    caught_up_at = await bounded(
        inbox.until(lambda: inbox.caught_up and inbox.backlog >= args.backlog), stall,
        f"catch-up with the {args.backlog} waiting messages")
    unlock_end = max(interactive_at, caught_up_at)
    phases = {"unlock and history load": (clicked, unlock_end)}
    live: list[dict[str, Any]] = []

    async def live_phase(name: str) -> None:
        """The peer sends --stream messages (at its rate) with the conversation open at
        its bottom; done when all are in. Fails when none arrives for --stall s."""
        before = len(inbox.live_latency)
        goal = before + args.stream
        started = time.perf_counter()
        emit({"event": "stream-ready"})
        while len(inbox.live_latency) < goal:
            seen = len(inbox.live_latency)
            await bounded(inbox.until(lambda n=seen: len(inbox.live_latency) > n), stall,
                          f"live messages ({seen - before}/{args.stream} in)")
        phases[name] = (started, time.perf_counter())
        bar = view.verticalScrollBar()
        live.append({"phase": name, "received": len(inbox.live_latency) - before,
                     "expected": args.stream, "rows": chat.model.rowCount(),
                     "latency": summary_ms(inbox.live_latency[before:]),
                     "seconds": phases[name][1] - started,
                     "at_bottom": bar.value() >= bar.maximum() - 40})

    # --- live messages with the newest page loaded ----------------------------------------
    await live_phase("live messages, newest page")
    memory["after the first live messages"] = memory_mib()

    # --- scrolling back through history ---------------------------------------------------
    scroll_from = time.perf_counter()
    scroller = Scroller(reactor, chat, args.scroll_messages, args.scroll_step)
    await bounded(scroller.start(), stall * 4, "scrolling back through history")
    phases["scrolling back"] = (scroll_from, time.perf_counter())
    scrolled_through = scroller.older_loaded
    memory["after scrolling back"] = memory_mib()
    # Back to the newest (the chat's "jump to latest"), then up again until the window of
    # loaded messages is full: the worst case for a live message's insert and relayout.
    latest = when(reactor, chat.page_loaded, lambda: chat.model.at_end)
    chat.jump_to_latest()
    await bounded(latest, stall, "jumping back to the newest messages")
    filler = Scroller(reactor, chat, chat.model.MAX_ROWS - chat.model.rowCount(),
                      args.scroll_step)
    await bounded(filler.start(), stall * 4, "filling the window of loaded messages")
    view.scrollToBottom()
    window.repaint()
    rows_loaded = chat.model.rowCount()

    # --- live messages with the window of loaded messages full ----------------------------
    await live_phase(f"live messages, {rows_loaded} loaded")
    memory["after the second live messages"] = memory_mib()
    peak_mib = memory_mib()["peak"]  # before the references below (the KDF's again)
    probe.stop()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    phases["whole run"] = (clicked, time.perf_counter())

    # --- references in this process, after the measured phases --------------------------
    sid = client.contacts[peer].sid
    fetches = []
    for _ in range(20):
        started = time.perf_counter()
        await client.messages(peer, 50)
        fetches.append(time.perf_counter() - started)
    account_dir = os.path.join(args.data_dir, client.me.user_id)
    local_key = SecretStore(account_dir, client.me.user_id, args.password).load()["local_key"]
    raw_page = raw_newest_page_s(os.path.join(account_dir, "account.sqlite"), sid,
                                 database_key(bytes.fromhex(local_key)))
    await bounded(window.shutdown(), stall, "the client to stop")
    kdf_runs = []  # the best of three: the KDF's own cost, whatever else the machine does
    for _ in range(3):
        started = time.perf_counter()
        SecretStore(account_dir, client.me.user_id, args.password).load()
        kdf_runs.append(time.perf_counter() - started)
    kdf_s = min(kdf_runs)

    ms = 1000.0
    return {
        "event": "result",
        "startup_s": startup_s,
        "unlock": {"open_ms": ms * (opened_at - clicked), "list_ms": ms * (listed_at - clicked),
                   "page_ms": ms * (page_at - asked_at),
                   "interactive_ms": ms * (interactive_at - clicked),
                   "caught_up_ms": ms * (caught_up_at - clicked),
                   "first_page_rows": first_page_rows, "newest_visible": bool(newest_visible),
                   "kdf_ms": ms * kdf_s, "contacts": sessions.rowCount()},
        "memory": {**memory, "peak": peak_mib},
        "scroll": {"frames": summary_ms(scroller.frames),
                   "over_16ms": sum(1 for f in scroller.frames if f > FRAME_MS / 1000),
                   "page_wait": summary_ms(scroller.page_waits),
                   "page_insert": summary_ms(scroller.page_inserts),
                   "rows_loaded": scrolled_through,
                   "seconds": phases["scrolling back"][1] - phases["scrolling back"][0]},
        "live": live,
        "backlog": {"received": inbox.backlog, "expected": args.backlog,
                    "duplicates": inbox.duplicates},
        "lateness": {name: probe.during(*span) for name, span in phases.items()},
        "page_fetch_ms": ms * statistics.median(fetches),
        "raw_page_ms": ms * raw_page,
    }


def run_client(args: argparse.Namespace) -> int:
    from securechat.ui import loop

    app, reactor = loop.install([sys.argv[0]])  # before anything imports the reactor
    from twisted.internet.defer import Deferred

    from bench.loadgen import install_warning_logger

    install_warning_logger()
    status = {"code": 2}

    async def run() -> None:
        try:
            emit(await measure(args, app, reactor))
            status["code"] = 0
        except Exception as e:  # the parent reports it; the traceback goes to the log
            import traceback

            traceback.print_exc()
            emit({"event": "failed", "error": f"{type(e).__name__}: {e}"})
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(run()))
    reactor.run()
    return status["code"]


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="bench_ui's measured process")
    parser.add_argument("mode", choices=("reference", "measure"))
    add = parser.add_argument
    add("--data-dir", help="the accounts' directory (the desktop client's --data-dir)")
    add("--url", help="the relay's ws:// URL")
    add("--email", help="the account to unlock")
    add("--password", help="its password")
    add("--peer-email", help="the contact whose conversation is opened")
    add("--workdir", default=None,
        help="where the client's Qt settings file goes (default: --data-dir)")
    add("--backlog", type=int, default=0, help="messages waiting in the relay's mailbox")
    add("--stream", type=int, default=0, help="live messages the peer sends per live phase")
    add("--stream-seconds", type=float, default=0.0, help="how long the peer sends for")
    add("--scroll-messages", type=int, default=5000, help="history to scroll back through")
    add("--scroll-step", type=int, default=600, help="pixels scrolled per frame")
    add("--spawned-at", type=float, default=0.0, help="time.time() when the parent spawned us")
    add("--stall", type=float, default=60.0, help="the longest wait for one step (s)")
    add("--timeout", type=float, default=600.0, help="the whole process's limit (s)")
    add("--profile", default=None, help="write cProfile stats of the measured phases here")
    ns = parser.parse_args(argv)
    if ns.mode == "measure" and not all(
            (ns.data_dir, ns.url, ns.email, ns.password, ns.peer_email)):
        parser.error("measure needs --data-dir, --url, --email, --password and --peer-email")
    return ns


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spawned_at = args.spawned_at or time.time()
    args.spawned_at = spawned_at

    def hard_exit() -> None:
        emit({"event": "failed", "error": f"no result within {args.timeout:.0f}s"})
        os._exit(2)

    watchdog = threading.Timer(args.timeout, hard_exit)
    watchdog.daemon = True
    watchdog.start()
    if args.mode == "reference":
        emit(reference(args))
        code = 0
    else:
        code = run_client(args)
    # Everything is reported; a client a failure left open must not keep its database
    # thread (and so this process) alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
