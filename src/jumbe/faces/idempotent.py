"""One send per Idempotency-Key, for every face that takes the header.

The rule lives in ``services/idempotency.py``; this is the part each face would
otherwise repeat: look for an earlier answer, send with the key claimed in the
message's transaction, record the answer, and give a repeat the first answer
(``Idempotent-Replayed: true``), or, if the first request died before it could
record one, an answer rendered from the message it stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Header, Request
from fastapi.responses import Response

from jumbe.services import Services
from jumbe.services.idempotency import DuplicateKey, IdempotencyKey, Replay, key_for
from jumbe.services.views import MessageView

HEADER = "Idempotency-Key"
# declared on a route for its documentation; the value is read by ``request_key``
IDEMPOTENCY_HEADER = Header(
    alias=HEADER,
    description="Within 24 hours a repeat sends nothing and gets the first answer;"
    " another body with the same key is refused (409)",
)
Send = Callable[[IdempotencyKey | None], Awaitable[MessageView]]
Render = Callable[[MessageView], tuple[int, bytes]]


async def request_key(request: Request) -> IdempotencyKey | None:
    """The request's key, fingerprinted by method, path and body; InvalidRequest if unusable."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    return key_for(raw, request.method, request.url.path, await request.body())


async def send_once(
    services: Services,
    account_id: int,
    key: IdempotencyKey | None,
    send: Send,
    render: Render,
) -> Response:
    """``send`` at most once per key; ServiceErrors (KeyReused among them) propagate."""
    if key is None:
        return _response(*render(await send(None)))
    replay = await services.idempotency.replay(account_id, key)
    if replay is None:
        try:
            message = await send(key)
        except DuplicateKey:
            replay = await services.idempotency.first_answer(account_id, key)
        else:
            status, body = render(message)
            await services.idempotency.remember(account_id, key, status, body)
            return _response(status, body)
    return await _replayed(services, account_id, replay, render)


async def _replayed(
    services: Services, account_id: int, replay: Replay, render: Render
) -> Response:
    if replay.status is not None and replay.body is not None:
        status, body = replay.status, replay.body
    else:
        message = await services.messaging.get(account_id, replay.message_uuid, history=False)
        status, body = render(message)
    return _response(status, body, {"Idempotent-Replayed": "true"})


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)
