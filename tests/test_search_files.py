"""Message search and files (issue 11 x issue 12): a file is found by its name and its
caption, never by the keys of the JSON it is stored as ("filename", "size"), on both
sides; a database written before this was indexed so is put right when it is opened."""

from __future__ import annotations

import json
import os
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from securechat import encrypted_sqlite
from securechat.client import events as ev
from securechat.client.storage import MIGRATIONS, AccountStore
from securechat.sqlite import migrate
from tests.test_files import FileTestCase

FILE_JSON = json.dumps({"filename": "quarterly-minutes.txt", "size": 18,
                        "caption": "budget review"})


class FileSearchTests(FileTestCase):
    @defer.inlineCallbacks
    def test_a_file_is_found_by_its_name_and_caption_not_its_json(self) -> Any:
        yield self.alice_and_bob()
        path, _ = self.write_file("quarterly-minutes.txt", 18)
        mark = self.log(self.bob).mark()
        sent = yield self.alice.files.send(self.bob.me.user_id, path, text="budget review")
        yield self.log(self.bob).wait_for(ev.MessageReceived, since=mark)
        for client in (self.alice, self.bob):
            for words in ("quarterly", "minutes txt", "budget"):
                hits = yield client.search.messages(words)
                self.assertEqual([h.message.id for h in hits], [sent.id], words)
            for words in ("filename", "size", "caption", "18"):
                self.assertEqual((yield client.search.messages(words)), [], words)


class FileSearchMigrationTests(unittest.TestCase):
    @defer.inlineCallbacks
    def test_files_indexed_as_json_before_are_indexed_by_name_once_opened(self) -> Any:
        directory = self.mktemp()
        os.makedirs(directory)
        path, key = os.path.join(directory, "account.sqlite"), os.urandom(32)
        conn = encrypted_sqlite.connect(path, key)
        # The version before the step that indexes files by name: the JSON as it is.
        step = next(i for i, sql in enumerate(MIGRATIONS)
                    if "json_extract(NEW.text, '$.filename')" in str(sql))
        migrate(conn, MIGRATIONS[:step])
        for i, (kind, text) in enumerate((("file", FILE_JSON), ("text", "the size of it"),
                                          ("file", "not json at all"))):
            conn.execute("INSERT INTO messages (id, sid, sender, text, type, timestamp) "
                         "VALUES (?, 's1', 'other', ?, ?, ?)", (f"m{i}", text, kind, i))
        conn.commit()
        found = conn.execute("SELECT count(*) FROM message_search WHERE message_search "
                             "MATCH 'filename'").fetchone()
        self.assertEqual(found, (1,))  # what was wrong
        conn.close()
        store = AccountStore(path, reactor, key)
        yield store.start()
        self.addCleanup(store.stop)

        def search(c: Any, words: str) -> list[str]:
            return [row[0] for row in c.execute(
                "SELECT m.id FROM message_search s JOIN messages m ON m.rowid = s.rowid "
                "WHERE message_search MATCH ? ORDER BY m.id", (words,))]
        self.assertEqual((yield store.run(search, "filename")), [])
        self.assertEqual((yield store.run(search, "quarterly")), ["m0"])
        self.assertEqual((yield store.run(search, "budget")), ["m0"])
        self.assertEqual((yield store.run(search, "size")), ["m1"])  # a text keeps its words
        self.assertEqual((yield store.run(search, "json")), ["m2"])  # not JSON: as it is
