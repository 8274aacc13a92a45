"""The M2M XML API: ``POST /m2m/api`` with a ``send_sms`` or ``query_sms_mt_details`` document.

The root element names the call and the answer is ``<{call}_response
api_id="…">`` echoing its ``api_id``, with ``api_outcome`` ``success`` or
``failure`` and, on failure, an ``error_description``. As with the vendor's
API the outcome is in the body: a document that was read is answered 200
whatever its outcome, except 429 (with Retry-After) for wrong credentials from
an address or for a username that failed too often. A body that is not a
readable document (malformed, a DTD, too large, an unknown call) is answered
400 (413 when too large) with ``<error_response>``, since no call can be named.

Each document authenticates its own user (``m2m_username`` and
``m2m_password`` of ``jumbe accounts create``): ``send_sms`` needs the
``message`` permission, ``query_sms_mt_details`` the ``view`` one, and both
act on the SIMs of that user's account only.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jumbe.core.status import MessageStatus
from jumbe.faces.m2m.content import content
from jumbe.faces.m2m.xml import (
    MAX_DOCUMENT,
    Malformed,
    Refused,
    TooLarge,
    child,
    element,
    local_name,
    parse,
    response,
    text,
)
from jumbe.services import Services
from jumbe.services.device_messages import M2M, DeviceMessage
from jumbe.services.errors import (
    NotPermitted,
    ServiceError,
    TooManyAttempts,
    Unauthenticated,
    UnknownSim,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["m2m"])

PATH = "/m2m/api"
MEDIA_TYPE = "application/xml; charset=utf-8"
MAX_LASTX = 20
INVALID_CREDENTIALS = "invalid authentication credentials"
_SMS_UID = re.compile(r"[A-Za-z0-9]{1,12}")
# our statuses in the vendor's words: not yet final is "pending"
STATUS = {
    MessageStatus.ACCEPTED: "pending",
    MessageStatus.SENT: "pending",
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.FAILED: "failed",
    MessageStatus.EXPIRED: "expired",
    MessageStatus.CANCELLED: "cancelled",
}
EXAMPLE = """<send_sms version="1" api_id="123456">
  <authentication>
    <username>m2m-demo1234</username>
    <password>…</password>
  </authentication>
  <iccid>89254014010100030360</iccid>
  <message_text>let’s meet at the station</message_text>
  <data_coding>default</data_coding>
  <sms_uid>123abcde4567</sms_uid>
</send_sms>"""

QUERY_EXAMPLE = """<query_sms_mt_details version="1" api_id="123457">
  <authentication>
    <username>m2m-demo1234</username>
    <password>…</password>
  </authentication>
  <iccid>89254014010100030360</iccid>
  <lastx>2</lastx>
</query_sms_mt_details>"""
ANSWER_EXAMPLE = (
    '<send_sms_response api_id="123456"><api_outcome>success</api_outcome></send_sms_response>'
)
REFUSED_EXAMPLE = (
    "<error_response><api_outcome>failure</api_outcome>"
    "<error_description>the body is not well-formed XML</error_description></error_response>"
)

Call = Callable[[Services, Element, str], Awaitable[list[Element]]]


def _xml(description: str, example: str | None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"type": "string"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/xml": media}}


@router.post(
    PATH,
    response_class=Response,
    summary="M2M XML API: send_sms, query_sms_mt_details",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {
                    "schema": {"type": "string"},
                    "examples": {
                        "send_sms": {"value": EXAMPLE},
                        "query_sms_mt_details": {"value": QUERY_EXAMPLE},
                    },
                }
            },
        }
    },
    responses={
        200: _xml("The call's answer; api_outcome says success or failure", ANSWER_EXAMPLE),
        400: _xml("Not a document this API reads: <error_response>", REFUSED_EXAMPLE),
        408: _xml("The body came too slowly: <error_response>", None),
        413: _xml("The body is larger than a document may be: <error_response>", None),
        429: _xml("Too many failed sign-ins: wait Retry-After seconds", None),
    },
)
async def m2m_api(request: Request) -> Response:
    try:
        root = parse(await _body(request))
    except Malformed as exc:
        return _answer(413 if isinstance(exc, TooLarge) else 400, "error", None, str(exc))
    name, api_id = local_name(root), root.get("api_id")
    call = CALLS.get(name)
    if call is None:
        calls = " or ".join(CALLS)
        return _answer(400, "error", api_id, f"unsupported request {name!r}: use {calls}")
    services: Services = request.app.state.services
    client = request.client.host if request.client else "unknown"
    try:
        if root.get("version", "1").strip() != "1":
            raise Refused("invalid parameter: version must be 1")
        items = await call(services, root, client)
    except Refused as exc:
        return _answer(200, name, api_id, str(exc))
    except TooManyAttempts as exc:
        return _answer(429, name, api_id, exc.message, {"Retry-After": str(exc.retry_after)})
    except ServiceError as exc:
        return _answer(200, name, api_id, _description(exc))
    except Exception:
        log.exception("M2M %s failed", name)
        return _answer(500, name, api_id, "internal error: the request was not processed")
    return Response(response(name, api_id, items=items), media_type=MEDIA_TYPE)


async def send_sms(services: Services, doc: Element, client: str) -> list[Element]:
    """Queue one message to the account's SIM; the answer is the bare outcome."""
    account_id = await _authenticate(services, doc, client, permission="message")
    iccid = _required(doc, "iccid")
    message = content(_required(doc, "message_text", strip=False), text(doc, "data_coding"))
    sms_uid = text(doc, "sms_uid")
    if sms_uid is not None and not _SMS_UID.fullmatch(sms_uid):
        raise Refused("invalid parameter: sms_uid must be 1 to 12 letters and digits")
    await services.device_messages.send(
        account_id,
        iccid=iccid,
        text=message.text,
        binary=message.binary,
        origin=text(doc, "origin"),
        client_ref=sms_uid,
        source=M2M,
    )
    return []


async def query_sms_mt_details(services: Services, doc: Element, client: str) -> list[Element]:
    """The SIM's ``lastx`` latest messages, newest first; a single empty ``<sms>`` if none."""
    account_id = await _authenticate(services, doc, client, permission="view")
    iccid = _required(doc, "iccid")
    lastx = text(doc, "lastx") or "1"
    # a few digits at most before int(): thousands of them are an error, not a number
    if not (
        lastx.isascii() and lastx.isdigit() and len(lastx) < 10 and 1 <= int(lastx) <= MAX_LASTX
    ):
        raise Refused(f"invalid parameter: lastx must be a whole number from 1 to {MAX_LASTX}")
    sent = await services.device_messages.latest_sent(account_id, iccid, int(lastx))
    return [_sms(message) for message in sent] or [element("sms")]


CALLS: dict[str, Call] = {
    "send_sms": send_sms,
    "query_sms_mt_details": query_sms_mt_details,
}


def _sms(message: DeviceMessage) -> Element:
    fields = [("sent_timestamp", _utc(message.created_at))]
    if message.source == M2M and message.client_ref is not None:
        fields.append(("sms_uid", message.client_ref))
    delivered = message.status is MessageStatus.DELIVERED
    fields += [
        ("status", STATUS.get(message.status, message.status.value)),
        ("delivered_timestamp", _utc(message.status_at) if delivered else ""),
        ("origin", "api" if message.source == M2M else "portal"),
        ("message_text", _message_text(message)),
    ]
    return element("sms", fields)


def _message_text(message: DeviceMessage) -> str:
    """Text as sent; binary (stored as hex) in base64 again, as it was given."""
    if message.encoding == "binary":
        return base64.b64encode(bytes.fromhex(message.body)).decode("ascii")
    return message.body


def _utc(at: datetime) -> str:
    """dd/mm/yyyy hh:mm:ss in UTC."""
    return f"{at.astimezone(UTC):%d/%m/%Y %H:%M:%S}"


async def _authenticate(services: Services, doc: Element, client: str, *, permission: str) -> int:
    """The account of the document's user, who must hold ``permission``."""
    credentials = child(doc, "authentication")
    if credentials is None:
        raise Unauthenticated("authentication is required")
    return await services.users.authenticate_user(
        text(credentials, "username") or "",
        text(credentials, "password", strip=False) or "",
        client=client,
        permission=permission,
    )


def _required(doc: Element, name: str, *, strip: bool = True) -> str:
    value = text(doc, name, strip=strip)
    if value is None:
        raise Refused(f"missing parameter: {name} is required")
    return value


def _description(exc: ServiceError) -> str:
    """The error description for a service's refusal, in the document's words where it has them."""
    match exc:
        case Unauthenticated():
            return INVALID_CREDENTIALS
        case NotPermitted():
            return f"insufficient permissions: {exc.message}"
        case UnknownSim():
            return f"unknown iccid: {exc.message}"
    return exc.message


async def _body(request: Request) -> bytes:
    """The body, read no further than one byte past what ``parse`` accepts."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_DOCUMENT:
        raise TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_DOCUMENT:
            break
    return bytes(body)


def refuse(status: int, message: str) -> Response:
    """A body refused before it is read (too large, too slow): no call can be named."""
    return _answer(status, "error", None, message)


def _answer(
    status: int,
    call: str,
    api_id: str | None,
    error: str,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        response(call, api_id, error=error),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )
