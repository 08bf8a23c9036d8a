"""The item data roles of the session list and chat models (what delegates ask for)."""

from __future__ import annotations

from PyQt6.QtCore import Qt

R = Qt.ItemDataRole.UserRole


class Roles:
    PEER = R + 1
    NAME = R + 2
    INITIALS = R + 3
    LAST_TEXT = R + 4
    TIME = R + 5  # formatted
    UNREAD = R + 6
    ONLINE = R + 7
    TYPING = R + 8
    KEY_CHANGED = R + 9
    SEARCH = R + 10
    AVATAR = R + 11  # a round QPixmap of the contact's picture, or None (initials)
    # chat rows
    MESSAGE = R + 20
    FROM_ME = R + 21
    STATUS = R + 22
    DAY = R + 23  # a day separator above this message, or None
    REPLY_QUOTE = R + 24
    MESSAGE_ID = R + 25
    TIMESTAMP = R + 26
    SIZE_KEY = R + 27  # what a bubble's size depends on, besides the view's width
    TYPING_PHASE = R + 28  # the typing dots' animation frame
    SYSTEM = R + 29  # a line the client wrote ("Bob signed in on a new device"), not a bubble
    # reactions, edits, quotes (issue 11); numbered apart from the others' additions
    REACTIONS = R + 60  # "👍 2  ❤️" under the bubble, or ""
    EDITED = R + 61  # the author changed the text
    REPLY_AUTHOR = R + 62  # who wrote the quoted message ("You" or their name)
    MY_REACTION = R + 63  # the emoji I reacted with, or ""
    DELETED = R + 64  # an unsent message's marker: muted italics, no actions but delete
