"""Opening an ESME connection: TCP connect plus bind, as one step that either works or raises."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Any

from jumbe.smpp.constants import RESPONSE_BIT
from jumbe.smpp.errors import BindFailed
from jumbe.smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter
from jumbe.smpp.session import Session, SessionHandler

__all__ = ["connect"]


async def connect(
    host: str,
    port: int,
    handler: SessionHandler,
    bind: BindTransmitter | BindReceiver | BindTransceiver,
    *,
    ssl: ssl_module.SSLContext | None = None,
    connect_timeout: float = 10.0,
    **session_kwargs: Any,
) -> Session:
    """Connect and bind; the returned session is bound (can_transmit/can_receive are set).

    Raises BindFailed(command_status) when the SMSC refuses the bind (generic_nack included),
    ResponseTimeout when it does not answer within connect_timeout, and OSError/TimeoutError when
    the TCP or TLS connection cannot be made. The connection is closed in every failure case.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(connect_timeout):
        _, session = await loop.create_connection(
            lambda: Session(handler, role="esme", **session_kwargs), host, port, ssl=ssl
        )
    try:
        response = await session.request(bind, timeout=connect_timeout)
    except BaseException:
        session.close()
        raise
    if response.command_status != 0 or response.command_id != bind.command_id | RESPONSE_BIT:
        session.close()
        await session.wait_closed()
        raise BindFailed(response.command_status)
    return session
