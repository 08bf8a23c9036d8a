"""History for a new device (client.manifest), beyond tests.test_manifest: only the last
N days when asked so, pages taken only by the device that asked, and a history cut
short (the relay lost its last pages) resumed from where it stopped. Real clients on a
real relay."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from twisted.internet import defer

from securechat.client import events
from securechat.client.model import MessageStatus, MessageType, Sender
from tests.clientsupport import ClientTestCase

ev = events
DAY = 86_400_000


def store_history(c: sqlite3.Connection, sid: str, timestamps: list[int]) -> None:
    """Messages as if they had come from another device long ago (changed = -1: no
    MANIFEST push carries them; only a history does)."""
    c.executemany(
        "INSERT INTO messages (id, sid, sender, text, type, timestamp, status, is_read, "
        "changed) VALUES (?,?,?,?,?,?,?,1,-1)",
        [(f"h{i:06d}", sid, Sender.OTHER if i % 2 else Sender.ME, f"old message {i} " * 6,
          MessageType.TEXT, ts, MessageStatus.READ) for i, ts in enumerate(timestamps)])


class HistoryOptionsTests(ClientTestCase):
    @defer.inlineCallbacks
    def setUp(self) -> Any:
        yield super().setUp()
        yield self.alice_and_bob()
        self.bob_id = self.bob.me.user_id
        self.sid = self.alice.contacts[self.bob_id].sid

    @defer.inlineCallbacks
    def test_only_the_last_n_days(self) -> Any:
        now = int(time.time() * 1000)
        yield self.alice.store.run(store_history, self.sid,
                                   [now - 30 * DAY + i for i in range(50)]
                                   + [now - 2 * DAY + i for i in range(20)])
        phone = yield self.login("phone", self.alice.me.email)
        phone.account_sync.history_days = 7
        yield self.online(phone)
        done = yield self.log(phone).wait_for(ev.HistoryProgress, lambda e: e.done)
        on_phone = yield phone.messages(self.bob_id, limit=500)
        self.assertEqual(len([m for m in on_phone if m.id.startswith("h")]), 20)
        self.assertTrue(all(m.timestamp >= now - 7 * DAY for m in on_phone))
        self.assertEqual(done.total, len(on_phone))
        self.assertTrue((yield phone.account_sync.history_complete()))

    @defer.inlineCallbacks
    def test_only_the_device_that_asked_takes_the_pages(self) -> Any:
        """The phone was there before; the tablet signs in and gets the laptop's history;
        the phone, which receives the pages too (the relay delivers to every device of
        the account), does not store them."""
        phone = yield self.login("phone", self.alice.me.email)
        yield self.online(phone)
        yield self.log(phone).wait_for(ev.HistoryProgress, lambda e: e.done)
        yield self.alice.store.run(store_history, self.sid, list(range(1000, 1300)))
        tablet = yield self.login("tablet", self.alice.me.email)
        yield self.online(tablet)
        yield self.log(tablet).wait_for(ev.HistoryProgress,
                                        lambda e: e.done and e.received >= 300)
        self.assertEqual(len((yield tablet.messages(self.bob_id, limit=500))), 300)
        # The phone has seen every page by now (its own later message came after them).
        yield self.alice.send_text(self.bob_id, "after the history")
        yield self.log(phone).wait_for(ev.MessageSent,
                                       lambda e: e.message.text == "after the history")
        self.assertEqual([m.text for m in (yield phone.messages(self.bob_id, limit=500))],
                         ["after the history"])


class ResumedHistoryTests(ClientTestCase):
    @defer.inlineCallbacks
    def test_a_history_cut_short_is_resumed_from_where_it_stopped(self) -> Any:
        """The phone asks while the laptop is off; the laptop answers into the phone's
        mailbox, and the relay loses all but its first pages. The phone, at its next
        catch-up, asks again from its oldest message, and gets the rest."""
        yield self.alice_and_bob()
        alice, bob_id = self.alice, self.bob.me.user_id
        sid = alice.contacts[bob_id].sid
        yield alice.store.run(store_history, sid, list(range(10_000, 11_500)))
        yield alice.stop()
        phone = yield self.login("phone", alice.me.email)
        yield self.online(phone)  # its HISTORY_REQUEST waits for the laptop
        yield phone.account_sync.settled()
        yield phone.flush_outbox()
        phone_device = phone.me.device_id
        yield phone.stop()
        alice = yield self.reopen(alice, "alice")
        yield self.online(alice)
        yield alice.account_sync.settled()
        yield alice.flush_outbox()
        yield alice.stop()

        yield self.relay.stopService()
        db = sqlite3.connect(self.db_path)
        pages = db.execute("SELECT COUNT(*) FROM mailbox WHERE device_id=?",
                           (phone_device,)).fetchone()[0]
        self.assertGreater(pages, 4, pages)
        # Half of them are kept: the phone's mailbox also holds other frames (the
        # laptop's own pushes), so keeping only a few might keep no history page at all.
        db.execute("DELETE FROM mailbox WHERE device_id=? AND rowid NOT IN (SELECT rowid FROM "
                   "mailbox WHERE device_id=? ORDER BY rowid LIMIT ?)",
                   (phone_device, phone_device, pages // 2))
        db.commit()
        db.close()
        yield self.start_relay_again(wait_online=False)

        phone = yield self.reopen(phone, "phone")
        yield self.online(phone)
        self.assertFalse((yield phone.account_sync.history_complete()))
        got = len((yield phone.messages(bob_id, limit=5000)))
        self.assertTrue(0 < got < 1500, got)
        alice = yield self.reopen(alice, "alice")
        yield self.online(alice)  # answers the second request, from the phone's oldest
        done = yield self.log(phone).wait_for(ev.HistoryProgress, lambda e: e.done)
        self.assertLess(done.total, 1500)  # only what was missing was sent again
        self.assertEqual(done.received, 1500)  # and no page twice
        self.assertEqual(len((yield phone.messages(bob_id, limit=5000))), 1500)
        self.assertEqual((yield phone.messages(bob_id, limit=5000)),
                         (yield alice.messages(bob_id, limit=5000)))
        self.assertTrue((yield phone.account_sync.history_complete()))
