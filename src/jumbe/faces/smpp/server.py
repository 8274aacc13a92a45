"""The SMPP 3.4 server customers bind to (plain on JUMBE_SMPP_PORT, TLS on JUMBE_SMPP_TLS_PORT).

Each session is its own protocol state machine (``smpp.Session``): windows in
both directions, bind-state rules, enquire_link, idle timeout and malformed
frames are handled there, per connection, so one bad client cannot stall
another. This module authenticates binds, enforces per-account session and
rate limits, and turns requests into service calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import defaultdict
from typing import Any

from prometheus_client import Counter, Gauge

from jumbe.core.clock import utcnow
from jumbe.core.rate import TokenBucket
from jumbe.faces.smpp import translate
from jumbe.faces.smpp.outbound import Outbound
from jumbe.faces.smpp.receivers import BoundReceivers
from jumbe.services import Services
from jumbe.services.errors import NotFound, ServiceError, TooManyAttempts, Unauthenticated
from jumbe.settings import Settings, cannot_listen
from jumbe.smpp.constants import CommandStatus, Tag, status_name
from jumbe.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    CancelSmResp,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    response_for,
    set_tlv_int,
)
from jumbe.smpp.server import serve
from jumbe.smpp.session import Session

log = logging.getLogger(__name__)

SERVER_SYSTEM_ID = "JUMBE"

sessions_bound = Gauge("jumbe_smpp_sessions", "Bound SMPP sessions of customers")
submits = Counter("jumbe_smpp_submits", "submit_sm from customers, by answer", ["status"])


class SmppServer:
    def __init__(
        self, services: Services, settings: Settings, bound_receivers: BoundReceivers
    ) -> None:
        self.services = services
        self.settings = settings
        self.bound: dict[int, set[Session]] = defaultdict(set)
        self.bound_receivers = bound_receivers
        self.outbound = Outbound(
            services.smpp_outbox,
            self.receivers,
            bound_receivers,
            window=settings.smpp_window,
            owner=settings.node_id,
        )
        self._servers: list[asyncio.Server] = []
        self._rows: dict[Session, int] = {}  # each bound session's row in smpp_sessions
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        options: dict[str, Any] = {
            "window": self.settings.smpp_window,
            "inbound_window": self.settings.smpp_window,
            "idle_timeout": self.settings.smpp_idle_timeout,
            # the client keeps the link alive; answering our probes would defeat the idle timeout
            "enquire_link_interval": None,
        }
        host = self.settings.smpp_host
        await self._listen(host, self.settings.smpp_port, "JUMBE_SMPP_PORT", None, options)
        if self.settings.smpp_tls_cert and self.settings.smpp_tls_key:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.settings.smpp_tls_cert, self.settings.smpp_tls_key)
            port = self.settings.smpp_tls_port
            await self._listen(host, port, "JUMBE_SMPP_TLS_PORT", context, options)
        self.outbound.start()
        log.info("SMPP server listening on %s", ", ".join(f"{host}:{p}" for p in self.ports))

    async def _listen(
        self,
        host: str,
        port: int,
        setting: str,
        context: ssl.SSLContext | None,
        options: dict[str, Any],
    ) -> None:
        try:
            server = await serve(
                lambda s: _EsmeHandler(self, s), host, port, ssl=context, **options
            )
        except OSError as exc:
            raise cannot_listen(exc, host, port, setting) from exc
        self._servers.append(server)

    @property
    def ports(self) -> list[int]:
        return [int(s.sockets[0].getsockname()[1]) for s in self._servers]

    async def stop(self) -> None:
        """Stop accepting, tell bound clients we are going, close."""
        for server in self._servers:
            server.close()
        await self.outbound.stop()
        everyone = [s for group in self.bound.values() for s in group]
        await asyncio.gather(*(_quietly_unbind(s) for s in everyone))
        if self._closing:  # the closed sessions' rows are deleted before the database goes
            await asyncio.gather(*self._closing, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    def receivers(self) -> dict[int, list[Session]]:
        """Accounts with at least one session able to take deliver_sm, and those sessions."""
        found = {}
        for account_id, group in self.bound.items():
            able = [s for s in group if s.can_receive and not s.closed]
            if able:
                found[account_id] = able
        return found

    async def register(
        self, account_id: int, session: Session, limit: int, *, receives: bool
    ) -> bool:
        """Count the session against its account's limit, on every node of a cluster;
        False when the limit is reached."""
        group = self.bound[account_id]
        if len(group) >= limit:  # full here already: no need to ask the cluster
            return False
        opened = await self.services.smpp_credentials.open_session(
            account_id, node_id=self.settings.node_id, limit=limit
        )
        if opened is None:
            return False
        if session.closed:  # the client left while the cluster was asked
            self._close_row(opened)
            return False
        self._rows[session] = opened
        group.add(session)
        sessions_bound.inc()
        if receives:
            self.bound_receivers.bound(account_id)
        return True

    def unregister(self, account_id: int, session: Session, *, receives: bool) -> None:
        group = self.bound.get(account_id)
        if group is not None and session in group:
            group.discard(session)
            sessions_bound.dec()
            if not group:
                del self.bound[account_id]
            if receives:
                self.bound_receivers.unbound(account_id)
        opened = self._rows.pop(session, None)
        if opened is not None:
            self._close_row(opened)

    def _close_row(self, opened: int) -> None:
        """Free the session's place in the account's limit (after the close, not inline)."""
        task = asyncio.create_task(self._forget(opened))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _forget(self, opened: int) -> None:
        try:
            await self.services.smpp_credentials.close_session(opened)
        except Exception:  # it counts until this node restarts or is found dead
            log.exception("SMPP: could not free a closed session's place")


class _EsmeHandler:
    """One customer session: who it is, how fast it may submit, what it asks for."""

    def __init__(self, server: SmppServer, session: Session) -> None:
        self.server = server
        self.services = server.services
        self.account_id: int | None = None
        self.receives = False
        self.bucket: TokenBucket | None = None

    async def on_request(self, session: Session, pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            return await self._bind(session, pdu)
        if isinstance(pdu, SubmitSm):
            return await self._submit(session, pdu)
        if isinstance(pdu, QuerySm):
            return await self._query(pdu)
        if isinstance(pdu, CancelSm):
            return await self._cancel(pdu)
        return response_for(pdu, CommandStatus.ESME_RINVCMDID)

    def on_close(self, session: Session, exc: BaseException | None) -> None:
        if self.account_id is not None:
            self.server.unregister(self.account_id, session, receives=self.receives)

    async def _bind(
        self, session: Session, pdu: BindTransmitter | BindReceiver | BindTransceiver
    ) -> Pdu:
        client = session.peer[0] if session.peer else "unknown"
        try:
            account_id = await self.services.smpp_credentials.authenticate_bind(
                pdu.system_id, pdu.password, client=client
            )
        except Unauthenticated as exc:
            _refused(client, pdu.system_id, exc.message, "ESME_RBINDFAIL")
            return response_for(pdu, CommandStatus.ESME_RBINDFAIL)
        except TooManyAttempts as exc:
            # SMPP has no Retry-After: the status says "later", the log says when
            _refused(client, pdu.system_id, exc.message, "ESME_RTHROTTLED")
            return response_for(pdu, CommandStatus.ESME_RTHROTTLED)
        max_sessions, tps = await self.services.smpp_credentials.smpp_limits(account_id)
        limit = max_sessions or self.server.settings.smpp_max_sessions
        receives = not isinstance(pdu, BindTransmitter)
        if not await self.server.register(account_id, session, limit, receives=receives):
            reason = f"the account has {limit} sessions already"
            _refused(client, pdu.system_id, reason, "ESME_RBINDFAIL")
            return response_for(pdu, CommandStatus.ESME_RBINDFAIL)
        self.account_id = account_id
        self.receives = receives
        self.bucket = TokenBucket(
            tps or self.server.settings.smpp_session_tps, now=time.monotonic()
        )
        resp = response_for(pdu)
        resp.system_id = SERVER_SYSTEM_ID
        set_tlv_int(resp, Tag.SC_INTERFACE_VERSION, 0x34, 1)
        return resp

    async def _submit(self, session: Session, pdu: SubmitSm) -> Pdu:
        assert self.account_id is not None and self.bucket is not None  # the session checks binds
        if not self.bucket.take(time.monotonic()):
            submits.labels("ESME_RTHROTTLED").inc()
            # a client that keeps sending anyway is read no faster than its rate
            session.hold_reading(1.0 / self.bucket.rate)
            return response_for(pdu, CommandStatus.ESME_RTHROTTLED)
        try:
            request = translate.send_request(pdu, utcnow())
            message = await self.services.messaging.send(self.account_id, request)
        except translate.Refusal as refusal:
            return self._refuse(pdu, refusal.command_status)
        except ServiceError as exc:
            return self._refuse(pdu, translate.status_for(exc))
        except Exception:
            log.exception("SMPP submit_sm failed unexpectedly")
            return self._refuse(pdu, CommandStatus.ESME_RSYSERR)
        submits.labels("ESME_ROK").inc()
        return SubmitSmResp(message_id=message.uuid)

    def _refuse(self, pdu: Pdu, status: int) -> Pdu:
        submits.labels(status_name(status)).inc()
        return response_for(pdu, status)

    async def _query(self, pdu: QuerySm) -> Pdu:
        assert self.account_id is not None
        try:
            m = await self.services.messaging.get(self.account_id, pdu.message_id, history=False)
        except NotFound:
            return response_for(pdu, CommandStatus.ESME_RINVMSGID)
        err = translate.receipt_error(m)
        return QuerySmResp(
            message_id=m.uuid,
            final_date=translate.final_date(m),
            message_state=translate.MESSAGE_STATE[m.status],
            error_code=int(err) % 256,
        )

    async def _cancel(self, pdu: CancelSm) -> Pdu:
        assert self.account_id is not None
        if not pdu.message_id:
            return response_for(pdu, CommandStatus.ESME_RCANCELFAIL)
        try:
            await self.services.messaging.cancel(self.account_id, pdu.message_id)
        except NotFound:
            return response_for(pdu, CommandStatus.ESME_RINVMSGID)
        except ServiceError:
            return response_for(pdu, CommandStatus.ESME_RCANCELFAIL)
        return CancelSmResp()


def _refused(peer: str, system_id: str, reason: str, status: str) -> None:
    """A refused bind for the operator: why, as whom, from where; never the password."""
    log.warning("SMPP bind refused (%s): %s; system_id=%r peer=%s", status, reason, system_id, peer)


async def _quietly_unbind(session: Session) -> None:
    with contextlib.suppress(Exception):
        await session.unbind(timeout=2.0)
