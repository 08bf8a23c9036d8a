"""The client's event bus."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from securechat.client import events as ev


class Listener:
    def __init__(self, bus: ev.EventBus) -> None:
        self.seen: list[Any] = []
        bus.subscribe(self.on_event)

    def on_event(self, event: Any) -> None:
        self.seen.append(event)


class EventBusTests(unittest.TestCase):
    def test_a_method_unsubscribed_hears_nothing_more(self) -> None:
        """A window's bridge unsubscribes its method when it closes; an event after that
        must not reach it (it may be deleted by then)."""
        bus = ev.EventBus()
        listener, other = Listener(bus), Listener(bus)
        bus.emit(ev.CaughtUp())
        bus.unsubscribe(listener.on_event)  # a new bound-method object, equal to the first
        bus.emit(ev.CaughtUp())
        self.assertEqual((len(listener.seen), len(other.seen)), (1, 2))
