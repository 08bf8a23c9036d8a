"""Searching what my conversations say: every message's text is in an FTS5 index in
the account database (encrypted like the rest of it), kept up to date by triggers as
messages arrive, are edited or deleted (client/storage/schema.py)."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet import defer

import securechat.client.storage.search as storage
from securechat.client.context import ClientContext
from securechat.client.errors import ClientError
from securechat.client.model import StoredMessage

MAX_QUERY = 200  # characters


@attrs.frozen
class SearchHit:
    peer_user_id: str  # the contact whose conversation it is in
    message: StoredMessage


class MessageSearch:
    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx

    @defer.inlineCallbacks
    def messages(self, text: str, limit: int = 50) -> Any:
        """Deferred[list[SearchHit]]: the newest messages holding every word of `text`
        (or words starting so; case and accents ignored), in all conversations with a
        contact; [] when nothing matches."""
        if len(text) > MAX_QUERY:
            raise ClientError(f"search for at most {MAX_QUERY} characters")
        found = yield self._ctx.store.run(storage.search, text, limit)
        hits = []
        for message in found:
            peer = self._ctx.peer_of(message.sid)
            if peer is not None:
                hits.append(SearchHit(peer, message))
        return hits
