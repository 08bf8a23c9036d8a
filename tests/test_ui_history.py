"""A new device's history in the desktop UI: while the pages come from Alice's laptop,
the phone's main window says how far it got ("… 400 of 1,500"); the line goes once the
last page came. Real relay, a real core client on the laptop, the real UI on the phone.

Runs on the Qt reactor like tests.test_ui (scripts/run_trial.py starts it so).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.trial import unittest

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from securechat.client import events as ev
from securechat.client import local_accounts as accounts
from securechat.ui import strings as S
from tests.test_history import store_history
from tests.test_ui import PASSWORD, UITestCase, screenshot

MESSAGES = 1500  # several MANIFEST pages


class HistoryProgressUITests(UITestCase):
    @defer.inlineCallbacks
    def test_the_main_window_shows_the_history_coming_then_hides_it(self) -> Any:
        laptop = yield self.register("alice-laptop", "alice@example.org", PASSWORD)
        bob = yield self.register("bob", "bob@example.org")
        yield self.online(laptop, bob)
        yield self.befriend(laptop, bob)
        sid = laptop.contacts[bob.me.user_id].sid
        yield laptop.store.run(store_history, sid, list(range(10_000, 10_000 + MESSAGES)))
        # The phone: signed in as a new device (not started), then opened in the app.
        phone = yield self.login("alice-phone", "alice@example.org", PASSWORD)
        yield phone.stop()
        self.clients.remove(phone)
        accounts.remember(self.device_dir("alice-phone"), "alice@example.org")
        win = self.shell("alice-phone")
        progress = win.main.history_progress
        self.assertTrue(progress.isHidden())
        client = yield self.unlock(win, "alice@example.org")
        # Every page handled (the last one, pushed live, may be handled before pages
        # fetched from the mailbox: so not simply the `done` one).
        yield self.log(client).wait_for(ev.HistoryProgress, lambda e: e.received >= MESSAGES)
        yield self.log(client).wait_for(ev.HistoryProgress, lambda e: e.done)
        # Shown while it came: each page counted, out of the laptop's total.
        pages = [e for e in self.log(client).of(ev.HistoryProgress)
                 if not e.done and e.received < e.total]
        self.assertGreater(len(pages), 1)
        self.assertEqual(progress.shown, [
            S.HISTORY_PROGRESS.format(received=f"{e.received:,}", total=f"{e.total:,}")
            for e in pages])
        self.assertIn(f"of {MESSAGES:,}", progress.shown[0])
        # Gone once it all came, with everything there.
        self.assertTrue(progress.isHidden())
        self.assertEqual(len((yield client.messages(bob.me.user_id, limit=5000))), MESSAGES)
        screenshot(win, "40-history-done")

    def test_a_page_shows_the_line_and_the_bar(self) -> None:
        """What one page looks like (the event as the core emits it)."""
        from securechat.ui.widgets.history_progress import HistoryProgressBar

        bar = HistoryProgressBar()
        bar._progress(ev.HistoryProgress(1200, 5000))
        self.assertFalse(bar.isHidden())
        self.assertEqual(bar.text.text(),
                         "Getting your history from your other device: 1,200 of 5,000")
        self.assertEqual((bar.bar.value(), bar.bar.maximum()), (1200, 5000))
        bar._progress(ev.HistoryProgress(5000, 5000, done=True))
        self.assertTrue(bar.isHidden())
