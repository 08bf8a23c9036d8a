"""Sending the relay's mail with Twisted's own SMTP client, over any client endpoint."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from io import BytesIO
from typing import Any

from twisted.internet import defer, endpoints
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
from twisted.mail import smtp

from securechat.relay.config import SmtpSettings


class MailFailed(Exception):
    """The SMTP server did not take the mail (the text says why, without secrets)."""


class SmtpMailer:
    log = Logger()

    def __init__(self, reactor: Any, settings: SmtpSettings) -> None:
        self._reactor = reactor
        self._settings = settings
        self._endpoint = endpoints.clientFromString(reactor, settings.endpoint)

    def send(self, to: str, subject: str, body: str) -> defer.Deferred[None]:
        """Hand one plain-text mail to the SMTP server; fails with MailFailed."""
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=False)
        message["Message-ID"] = email.utils.make_msgid(domain=_domain(settings.sender))
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        result: defer.Deferred[Any] = defer.Deferred()
        tls = (optionsForClientTLS(settings.host) if settings.starttls and settings.host
               else None)
        factory = smtp.ESMTPSenderFactory(
            settings.username.encode("utf-8") if settings.username else None,
            settings.password.encode("utf-8") if settings.password else None,
            settings.sender, [to], BytesIO(message.as_bytes()), result,
            retries=0, timeout=int(settings.timeout), contextFactory=tls,
            heloFallback=not (settings.starttls or settings.username),
            requireAuthentication=bool(settings.username),
            requireTransportSecurity=settings.starttls,
        )
        connecting = self._endpoint.connect(factory)
        connecting.addErrback(lambda f: result.called or result.errback(f))
        # A server that drops the connection without an answer never fires `result`.
        result.addTimeout(settings.timeout, self._reactor)

        def failed(failure: Any) -> None:
            connecting.addCallback(lambda protocol: protocol.transport.abortConnection())
            connecting.cancel()
            reason = failure.value
            self.log.warn("mail to the SMTP server at {endpoint} failed: {error}",
                          endpoint=settings.endpoint, error=_describe(reason))
            raise MailFailed(f"the relay could not send mail ({type(reason).__name__})")

        return result.addCallbacks(lambda _: None, failed)


def _domain(address: str) -> str:
    return email.utils.parseaddr(address)[1].rpartition("@")[2] or "securechat.invalid"


def _describe(error: BaseException) -> str:
    # Never str() an SMTPClientError: it carries the session transcript, AUTH included.
    if isinstance(error, smtp.SMTPClientError):
        return f"{type(error).__name__} {error.code}: {error.resp!r}"
    return f"{type(error).__name__}: {error}"
