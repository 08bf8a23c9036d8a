"""The relay as a Twisted service: storage, router, listening endpoints, housekeeping."""

from __future__ import annotations

from typing import Any

from twisted.application import service
from twisted.internet import defer, endpoints, task
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from securechat.relay.blobstore import DiskBlobStore, default_directory
from securechat.relay.config import RelayConfig
from securechat.relay.mailer import SmtpMailer
from securechat.relay.router import Router
from securechat.relay.storage import IRelayStorage, StorageUnavailable, open_storage
from securechat.relay.transport import make_factory
from securechat.sqlite import DatabaseTooNew


class ConfigError(Exception):
    """The configuration cannot make a working relay (the text says what to change)."""


NO_MAIL = ("email verification needs an SMTP server to mail codes: give --smtp-endpoint and "
           "--smtp-from, or, for a development relay only, --email-verification off")
NO_BLOB_DIR = ("a relay on PostgreSQL keeps the files clients share in --blob-dir: give a "
               "directory every node of the cluster shares (NFS, say)")


class RelayService(service.Service):
    """Starts listening on every endpoint once the database is open.

    `ready` fires with the listening ports (tests read the bound port there), or fails
    with the reason the database did not open.
    """

    log = Logger()

    def __init__(self, reactor: Any, listen: list[str], db_path: str,
                 config: RelayConfig | None = None, storage: IRelayStorage | None = None,
                 clock: Any = None, redis_url: str | None = None) -> None:
        self._reactor = reactor
        self._listen = listen
        self.config = config or RelayConfig()
        if self.config.email_verification and self.config.smtp is None:
            raise ConfigError(NO_MAIL)
        # The blob store's bytes: a directory beside a SQLite database unless configured;
        # a PostgreSQL relay (a cluster's node) must be given one, which every node
        # shares: a file uploaded through one node is downloaded through any other.
        blob_dir = self.config.blob_dir
        if blob_dir is None:
            if "://" in db_path:
                raise ConfigError(NO_BLOB_DIR)
            blob_dir = default_directory(db_path)
        self.storage = storage or open_storage(db_path, reactor)
        mailer = SmtpMailer(reactor, self.config.smtp) if self.config.smtp else None
        # A cluster node (`--redis`): live traffic between nodes goes through Redis.
        self.bus = None
        if redis_url is not None:
            from securechat.relay.cluster import RedisBus

            self.bus = RedisBus(reactor, redis_url)
        self.blob_store = DiskBlobStore(blob_dir, reactor)
        # `clock` times policies (TTL, rate limits); tests may pass a task.Clock.
        self.router = Router(self.config, self.storage, clock or reactor, mailer,
                             self.blob_store, self.bus)
        self.ports: list[IListeningPort] = []
        self.ready: defer.Deferred[list[IListeningPort]] = defer.Deferred()
        self._purge = task.LoopingCall(self._housekeeping)
        self._purge.clock = reactor

    def _housekeeping(self) -> defer.Deferred[Any]:
        work = [self.router.delivery.purge(), self.router.accounts.expire_pending()]
        if self.router.blobs is not None:
            work.append(self.router.blobs.purge())
        d = defer.gatherResults(work, consumeErrors=True)
        return d.addErrback(self._housekeeping_failed)

    def _housekeeping_failed(self, failure: Failure) -> None:
        # A database away for a while (a cluster's PostgreSQL restarting) skips a round;
        # the purge goes on at the next.
        if failure.check(defer.FirstError) and failure.value.subFailure.check(
                StorageUnavailable):
            self.log.warn("housekeeping skipped: {why}",
                          why=failure.value.subFailure.getErrorMessage())
            return
        self.log.failure("housekeeping failed", failure)

    def startService(self) -> None:
        super().startService()
        if not self.config.email_verification:
            self.log.warn(
                "*** EMAIL VERIFICATION IS OFF: anyone can register any email address and "
                "receive what is sent to it. Use this only for a development relay. ***")
        # A relay whose database does not open (a newer version's schema, say) listens
        # nowhere and says why.
        d = self.storage.start()
        d.addCallback(self._opened)
        d.addErrback(self._not_opened)
        d.chainDeferred(self.ready)

    def _opened(self, _: None) -> defer.Deferred[list[IListeningPort]]:
        if self.bus is not None:
            self.router.presence.start()
        self._purge.start(self.config.purge_interval, now=True).addErrback(
            lambda f: self.log.failure("mailbox purge stopped", f))
        factory = make_factory(self.router.session_factory, self.config,
                               self.router.connections)
        d = defer.gatherResults(
            [endpoints.serverFromString(self._reactor, desc).listen(factory)
             for desc in self._listen],
            consumeErrors=True,
        )
        return d.addCallback(self._listening)

    def _not_opened(self, failure: Failure) -> Failure:
        if failure.check(DatabaseTooNew):
            self.log.critical("the relay database was not opened: {why}",
                              why=failure.getErrorMessage())
        else:
            self.log.failure("the relay database was not opened", failure)
        return failure

    def _listening(self, ports: list[IListeningPort]) -> list[IListeningPort]:
        self.ports = ports
        for port in ports:
            address = port.getHost()
            self.log.info("relay listening on {host}:{port}", host=address.host,
                          port=address.port)
        return ports

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        if self._purge.running:
            self._purge.stop()
        yield defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in self.ports])
        yield self.router.shutdown()
        if self.bus is not None:
            self.router.presence.stop()
            yield self.bus.stop()
        yield self.storage.stop()
