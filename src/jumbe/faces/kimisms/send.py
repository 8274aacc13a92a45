"""``POST /api/send-sms``: one message, as the Kimisms document has it.

The contact is 9–13 digits (254XXXXXXXXX, 0XXXXXXXXX or 7XXXXXXXX); the sender
is resolved for the contact's network by the same rule as every face; the
answer names the message, the contact as stored and its provider.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from jumbe.faces.idempotent import request_key, send_once
from jumbe.faces.kimisms.tokens import ERRORS, KimismsError
from jumbe.faces.kimisms.wire import Refused, caller, error, parsed, refused
from jumbe.faces.state import services_of
from jumbe.services.errors import (
    Conflict,
    InsufficientBalance,
    InvalidRecipient,
    MessageTooLong,
    RefusedCallbackUrl,
    SenderNotOnCarrier,
    ServiceError,
    UnknownSender,
)
from jumbe.services.idempotency import IdempotencyKey, KeyReused
from jumbe.services.messaging import MAX_TEXT_CHARS, SendRequest
from jumbe.services.views import MessageView

router = APIRouter()

SOURCE = "kimisms"  # the messages' face, which picks their callbacks' shape
CONTACT = re.compile(r"\d{9,13}")
PROVIDERS = {"safaricom": "Safaricom", "airtel": "Airtel", "telkom": "Telkom"}


def provider(carrier: str) -> str:
    """The carrier as the document names it (Safaricom, Airtel, Telkom)."""
    return PROVIDERS.get(carrier, carrier.replace("_", " ").title())


class SendSms(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=False,
        json_schema_extra={
            "example": {
                "sender_name": "KIMISMS",
                "contact": "254712345678",
                "message": "Your OTP is 482910",
                "callback_url": "https://your-app.com/callback",
            }
        },
    )

    sender_name: str = Field(max_length=64, examples=["KIMISMS"])
    contact: str = Field(max_length=32, examples=["254712345678"])
    message: str = Field(examples=["Your OTP is 482910"])
    callback_url: str | None = Field(default=None, examples=["https://your-app.com/callback"])


class SmsAccepted(BaseModel):
    message_id: str = Field(examples=["a1b2c3d4-e5f6-7890-abcd-ef1234567890"])
    contact: str = Field(examples=["254712345678"])
    status: str = Field(examples=["INITIATED"])
    description: str = Field(examples=["Message queued for delivery"])
    provider: str = Field(examples=["Safaricom"])


def accepted_json(message: MessageView) -> dict[str, str]:
    return {
        "message_id": message.uuid,
        "contact": message.recipient,
        "status": "INITIATED",
        "description": "Message queued for delivery",
        "provider": provider(message.carrier),
    }


def _invalid(exc: ServiceError, sender_name: str) -> JSONResponse:
    """A refusal of the services in the document's words."""
    if isinstance(exc, SenderNotOnCarrier):
        return error(
            400, "Invalid contact", "The recipient's network must match the Sender ID's provider"
        )
    if isinstance(exc, UnknownSender):
        return error(
            400, "Invalid sender_name", f"No approved Sender ID found matching '{sender_name}'"
        )
    if isinstance(exc, InvalidRecipient):
        return error(400, "Invalid contact", exc.message)
    if isinstance(exc, InsufficientBalance):
        return error(400, "Insufficient balance", "Not enough float to send this message")
    if isinstance(exc, RefusedCallbackUrl):
        return error(400, "Invalid callback_url", exc.message)
    if isinstance(exc, MessageTooLong):
        return error(400, "Invalid message", exc.message)
    return error(400, "Invalid request", exc.message)


@router.post(
    "/api/send-sms",
    summary="Kimisms: send one SMS",
    response_model=SmsAccepted,
    responses={**ERRORS, 409: {"model": KimismsError, "description": "Idempotency-Key reused"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SendSms.model_json_schema()}},
        }
    },
)
async def send_sms(request: Request) -> Response:
    try:
        who = await caller(request)
        body = await parsed(request, SendSms)
    except Refused as exc:
        return refused(exc)
    try:
        key = await request_key(request)
    except ServiceError as exc:
        return error(400, "Invalid Idempotency-Key", exc.message)
    if not CONTACT.fullmatch(body.contact):
        return error(400, "Invalid contact", "contact must be 9 to 13 digits")
    if not body.message.strip():
        return error(400, "Invalid message", "message must not be empty")
    if len(body.message) > MAX_TEXT_CHARS:
        return error(400, "Invalid message", f"message is longer than {MAX_TEXT_CHARS} characters")
    if not body.sender_name.strip():
        return error(400, "Invalid sender_name", "sender_name must not be empty")
    jumbe = services_of(request)

    async def send(idempotency: IdempotencyKey | None) -> MessageView:
        return await jumbe.messaging.send(
            who.account_id,
            SendRequest(
                to=body.contact,
                text=body.message,
                sender=body.sender_name,
                callback_url=body.callback_url,
                source=SOURCE,
                idempotency=idempotency,
            ),
        )

    try:
        return await send_once(jumbe, who.account_id, key, send, _answer)
    except KeyReused as exc:
        return error(409, "Idempotency-Key reused", exc.message)
    except Conflict as exc:
        return error(409, "Conflict", exc.message)
    except ServiceError as exc:
        return _invalid(exc, body.sender_name)


def _answer(message: MessageView) -> tuple[int, bytes]:
    return 200, json.dumps(accepted_json(message)).encode()
