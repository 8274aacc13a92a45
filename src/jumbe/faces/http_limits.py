"""Size, time and character limits for every HTTP request, whichever face serves it.

Two layers, because a slow or oversized client can hold a connection at two moments:

- Before the application sees the request, uvicorn reads its head (request line and
  headers) and has no deadline for that: a client trickling one header byte a second, or
  opening a connection and saying nothing, holds it forever. ``GuardedHttp`` (uvicorn's
  httptools protocol with a deadline) closes a connection whose head is not complete
  within ``head_timeout`` seconds (answering 408 if it had started one) and refuses a
  head over ``MAX_HEAD`` bytes with 431.
- Once the head is in, ``RequestLimits`` (ASGI middleware) caps the body by route: the
  first rule whose prefix matches decides the cap and who words the refusal (each face
  answers in its own format). A declared ``Content-Length`` over the cap is refused at
  once, unread; otherwise the body is read, at most ``timeout`` seconds for the whole of
  it, and handed to the route only when complete and within the cap. Uploads
  (``streamed`` rules) are passed on as they arrive, for the route to spool, with the
  same cap and no pause between two pieces longer than ``timeout``. A path or query
  string with a NUL character (``%00``) is refused before any route sees it: no
  identifier holds one, and PostgreSQL cannot even compare text that does.

Every refusal carries ``Connection: close``, so the server stops reading what the
client still sends instead of draining it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD = 64 * 1024  # request line and headers; browsers send a few KiB at most

Refusal = Callable[[int, str], Response]  # (status, reason) -> the face's own error answer


@dataclass(frozen=True, slots=True)
class RouteRule:
    prefix: str  # the paths it applies to
    max_bytes: int
    refuse: Refusal
    streamed: bool = False  # an upload: passed on as it arrives, not held in memory


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class RequestLimits:
    def __init__(self, app: ASGIApp, *, rules: Sequence[RouteRule], timeout: float) -> None:
        self.app = app
        self.rules = tuple(rules)
        self.timeout = timeout

    def rule_for(self, path: str) -> RouteRule:
        for rule in self.rules:
            if path.startswith(rule.prefix):
                return rule
        raise LookupError(f"no body rule for {path}: the last rule must have the prefix '/'")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.rule_for(scope["path"])
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse(rule, 400, "the request's path or query contains a NUL character", send)
            return
        declared = _content_length(scope)
        try:
            if declared is not None and declared > rule.max_bytes:
                raise _TooLarge
            if rule.streamed:
                await self._streamed(rule, scope, receive, send)
                return
            async with asyncio.timeout(self.timeout):
                replay = await _read_whole(receive, rule.max_bytes)
        except _TooLarge:
            await _refuse(
                rule, 413, f"the request body is larger than {rule.max_bytes} bytes", send
            )
            return
        except (_TooSlow, TimeoutError):
            await _refuse(rule, 408, self._too_slow, send)
            return
        if replay is None:  # the client went away before its body was in
            return
        await self.app(scope, replay, send)

    @property
    def _too_slow(self) -> str:
        return f"the request body did not arrive within {self.timeout:g} seconds"

    async def _streamed(self, rule: RouteRule, scope: Scope, receive: Receive, send: Send) -> None:
        """The app reads the body itself; a piece over the cap or too late ends the request."""
        size = 0
        started = False

        async def guarded_receive() -> Message:
            nonlocal size
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            size += len(message.get("body", b""))
            if size > rule.max_bytes:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except (_TooLarge, _TooSlow) as exc:
            if started:
                raise
            large = isinstance(exc, _TooLarge)
            reason = (
                f"the upload is larger than {rule.max_bytes} bytes"
                if large
                else (f"the upload paused for more than {self.timeout:g} seconds")
            )
            await _refuse(rule, 413 if large else 408, reason, send)


async def _read_whole(receive: Receive, limit: int) -> Receive | None:
    """Read the body (at most ``limit`` bytes); a receive that replays it, or None if the
    client disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    pending: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def replay() -> Message:
        nonlocal pending
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()  # after the body: wait for the disconnect, as servers do

    return replay


async def _refuse(rule: RouteRule, status: int, reason: str, send: Send) -> None:
    response = rule.refuse(status, reason)
    response.headers["connection"] = "close"
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size cap for each request's head,
    and a lingering close.

    uvicorn arms its keep-alive timer only after a response, and disarms it at the first
    byte of the next request; nothing bounds a head that never completes. The deadline
    runs from the connection's start (and from each later request's first byte) to the
    end of its headers. The size is counted per read, so a head is refused once more
    than ``MAX_HEAD`` bytes have come without completing it.

    A connection closed while the client is still sending a body (a 413 or 408 answered
    early) would make the kernel reset it, and the client would see the reset instead of
    the answer. So such a close only ends our side, then reads and drops what still comes
    for up to ``LINGER`` seconds before closing for good (RFC 9112, section 9.6).
    """

    head_timeout: float = 10.0  # set per server by ``guarded_http``

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._lingering = _LingeringClose(transport, self)
        super().connection_made(self._lingering)  # type: ignore[arg-type]
        self._head_bytes = 0
        self._head_started = False  # a byte of the head has come: it gets an answer
        self._body_pending = False
        self._head_deadline: asyncio.TimerHandle | None = self.loop.call_later(
            self.head_timeout, self._head_too_slow
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        self._head_bytes = 0
        if self._head_deadline is None:  # a later request on a kept-alive connection
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def data_received(self, data: bytes) -> None:
        if self._lingering.closing:
            return  # the answer is out: what the client still sends is dropped
        super().data_received(data)
        if self._head_deadline is None or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD:
            self._end_head(431, "Request Header Fields Too Large")

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        self._body_pending = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        self._lingering.lost()
        super().connection_lost(exc)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self._end_head(408, "Request Timeout")
        else:
            self.transport.close()  # a connection that never said anything

    def _end_head(self, status: int, phrase: str) -> None:
        self._disarm_head_deadline()
        self.transport.write(
            f"HTTP/1.1 {status} {phrase}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        self._body_pending = True  # the rest of the head is still on its way
        self.transport.close()


LINGER = 2.0  # seconds a closed connection keeps reading what the client still sends


class _LingeringClose:
    """The transport as uvicorn sees it; ``close`` lingers while a request is unread."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttp) -> None:
        self._transport = transport
        self._protocol = protocol
        self._timer: asyncio.TimerHandle | None = None
        self.closing = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.closing or self._transport.is_closing()

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if not self._protocol._body_pending or not self._transport.can_write_eof():
            self._transport.close()
            return
        self._transport.write_eof()  # our answer is complete: FIN after it
        self._timer = asyncio.get_running_loop().call_later(LINGER, self._transport.close)

    def lost(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def guarded_http(head_timeout: float) -> type[GuardedHttp]:
    """The protocol class for one server (uvicorn takes a class, not an instance)."""
    return type("GuardedHttp", (GuardedHttp,), {"head_timeout": head_timeout})
