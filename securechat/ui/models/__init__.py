"""Qt models over the client core's state: the session list (`sessions`) and one chat's
messages (`chat`), with the item data roles the views and delegates read (`roles`)."""

from securechat.ui.models.chat import ChatModel
from securechat.ui.models.roles import Roles
from securechat.ui.models.sessions import SessionFilterModel, SessionListModel, SessionRow

__all__ = ["ChatModel", "Roles", "SessionFilterModel", "SessionListModel", "SessionRow"]
