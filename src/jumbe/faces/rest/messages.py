"""REST v1 messages: send, list, get, resend (the Mobile Sasa contract)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.core.status import MessageStatus
from jumbe.faces.idempotent import IDEMPOTENCY_HEADER, request_key, send_once
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.envelope import ok, paged
from jumbe.faces.rest.schemas import MessageOut, MessageWithHistory, Page, documented
from jumbe.faces.state import services_of
from jumbe.services.idempotency import IdempotencyKey
from jumbe.services.messaging import MessagingService, SendRequest
from jumbe.services.tokens import Caller
from jumbe.services.views import API_STATUS, MessageView

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class SendMessage(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=False,
        json_schema_extra={
            "examples": [
                {"to": "+254712345678", "message": "Hello from Jumbe!"},
                {
                    "to": "0712345678",
                    "message": "Your order 42 has shipped",
                    "sender_id": "JUMBE",
                    "callback_url": "https://example.com/jumbe/status",
                    "reference": "order-42",
                },
            ]
        },
    )

    to: str = Field(description="Recipient in E.164 (+254712345678) or any Kenyan local form")
    message: str = Field(description="Text; long messages are split into parts automatically")
    sender_id: str | None = Field(
        default=None, description="Approved sender name or sender UUID; omit for the default"
    )
    callback_url: str | None = Field(
        default=None, description="Each status change is POSTed here, signed (see README)"
    )
    reference: str | None = Field(
        default=None, max_length=64, description="Your own reference, echoed in callbacks"
    )


def _messaging(request: Request) -> MessagingService:
    return services_of(request).messaging


class Message(Protocol):
    """A message as this face shows it: a stored one (``MessageView``), or the message
    as one of its status changes left it (``events.StatusChanged``) for a callback."""

    @property
    def uuid(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def status(self) -> MessageStatus: ...
    @property
    def status_at(self) -> datetime: ...
    @property
    def status_detail(self) -> str: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def parts(self) -> int: ...
    @property
    def units(self) -> int: ...
    @property
    def encoding(self) -> str: ...
    @property
    def client_ref(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def message_json(m: Message) -> dict[str, Any]:
    """The REST v1 message: the one shape of a message in answers and in callbacks."""
    outgoing = m.direction == "mt"
    return {
        "uuid": m.uuid,
        "to": _number(m.recipient),
        "message": m.body,
        "sender_id": m.sender if outgoing else _number(m.sender),
        "status": API_STATUS[m.status],
        "parts": m.parts,
        "created_at": iso(m.created_at),
        "state": m.status.value,
        "status_description": m.status_detail,
        "error_code": m.error_code,
        "updated_at": iso(m.status_at),
        "direction": "outbound" if outgoing else "inbound",
        "units": m.units,
        "encoding": m.encoding,
        "reference": m.client_ref,
    }


def render(m: MessageView, *, with_history: bool = False) -> dict[str, Any]:
    body = message_json(m)
    if with_history:
        body["history"] = [
            {"status": c.status.value, "at": iso(c.at), "description": c.description}
            for c in m.history
        ]
    return body


def _number(digits: str) -> str:
    """MSISDNs in E.164 with '+'; short codes and alphanumerics as they are."""
    return "+" + digits if digits.isdigit() and len(digits) > 8 else digits


@router.post("", summary="Send a message", **documented(MessageOut, 402, 404, 409))
async def send_message(
    body: SendMessage,
    request: Request,
    caller: Caller = scope("messages"),
    _key: Annotated[str | None, IDEMPOTENCY_HEADER] = None,
) -> Response:
    """With an ``Idempotency-Key`` header, a repeat within 24 hours sends nothing and gets
    the first answer; the same key with another body is refused (409)."""
    key = await request_key(request)
    messaging = _messaging(request)

    async def send(idempotency: IdempotencyKey | None) -> MessageView:
        return await messaging.send(
            caller.account_id,
            SendRequest(
                to=body.to,
                text=body.message,
                sender=body.sender_id,
                callback_url=body.callback_url,
                client_ref=body.reference,
                source="rest",
                idempotency=idempotency,
            ),
        )

    return await send_once(services_of(request), caller.account_id, key, send, _answer)


def _answer(message: MessageView) -> tuple[int, bytes]:
    return 200, json.dumps(ok(render(message)), ensure_ascii=False).encode()


@router.get("", summary="List messages, newest first", **documented(Page[MessageOut]))
async def list_messages(
    request: Request,
    caller: Caller = scope("messages"),
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(description="queued, sent, delivered, failed")] = None,
    direction: Annotated[str | None, Query(description="mt (outbound) or mo (inbound)")] = None,
) -> dict[str, Any]:
    found = await _messaging(request).list(
        caller.account_id,
        page=page,
        page_size=page_size,
        phone=phone,
        status=status,
        direction=direction,
    )
    return paged(
        [render(m) for m in found.items],
        page=found.page,
        page_size=found.page_size,
        total=found.total,
    )


@router.get(
    "/{uuid}",
    summary="Get a message with its status history",
    **documented(MessageWithHistory, 404),
)
async def get_message(
    uuid: str, request: Request, caller: Caller = scope("messages")
) -> dict[str, Any]:
    return ok(render(await _messaging(request).get(caller.account_id, uuid), with_history=True))


@router.post(
    "/{uuid}/resend",
    summary="Resend a failed message as a new one",
    **documented(MessageOut, 402, 404, 409),
)
async def resend_message(
    uuid: str, request: Request, caller: Caller = scope("messages")
) -> dict[str, Any]:
    return ok(render(await _messaging(request).resend(caller.account_id, uuid)))
