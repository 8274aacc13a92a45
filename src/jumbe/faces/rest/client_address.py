"""Every HTTP face's client address: the peer, or what a trusted proxy says the peer was.

Installed once on the HTTP application when proxies are trusted, so REST,
Daraja and M2M all read ``request.client.host`` and get the same answer
(``core.client_address``).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from jumbe.core.client_address import IPNetwork, client_address


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: Sequence[IPNetwork], header: str) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.header = header
        self._header_bytes = header.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer:
            values = [v.decode("latin-1") for k, v in scope["headers"] if k == self._header_bytes]
            address = client_address(peer[0], values, header=self.header, trusted=self.trusted)
            if address != peer[0]:
                scope = {**scope, "client": (address, 0)}
        await self.app(scope, receive, send)
