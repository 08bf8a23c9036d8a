"""A real SMTP server on loopback (Twisted's own `twisted.mail` server side) that keeps
what it is handed, for tests of the relay's mail."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import attrs
from twisted.internet import defer, endpoints, reactor
from twisted.mail import smtp
from zope.interface import implementer

from securechat.relay.config import SmtpSettings


@implementer(smtp.IMessage)
class _Message:
    def __init__(self, box: Mailbox, recipient: str) -> None:
        self._box = box
        self._recipient = recipient
        self._lines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self._lines.append(line)

    def eomReceived(self) -> defer.Deferred[None]:
        parsed = email.message_from_bytes(b"\n".join(self._lines), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self._box.delivered(self._recipient, parsed)
        return defer.succeed(None)

    def connectionLost(self) -> None:
        self._lines = []


@implementer(smtp.IMessageDelivery)
class Mailbox:
    """Every mail delivered, by recipient; `next_mail(to)` waits for the next one."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.mails: list[tuple[str, EmailMessage]] = []
        self._waiting: list[tuple[str, defer.Deferred[EmailMessage]]] = []
        self._taken: dict[str, int] = {}
        self.refuse = refuse or set()  # recipients the server answers 550

    # IMessageDelivery
    def receivedHeader(self, helo: Any, origin: Any, recipients: Any) -> bytes:
        return b"Received: from the relay under test"

    def validateFrom(self, helo: Any, origin: Any) -> Any:
        return origin

    def validateTo(self, user: smtp.User) -> Any:
        recipient = str(user.dest)
        if recipient in self.refuse:
            raise smtp.SMTPBadRcpt(user)
        return lambda: _Message(self, recipient)

    # for tests
    def delivered(self, recipient: str, message: EmailMessage) -> None:
        self.mails.append((recipient, message))
        for waiter in list(self._waiting):
            if waiter[0] == recipient:
                self._waiting.remove(waiter)
                self._take(recipient)
                waiter[1].callback(message)
                break

    def _mine(self, recipient: str) -> list[EmailMessage]:
        return [m for r, m in self.mails if r == recipient]

    def _take(self, recipient: str) -> None:
        self._taken[recipient] = self._taken.get(recipient, 0) + 1

    def next_mail(self, recipient: str) -> defer.Deferred[EmailMessage]:
        taken = self._taken.get(recipient, 0)
        mine = self._mine(recipient)
        if taken < len(mine):
            self._take(recipient)
            return defer.succeed(mine[taken])
        d: defer.Deferred[EmailMessage] = defer.Deferred()
        self._waiting.append((recipient, d))
        return d


class _Factory(smtp.SMTPFactory):
    protocol = smtp.ESMTP

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__()
        self._mailbox = mailbox

    def buildProtocol(self, addr: Any) -> Any:
        p = super().buildProtocol(addr)
        p.delivery = self._mailbox
        return p


@defer.inlineCallbacks
def start_mail_server(reactor: Any) -> Any:
    """Deferred[(Mailbox, listening port)] on 127.0.0.1."""
    mailbox = Mailbox()
    port = yield endpoints.serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        _Factory(mailbox))
    return mailbox, port


def code_in(message: EmailMessage) -> str:
    """The verification code a mail carries (the relay shows it as two groups of 4)."""
    body = message.get_content()
    found = re.search(r"\b(\d{4}) (\d{4})\b", body)
    assert found is not None, body
    return found.group(1) + found.group(2)


@defer.inlineCallbacks
def mailing_config(test: Any, config: Any) -> Any:
    """Deferred[(Mailbox, config)]: a mail server for this test (stopped after it) and
    `config` (a RelayConfig) mailing codes through it."""
    mailbox, port = yield start_mail_server(reactor)
    test.addCleanup(port.stopListening)
    return mailbox, attrs.evolve(config, smtp=SmtpSettings(
        f"tcp:host=127.0.0.1:port={port.getHost().port}", "relay@chat.example.org"))
