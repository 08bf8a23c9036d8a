"""The local AI assistant of this device: Smart Compose, Quick Replies, Summarize.

    assistant = Assistant(reactor, data_dir)             # one per app, not per account
    g = assistant.compose("hi can u send teh file")      # a Generation: stream, stop, result
    g.on_token(show); text = yield g.done
    g = yield assistant.quick_replies(client, peer_id)   # done -> [QuickReply] x 3
    g = yield assistant.summary(client, peer_id, unread_only=False)   # done -> "• …"

It belongs to the device, not to an account: the model file is large and serves every
account here, its settings are no secret, and compose works before anyone signs in.
The chat features read one conversation of the account they are given, by contact id,
and return a suggestion: nothing is ever sent by the assistant (the user accepts, edits
or drops it). Inference runs in the service's worker thread (service.py); prompts and
how answers are read are in prompts.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

import securechat.client.assistant.prompts as prompts
import securechat.client.assistant.settings as settings_file
from securechat.client.assistant.errors import AssistantError
from securechat.client.assistant.llama import check_model_file
from securechat.client.assistant.model import ModelDownload, Progress
from securechat.client.assistant.service import Generation, InferenceService
from securechat.client.assistant.settings import AssistantSettings

COMPOSE_TOKENS = 400
REPLIES_TOKENS = 120
SUMMARY_TOKENS = 300


class Assistant:
    def __init__(self, reactor: Any, data_dir: str | None = None,
                 settings: AssistantSettings | None = None) -> None:
        self.reactor = reactor
        self.data_dir = data_dir  # None: settings are not saved (a CLI run, tests)
        self.settings = settings or (settings_file.load(data_dir) if data_dir
                                     else AssistantSettings())
        self.service = InferenceService(reactor, self.settings.service())
        self.download: ModelDownload | None = None

    # --- the features ------------------------------------------------------------------

    def compose(self, draft: str) -> Generation:
        """Polish a draft; `done` fires with the suggestion (never sent by itself)."""
        if not draft.strip():
            raise AssistantError("there is no draft to polish: type a message first")
        return self.service.submit(prompts.compose(draft), COMPOSE_TOKENS,
                                   prompts.parse_compose)

    @defer.inlineCallbacks
    def quick_replies(self, client: Any, peer_user_id: str) -> Any:
        """Deferred[Generation] whose `done` fires with three QuickReply (positive,
        negative, question) from the recent history of the chat with `peer_user_id`."""
        lines, name = yield self._chat(client, peer_user_id, unread_only=False)
        return self.service.submit(prompts.replies(lines, name), REPLIES_TOKENS,
                                   prompts.parse_replies)

    @defer.inlineCallbacks
    def summary(self, client: Any, peer_user_id: str, unread_only: bool = False) -> Any:
        """Deferred[Generation] whose `done` fires with a bulleted summary of the chat
        with `peer_user_id` (or of its unread messages)."""
        lines, name = yield self._chat(client, peer_user_id, unread_only)
        return self.service.submit(prompts.summary(lines, name, unread_only), SUMMARY_TOKENS,
                                   prompts.parse_summary)

    @defer.inlineCallbacks
    def _chat(self, client: Any, peer_user_id: str, unread_only: bool) -> Any:
        """(lines, contact name) of this one conversation; nothing else is read."""
        contact = client.contacts.get(peer_user_id)
        if contact is None:
            raise AssistantError("the assistant reads only a chat with one of your contacts")
        messages = yield client.messages(peer_user_id, limit=2 * prompts.HISTORY_MESSAGES)
        lines = prompts.history(messages, unread_only)
        if not lines:
            what = "unread messages" if unread_only else "messages"
            raise AssistantError(f"there are no {what} from {contact.display_name} to read")
        return lines, contact.display_name

    # --- the model -----------------------------------------------------------------------

    def update_settings(self, **changes: Any) -> defer.Deferred[None]:
        """Change and save settings (model_path, threads, timeout_s, …); a new model or
        thread count takes effect with the next generation."""
        for name, value in changes.items():
            setattr(self.settings, name, value)
        if self.data_dir:
            settings_file.save(self.data_dir, self.settings)
        new = self.settings.service()
        return self.service.configure(model_path=new.model_path, threads=new.threads,
                                      timeout_s=new.timeout_s, idle_unload_s=new.idle_unload_s)

    def choose_model_file(self, path: str) -> defer.Deferred[None]:
        """Use a .gguf file already on disk (ModelMissing / DeviceUnsupported if not one)."""
        path = os.path.abspath(path)
        check_model_file(path)
        return self.update_settings(model_path=path)

    @property
    def models_dir(self) -> str:
        if not self.data_dir:
            raise AssistantError("downloading a model needs a data directory")
        return os.path.join(self.data_dir, settings_file.MODELS_DIR)

    def download_model(self, progress: Progress | None = None,
                       agent: Any = None,
                       free_space: Callable[[str], int] | None = None,
                       allow_unverified: bool = False) -> defer.Deferred[str]:
        """Download the model of the settings (resuming a part already there), verify it
        and use it. Deferred[str]: its path; DownloadFailed (retry), NotEnoughDisk,
        ChecksumMismatch, DownloadCancelled (`cancel_download`). Without a SHA-256 in
        the settings it fails with UnverifiedModel unless `allow_unverified` (the user
        was shown that the file cannot be checked, and agreed)."""
        if self.download is not None:
            raise AssistantError("the model is already downloading")
        self.download = ModelDownload(self.reactor, self.settings.source(), self.models_dir,
                                      progress, agent, free_space, allow_unverified)

        def done(path: str) -> defer.Deferred[str]:
            return self.choose_model_file(path).addCallback(lambda _: path)

        def over(result: Any) -> Any:
            self.download = None
            return result
        return self.download.start().addCallback(done).addBoth(over)

    def cancel_download(self) -> None:
        if self.download is not None:
            self.download.cancel()

    def close(self) -> defer.Deferred[None]:
        """Stop generating, unload the model, stop the worker thread (the app is closing)."""
        self.cancel_download()
        return self.service.close()
