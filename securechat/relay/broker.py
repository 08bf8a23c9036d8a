"""Publish & subscribe: exact-match topics, publisher exclusion, acknowledgements."""

from __future__ import annotations

from typing import Any, Protocol

import attrs
from autobahn.util import id as new_id
from autobahn.wamp import message as wamp
from autobahn.wamp.message import Publish, Subscribe, Unsubscribe
from twisted.logger import Logger

from securechat.protocol import uris
from securechat.relay.authorization import Action, is_authorized
from securechat.relay.config import RelayConfig
from securechat.relay.context import Session


class Subscriber(Session, Protocol):
    """A session as the broker sees it (session.RouterSession)."""

    subscriptions: set[int]  # subscription ids; the broker keeps it up to date


@attrs.define(eq=False)
class Subscription:
    id: int
    topic: str
    subscribers: dict[int, Subscriber] = attrs.field(factory=dict)


class Broker:
    log = Logger()

    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._by_topic: dict[str, Subscription] = {}
        self._by_id: dict[int, Subscription] = {}

    def subscribe(self, session: Subscriber, msg: Subscribe) -> None:
        if not is_authorized(session.principal, Action.SUBSCRIBE, msg.topic):
            session.log_refusal("subscribe to {topic} not authorized", topic=msg.topic)
            session.send_error(msg, uris.WAMP_NOT_AUTHORIZED,
                               f"not authorized to subscribe to {msg.topic}")
            return
        if msg.match not in (None, "exact"):
            session.send_error(msg, uris.WAMP_INVALID_ARGUMENT,
                               "only exact-match subscriptions are supported")
            return
        sub = self._by_topic.get(msg.topic)
        most = self._config.max_subscriptions
        if (sub is None or sub.id not in session.subscriptions) and \
                len(session.subscriptions) >= most:
            session.log_refusal("more than {most} subscriptions", most=most)
            session.send_error(msg, uris.ERR_TOO_MANY_SUBSCRIPTIONS,
                               f"a session may subscribe to at most {most} topics",
                               max_subscriptions=most)
            return
        if sub is None:
            sub = Subscription(new_id(), msg.topic)
            self._by_topic[msg.topic] = sub
            self._by_id[sub.id] = sub
        sub.subscribers[session.id] = session
        session.subscriptions.add(sub.id)
        session.send(wamp.Subscribed(msg.request, sub.id))

    def unsubscribe(self, session: Subscriber, msg: Unsubscribe) -> None:
        sub = self._by_id.get(msg.subscription)
        if sub is None or session.id not in sub.subscribers:
            session.send_error(msg, uris.WAMP_NO_SUCH_SUBSCRIPTION, "no such subscription")
            return
        self._remove(session, sub)
        session.send(wamp.Unsubscribed(msg.request))

    def publish(self, session: Subscriber, msg: Publish) -> None:
        if not is_authorized(session.principal, Action.PUBLISH, msg.topic):
            session.log_refusal("publish to {topic} not authorized", topic=msg.topic)
            if msg.acknowledge:
                session.send_error(msg, uris.WAMP_NOT_AUTHORIZED,
                                   f"not authorized to publish to {msg.topic}")
            return
        publication = new_id()
        exclude = session.id if msg.exclude_me is not False else None
        self.deliver(msg.topic, msg.args, msg.kwargs, publication, exclude)
        if msg.acknowledge:
            session.send(wamp.Published(msg.request, publication))

    def deliver(self, topic: str, args: list[Any] | None, kwargs: dict[str, Any] | None = None,
                publication: int | None = None, exclude: int | None = None) -> int:
        """Send an EVENT to every subscriber of `topic`; returns how many got it."""
        sub = self._by_topic.get(topic)
        if sub is None:
            return 0
        event = wamp.Event(sub.id, publication or new_id(), args=args, kwargs=kwargs)
        sent = 0
        for sid, subscriber in sub.subscribers.items():
            if sid != exclude:
                subscriber.send(event)
                sent += 1
        return sent

    def is_subscribed(self, topic: str) -> bool:
        sub = self._by_topic.get(topic)
        return sub is not None and bool(sub.subscribers)

    def detach(self, session: Subscriber) -> None:
        for sub_id in list(session.subscriptions):
            sub = self._by_id.get(sub_id)
            if sub is not None:
                self._remove(session, sub)

    def _remove(self, session: Subscriber, sub: Subscription) -> None:
        sub.subscribers.pop(session.id, None)
        session.subscriptions.discard(sub.id)
        if not sub.subscribers:
            del self._by_topic[sub.topic]
            del self._by_id[sub.id]
