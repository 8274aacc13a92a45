"""Listening for ESMEs: one Session per accepted connection, each with its own handler."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Callable
from typing import Any, cast

from jumbe.smpp.session import Session, SessionHandler

__all__ = ["serve"]


async def serve(
    handler_factory: Callable[[Session], SessionHandler],
    host: str,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None = None,
    **session_kwargs: Any,
) -> asyncio.Server:
    """Start an SMSC-role listener; port 0 picks a free port (read it from server.sockets).

    The factory receives the session so a handler can keep it (to push deliver_sm later)
    without a second registration step.
    """

    def make_session() -> Session:
        session = Session(cast(SessionHandler, None), role="smsc", **session_kwargs)
        session.handler = handler_factory(session)
        return session

    loop = asyncio.get_running_loop()
    return await loop.create_server(make_session, host, port, ssl=ssl)
