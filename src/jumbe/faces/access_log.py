"""One line per HTTP request on the ``jumbe.access`` logger, with nothing secret in it.

A line says who asked (the client address), what (method, path, and the query string
with the values of credential-like parameters replaced by ``***``), the answer's
status and how long it took: enough to follow a client's traffic or a slow route.
Headers are never logged (Authorization, X-API-Key and cookies carry credentials),
nor bodies (passwords, XML credentials, message text).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("jumbe.access")

# a query parameter whose name contains one of these carries a credential
_SECRET_NAMES = ("token", "key", "secret", "password", "passwd", "auth", "signature", "code")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except BaseException:
            status = status or 500  # what the server answers for an escaped exception
            raise
        finally:
            log.info(
                '%s "%s %s" %d %.1f ms',
                _client(scope),
                scope["method"],
                target(scope["path"], scope.get("query_string", b"")),
                status,
                (time.perf_counter() - started) * 1000,
            )


def target(path: str, query_string: bytes) -> str:
    """The path and query as logged: credential-like values masked, the rest as sent."""
    if not query_string:
        return path
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    shown = "&".join(
        f"{quote(name)}={'***' if _secret(name) else quote(value)}" for name, value in pairs
    )
    return f"{path}?{shown}"


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_NAMES)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"
