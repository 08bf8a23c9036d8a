"""Desktop notifications without a tray (issue 11): through the freedesktop
notification service over DBus, with the text escaped (a service may read markup),
bounded and expiring on their own; the window's banner when no service answers.

A private session bus (`dbus-daemon --session`, its own process, stopped after each
test) and a small notification service on it made with QtDBus in this test: real DBus
calls, nothing of ours replaced. Real clients on a real relay, on the Qt reactor."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, protocol, reactor

from securechat.ui import loop

if not loop.is_installed():  # pragma: no cover - run through tests/ui_trial.py
    from twisted.trial import unittest

    raise unittest.SkipTest("needs the Qt reactor: run with scripts/run_trial.py")

from PyQt6.QtCore import QObject, pyqtClassInfo, pyqtSignal, pyqtSlot
from PyQt6.QtDBus import QDBusAbstractAdaptor, QDBusConnection

import tests.test_ui_details as details
from securechat.client import events as ev
from securechat.ui.widgets.desktop_notifications import PATH, SERVICE, DesktopNotifications
from tests.test_ui import until


class PrivateBus(protocol.ProcessProtocol):
    """A session bus daemon of this test's own: `address` fires with where it listens."""

    def __init__(self) -> None:
        self.address: defer.Deferred[str] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._out = b""

    def outReceived(self, data: bytes) -> None:
        self._out += data
        if b"\n" in self._out and not self.address.called:
            self.address.callback(self._out.split(b"\n")[0].decode())

    def processEnded(self, reason: Any) -> None:
        if not self.address.called:
            self.address.errback(reason)
        self.ended.callback(None)


@pyqtClassInfo("D-Bus Interface", SERVICE)
class NotificationsAdaptor(QDBusAbstractAdaptor):
    """The service's `Notify` (the freedesktop signature: susssasa{sv}i → u)."""

    @pyqtSlot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(self, app_name: str, replaces_id: int, app_icon: str, summary: str,
               body: str, actions: list[str], hints: dict[str, Any], expire_ms: int) -> int:
        service = self.parent()
        assert isinstance(service, FakeNotificationService)
        service.received.append((app_name, summary, body, expire_ms))
        service.notified.emit()
        return len(service.received)

    @pyqtSlot(result="QStringList")
    def GetCapabilities(self) -> list[str]:
        return ["body", "body-markup"]


class FakeNotificationService(QObject):
    notified = pyqtSignal()

    def __init__(self, bus: QDBusConnection) -> None:
        super().__init__()
        self.received: list[tuple[str, str, str, int]] = []
        self.adaptor = NotificationsAdaptor(self)
        assert bus.registerObject(PATH, self)
        assert bus.registerService(SERVICE)


class DesktopNotificationTests(details.DetailsCase):
    @defer.inlineCallbacks
    def private_bus(self) -> Any:
        """(address, a connection of the client side) of a fresh private session bus."""
        daemon = PrivateBus()
        process = reactor.spawnProcess(daemon, "dbus-daemon", [
            "dbus-daemon", "--session", "--print-address=1", "--nofork", "--nopidfile"],
            env=None)

        def stop() -> defer.Deferred[None]:
            if process.pid is not None:
                process.signalProcess("TERM")
            return daemon.ended
        self.addCleanup(stop)
        address = yield daemon.address
        name = f"securechat-{self.id()}"
        client = QDBusConnection.connectToBus(address, name)
        self.addCleanup(QDBusConnection.disconnectFromBus, name)
        self.assertTrue(client.isConnected(), client.lastError().message())
        return address, client

    def service_on(self, address: str) -> FakeNotificationService:
        name = f"notifications-{self.id()}"
        bus = QDBusConnection.connectToBus(address, name)
        self.addCleanup(QDBusConnection.disconnectFromBus, name)
        return FakeNotificationService(bus)

    @defer.inlineCallbacks
    def test_a_message_arrives_as_an_escaped_bounded_desktop_notification(self) -> Any:
        address, bus = yield self.private_bus()
        service = self.service_on(address)
        win, alice, bob = yield self.alice_and_a_friend()
        notifier = win.notifier
        notifier.desktop = DesktopNotifications(notifier.in_app.emit, bus, notifier)
        in_window: list[tuple[str, str]] = []
        notifier.in_app.connect(lambda title, body: in_window.append((title, body)))
        answers: list[bool] = []
        notifier.desktop.answered.connect(answers.append)
        text = "<b>bold</b> & <a href='https://evil.example'>click</a> " + "x" * 5000
        mark = self.log(alice).mark()
        yield bob.send_text(alice.me.user_id, text)
        yield self.log(alice).wait_for(ev.MessageReceived, since=mark)
        yield until(lambda: bool(answers), notifier.desktop.answered)
        self.assertEqual(answers, [True])
        app_name, summary, body, expire_ms = service.received[-1]
        self.assertEqual(app_name, "SecureChat")
        self.assertTrue(summary.startswith("New message from "))
        self.assertTrue(body.startswith("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href='https://"
                                        "evil.example'&gt;click&lt;/a&gt; xxx"), body)
        self.assertNotIn("<", body)
        self.assertLess(len(body), 300)  # a preview (200 characters), not the message
        self.assertTrue(body.endswith("…"))
        self.assertGreater(expire_ms, 0)  # it closes on its own
        self.assertEqual(in_window, [])  # the service showed it, not the window

    @defer.inlineCallbacks
    def test_without_a_service_the_window_shows_it(self) -> Any:
        _, bus = yield self.private_bus()  # a bus where nobody owns the name
        win, _alice, _bob = yield self.alice_and_a_friend()
        notifier = win.notifier
        notifier.desktop = DesktopNotifications(notifier.in_app.emit, bus, notifier)
        shown: list[tuple[str, str]] = []
        notifier.in_app.connect(lambda title, body: shown.append((title, body)))
        notifier.message("Mallory", "<i>hello</i>")
        self.assertEqual(shown, [])  # asked the bus first
        yield until(lambda: bool(shown), notifier.in_app)
        self.assertEqual(shown[0][0], "New message from Mallory")
        self.assertTrue(win.banner.isVisibleTo(win))
        self.assertIn("hello", win.banner.body.text())
        # no session bus at all: straight to the window
        notifier.desktop = DesktopNotifications(
            notifier.in_app.emit, QDBusConnection.connectToBus("unix:path=/nonexistent",
                                                               "nowhere"), notifier)
        self.addCleanup(QDBusConnection.disconnectFromBus, "nowhere")
        notifier.message("Trent", "second")
        self.assertEqual(shown[-1][0], "New message from Trent")
