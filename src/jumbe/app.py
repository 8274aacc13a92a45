"""Composition root: builds every component from settings, starts and stops them in order.

Start: database and migrations, the embedded carrier (when no real connector
is configured), the write paths, connectors, dispatcher, background workers,
and last the HTTP listener, so nothing is accepted before it can be handled.
Stop is the reverse: stop accepting, commit what was accepted, let in-flight
submits finish and hand queued ones back to the database, then close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn

from jumbe import metrics
from jumbe.core.status import MessageStatus
from jumbe.engine.cluster import Heartbeat
from jumbe.engine.connector import SmppConnector
from jumbe.engine.dispatcher import Dispatcher
from jumbe.engine.mailer import MailSender
from jumbe.engine.mpesa import DarajaClient, PaymentQueries
from jumbe.engine.receipt_queries import ReceiptQueries
from jumbe.engine.recorder import Recorder
from jumbe.engine.router import Router
from jumbe.engine.sweeper import Sweeper
from jumbe.engine.webhooks import WebhookSender
from jumbe.faces import daraja, kimisms, m2m, portal
from jumbe.faces.access_log import AccessLog
from jumbe.faces.http_limits import RequestLimits, RouteRule, guarded_http
from jumbe.faces.kimisms import callbacks as kimisms_callbacks
from jumbe.faces.rest import callbacks as rest_callbacks
from jumbe.faces.rest import contacts as rest_contacts
from jumbe.faces.rest import envelope
from jumbe.faces.rest import senders as rest_senders
from jumbe.faces.rest import suppressions as rest_suppressions
from jumbe.faces.rest.app import create_app
from jumbe.faces.rest.client_address import ClientAddressMiddleware
from jumbe.faces.rest.health import CarrierLink, CarrierLinks
from jumbe.faces.rest.sims import UPLOAD
from jumbe.faces.rest.topups import MAX_CALLBACK, refuse_callback
from jumbe.faces.smpp.receivers import BoundReceivers
from jumbe.faces.smpp.server import SmppServer
from jumbe.services import Services
from jumbe.services.accounts import NewAccount
from jumbe.services.callback_urls import CallbackUrls
from jumbe.services.event_metrics import count_status_changes
from jumbe.services.events import Events
from jumbe.services.smpp_outbox import LocalReceivers, SmppDeliveries
from jumbe.services.suppressions import OptOuts
from jumbe.services.topups import CALLBACK_PATH
from jumbe.services.webhooks import CallbackLane, WebhookRenderer, WebhookRows
from jumbe.settings import ConnectorSettings, Settings, cannot_listen, local_http_url
from jumbe.simulators.carrier import CarrierBehaviour, CarrierSimulator
from jumbe.simulators.control import control_router
from jumbe.simulators.mpesa import PREFIX as MPESA_SIMULATOR
from jumbe.simulators.mpesa import MpesaSimulator
from jumbe.store import queue
from jumbe.store.database import Database

log = logging.getLogger(__name__)

SIMULATOR_SYSTEM_ID = "jumbe"
SIMULATOR_TOKEN_FILE = "simulator.token"
SIMULATOR_JOURNAL_FILE = "simulator.db"
SERVER_URL_FILE = "server.url"  # where this data dir's running server answers, for the CLI
DEMO_CREDENTIALS_FILE = "demo-credentials.json"

# Each face that takes a callback URL renders its callbacks; keyed by messages' source.
CALLBACK_FORMATS: dict[str, WebhookRenderer] = {
    "rest": rest_callbacks.render,
    kimisms.SOURCE: kimisms_callbacks.render,
}


def event_handlers(
    *, webhooks: CallbackLane, receivers: LocalReceivers, optouts: OptOuts | None = None
) -> Events:
    """Every handler of the events the services raise: the one place they are registered.

    ``optouts``: the STOP and START keywords (the settings'; the defaults otherwise).
    Rows leased to this node name it as the webhook lane does (``webhooks.owner``)."""
    return Events(
        [
            WebhookRows(CALLBACK_FORMATS, webhooks),
            SmppDeliveries(receivers, owner=webhooks.owner),
            count_status_changes,
            optouts or OptOuts(),
        ]
    )


class Jumbe:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        callback_urls = CallbackUrls(allow_private=settings.callbacks_allow_private)
        self.webhooks = WebhookSender(
            self.db,
            callback_urls,
            owner=settings.node_id,
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            per_receiver=settings.webhook_concurrency,
            retry_base=settings.webhook_retry_base,
        )
        # receipts and MO for accounts bound here skip the outbox poll
        self.bound_receivers = BoundReceivers()
        self.simulator_token = ""
        if settings.uses_simulator or settings.uses_mpesa_simulator:
            self.simulator_token = secrets.token_urlsafe(24)
        self.mpesa_simulator: MpesaSimulator | None = None
        self.daraja = self._daraja_client(settings)
        self.services = Services.build(
            self.db,
            settings,
            events=event_handlers(
                webhooks=self.webhooks,
                receivers=self.bound_receivers,
                optouts=OptOuts(settings.optout_keywords, settings.optin_keywords),
            ),
            callback_urls=callback_urls,
            on_accepted=self._wake_dispatcher,
            public_url=self._public_url,
            payments=self.daraja,
        )
        self.payment_queries = PaymentQueries(
            self.services.topups, interval=settings.mpesa_worker_interval
        )
        self.recorder = Recorder(self.services.delivery)
        self.simulator: CarrierSimulator | None = None
        if settings.uses_simulator:
            self.simulator = CarrierSimulator(
                host="127.0.0.1",
                port=settings.simulator_port,
                system_id=SIMULATOR_SYSTEM_ID,
                password=secrets.token_urlsafe(12),
                behaviour=CarrierBehaviour(
                    receipt_delay=settings.simulator.receipt_delay,
                    undeliverable_suffixes=tuple(settings.simulator.undeliverable_suffixes),
                    failure_ratio=settings.simulator.failure_ratio,
                    max_tps=settings.simulator.max_tps,
                ),
                # what it owes (receipts, held messages, MO) outlives a crash, as an SMSC's does
                journal=settings.data_dir / SIMULATOR_JOURNAL_FILE,
            )
        self.heartbeat: Heartbeat | None = None
        self.connectors: dict[str, SmppConnector] = {}
        self.dispatcher: Dispatcher | None = None
        self.receipt_queries: ReceiptQueries | None = None
        self.sweeper = Sweeper(
            self.db,
            self.services.delivery,
            self.services.numbering,
            self.services.smpp_outbox,
            self.services.idempotency,
            interval=settings.sweep_interval,
        )
        self.smpp = SmppServer(self.services, settings, self.bound_receivers)
        self.mailer = MailSender(self.services.mail, settings.smtp, sender=settings.mail_from)
        self.http = create_app(
            self.services,
            readiness=self._readiness,
            refresh_metrics=self._refresh_metrics,
            carriers=self._carrier_links,
        )
        self.http.include_router(daraja.router)
        self.http.include_router(m2m.router)
        self.http.include_router(kimisms.router)
        portal.install(  # last: its "/" pages never shadow an API path
            self.http,
            smpp=lambda: portal.SmppDetails(settings.smpp_host, tuple(self.smpp.ports)),
            https=settings.public_url.startswith("https://"),
        )
        self.http.add_middleware(
            RequestLimits, rules=_route_rules(settings), timeout=settings.http_body_timeout
        )
        self.http.add_middleware(AccessLog)  # outside the limits: it logs their refusals too
        if settings.trusted_proxies:  # outermost: the access log and every face see the client
            self.http.add_middleware(
                ClientAddressMiddleware,
                trusted=settings.trusted_proxies,
                header=settings.forwarded_header,
            )
        if self.simulator is not None:
            self.http.include_router(
                control_router(self.simulator, self.simulator_token), include_in_schema=False
            )
        if self.mpesa_simulator is not None:
            self.http.include_router(
                self.mpesa_simulator.router(self.simulator_token), include_in_schema=False
            )
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._status_counts_at = float("-inf")
        self.demo: NewAccount | None = None

    # lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.db.migrate()
        await self.services.numbering.refresh(force=True)
        connector_settings = self.settings.all_connectors
        if self.simulator is not None:
            try:
                await self.simulator.start()
            except OSError as exc:
                raise cannot_listen(
                    exc, self.simulator.host, self.simulator.port, "JUMBE_SIMULATOR_PORT"
                ) from exc
            connector_settings = [self._simulator_connector(self.simulator)]
        if self.simulator_token:
            self._write_secret(SIMULATOR_TOKEN_FILE, self.simulator_token)
        self.services.messaging.start()
        self.recorder.start()
        self.connectors = {
            c.name: SmppConnector(c, self.recorder, on_capacity=self._wake_dispatcher)
            for c in connector_settings
        }
        self.heartbeat = Heartbeat(
            self.db,
            node_id=self.settings.node_id,
            interval=self.settings.node_heartbeat,
            dead_after=self.settings.node_dead_after,
            links=self.connectors,
            on_takeover=self._wake_workers,
        )
        self.dispatcher = Dispatcher(
            self.db,
            Router(self.settings.routes, list(self.connectors)),
            self.connectors,
            owner=self.settings.node_id,
            batch=self.settings.dispatch_batch,
            poll_interval=self.settings.dispatch_poll_interval,
            may_claim=self.heartbeat.alive,
        )
        self.receipt_queries = ReceiptQueries(
            self.db,
            self.connectors,
            self.recorder,
            per_second=self.settings.receipt_queries_per_second,
        )
        # counted among the live before it claims anything; binds its share of the slots
        await self.heartbeat.start()
        await self.dispatcher.start()
        self.receipt_queries.start()
        self.sweeper.start()
        await self.webhooks.start()
        self.mailer.start()
        self.payment_queries.start()
        await self.services.contact_imports.resume()
        self.demo = await self._ensure_demo_account()
        await self.smpp.start()
        await self._start_http()
        (self.settings.data_dir / SERVER_URL_FILE).write_text(self.local_url + "\n")

    async def stop(self) -> None:
        if self._server is not None and self._server_task is not None:
            (self.settings.data_dir / SERVER_URL_FILE).unlink(missing_ok=True)
            self._server.should_exit = True
            await self._server_task
        await self.smpp.stop()
        await self.services.messaging.stop()
        await self.services.contact_imports.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.receipt_queries is not None:
            await self.receipt_queries.stop()
        await asyncio.gather(*(c.stop() for c in self.connectors.values()))
        await self.recorder.stop()
        await self.webhooks.stop()
        await self.mailer.stop()
        await self.payment_queries.stop()
        await self.daraja.close()
        if self.mpesa_simulator is not None:
            await self.mpesa_simulator.stop()
        await self.sweeper.stop()
        if self.heartbeat is not None:  # last of the workers: hands back what it still holds
            await self.heartbeat.stop()
        if self.simulator is not None:
            await self.simulator.stop()
        await self.db.dispose()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        self._print_banner()
        await stop.wait()
        log.info("shutting down: finishing in-flight work")
        await self.stop()
        log.info("stopped")

    @property
    def http_port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port}"

    @property
    def local_url(self) -> str:
        """The URL this machine reaches the server at, whichever addresses it listens on."""
        return local_http_url(self.settings.http_host, self.http_port)

    def _public_url(self) -> str:
        """Where links in mail point: JUMBE_PUBLIC_URL, else this server's own URL."""
        return self.settings.public_url or self.local_url

    async def _start_http(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.http_host, self.settings.http_port))
        except OSError as exc:
            sock.close()
            raise cannot_listen(
                exc, self.settings.http_host, self.settings.http_port, "JUMBE_HTTP_PORT"
            ) from exc
        sock.listen(1024)
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(
            self.http,
            log_config=None,  # Jumbe configures logging once, for every component
            log_level=self.settings.log_level.lower(),
            access_log=False,
            # the client address is Jumbe's to decide (JUMBE_TRUSTED_PROXIES); uvicorn's
            # own default believes X-Forwarded-For from 127.0.0.1
            proxy_headers=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            server_header=False,
            http=guarded_http(self.settings.http_header_timeout),
        )
        self._server = _Server(config)
        self._server_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._server_task.done():
                self._server_task.result()
                raise RuntimeError("HTTP server stopped during start")
            await asyncio.sleep(0.01)

    # helpers -------------------------------------------------------------------

    def _daraja_client(self, settings: Settings) -> DarajaClient:
        """Daraja when JUMBE_MPESA_BASE_URL is set, else the embedded M-Pesa simulator
        (on this server's own HTTP listener, so it is reached over real HTTP)."""
        if not settings.uses_mpesa_simulator:
            return DarajaClient(
                settings.mpesa_base_url,
                consumer_key=settings.mpesa_consumer_key,
                consumer_secret=settings.mpesa_consumer_secret,
                shortcode=settings.mpesa_shortcode,
                passkey=settings.mpesa_passkey,
            )
        simulator = MpesaSimulator(
            delay=settings.mpesa_simulator_delay, shortcode=settings.mpesa_shortcode
        )
        self.mpesa_simulator = simulator
        return DarajaClient(
            lambda: self.local_url + MPESA_SIMULATOR,
            consumer_key=simulator.consumer_key,
            consumer_secret=simulator.consumer_secret,
            shortcode=simulator.shortcode,
            passkey=simulator.passkey,
        )

    @staticmethod
    def _simulator_connector(simulator: CarrierSimulator) -> ConnectorSettings:
        return ConnectorSettings(
            name="simulator",
            url=f"smpp://{quote(simulator.system_id)}:{quote(simulator.password)}"
            f"@127.0.0.1:{simulator.port}",
            tps=10_000,
            window=100,
        )

    def _wake_dispatcher(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def _wake_workers(self) -> None:
        """Leases of a dead node were released: claim them now, not at the next poll."""
        self._wake_dispatcher()
        self.webhooks.wake()

    async def _readiness(self) -> tuple[bool, dict[str, Any]]:
        """Can this node accept? Its carrier links are not asked: another node may send."""
        try:
            behind = await self.db.schema_behind()
            database, migrations = "ok", behind or "current"
        except Exception as exc:
            database = migrations = f"unavailable: {type(exc).__name__}"
        return database == "ok" and migrations == "current", {
            "database": database,
            "migrations": migrations,
        }

    def _carrier_links(self) -> CarrierLinks:
        return CarrierLinks(
            node=self.settings.node_id,
            connectors=[
                CarrierLink(
                    name=name,
                    state=c.state,
                    binds_up=c.binds_up,
                    binds=c.settings.binds,
                    tps=c.settings.tps,
                    queued=c.queued,
                )
                for name, c in self.connectors.items()
            ],
        )

    async def _refresh_metrics(self) -> None:
        now = asyncio.get_running_loop().time()
        count_statuses = now - self._status_counts_at >= 10.0  # a full count is not free

        depth, counts = await self.db.read(
            lambda conn: (queue.depth(conn), queue.status_counts(conn) if count_statuses else None)
        )
        metrics.queue_depth.set(depth)
        if counts is not None:
            self._status_counts_at = now
            for status in MessageStatus:
                metrics.messages_by_status.labels(status.value).set(counts.get(status.value, 0))

    async def _ensure_demo_account(self) -> NewAccount | None:
        demo = await self.services.accounts.create_first_account("demo", sender="JUMBE")
        if demo is None:  # made before, or by another node starting at the same moment
            return None
        if self.settings.demo_units:
            await self.services.billing.credit(
                demo.account_id, self.settings.demo_units, "demo account starting units"
            )
        self._write_secret(DEMO_CREDENTIALS_FILE, json.dumps(demo.as_json(), indent=2) + "\n")
        return demo

    def _write_secret(self, name: str, content: str) -> Path:
        path = self.settings.data_dir / name
        with _private_file(path) as fh:
            fh.write(content)
        return path

    def _print_banner(self) -> None:
        base = self.base_url
        lines = [
            "",
            f"Jumbe is running: {base}  (API docs: {base}/docs)",
        ]
        smpp_ports = " and ".join(str(p) for p in self.smpp.ports)
        lines.append(f"SMPP server: {self.settings.smpp_host}:{smpp_ports}")
        if self.simulator is not None:
            lines.append(
                f"Carrier: embedded simulator on 127.0.0.1:{self.simulator.port}"
                " (no real connector configured)"
            )
        credentials = self.settings.data_dir / DEMO_CREDENTIALS_FILE
        if self.demo is not None:
            token = self.demo.api_token
            lines += [
                f"Demo account created: team code {self.demo.team_code},"
                f" {self.settings.demo_units} units. Credentials: {credentials}",
                "",
                "Send a message:",
                f"  curl -s -X POST {base}/api/v1/messages \\",
                f'    -H "Authorization: Bearer {token}" \\',
                '    -H "Content-Type: application/json" \\',
                '    -d \'{"to": "+254712345678", "message": "Hello from Jumbe!"}\'',
                "",
                "Then follow it (use the uuid from the answer):",
                f'  curl -s {base}/api/v1/messages/<uuid> -H "Authorization: Bearer {token}"',
            ]
        elif credentials.exists():
            lines.append(f"Demo account credentials: {credentials}")
        print("\n".join(lines) + "\n", flush=True)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: Jumbe stops the whole process in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _route_rules(settings: Settings) -> list[RouteRule]:
    """Each face's cap on request bodies, refused in its own format; the first match wins."""
    return [
        RouteRule(UPLOAD, settings.http_max_upload, envelope.failure, streamed=True),
        RouteRule(rest_contacts.IMPORT, settings.http_max_upload, envelope.failure, streamed=True),
        RouteRule(
            rest_suppressions.IMPORT, settings.http_max_upload, envelope.failure, streamed=True
        ),
        RouteRule(
            rest_senders.APPLICATIONS,
            min(settings.http_max_upload, rest_senders.MAX_APPLICATION_BYTES),
            envelope.failure,
            streamed=True,
        ),
        RouteRule(
            portal.APPLICATIONS,
            min(settings.http_max_upload, rest_senders.MAX_APPLICATION_BYTES),
            portal.refuse,
            streamed=True,
        ),
        RouteRule(m2m.PATH, m2m.MAX_DOCUMENT, m2m.refuse),
        RouteRule(CALLBACK_PATH, MAX_CALLBACK, refuse_callback),
        *(RouteRule(p, settings.http_max_body, daraja.refuse) for p in daraja.PREFIXES),
        *(RouteRule(p, settings.http_max_body, kimisms.refuse) for p in kimisms.PATHS),
        RouteRule("/api/", settings.http_max_body, envelope.failure),
        RouteRule("/simulator/", settings.http_max_body, envelope.failure),
        # what is left is the portal's pages: a refused form is a page, not the REST JSON
        RouteRule("/", settings.http_max_body, portal.refuse),
    ]


@contextlib.contextmanager
def _private_file(path: Path) -> Iterator[Any]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yield fh


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import uvloop

        uvloop.run(Jumbe(settings).run_until_signalled())
    except ImportError:
        asyncio.run(Jumbe(settings).run_until_signalled())
