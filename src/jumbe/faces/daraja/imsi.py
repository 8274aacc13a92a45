"""Safaricom's IMSI / SIM-swap check: ``POST /imsi/v1/checkATI``.

Success: ``{"requestRefID", "responseCode": "200", "responseDesc": "Success",
"imsi", "lastSwapDate", "msisdnRegistrationDate", "customerNumber"}`` with
dates as dd-MM-yyyy. Errors have the same envelope without the three
answers, the HTTP status in ``responseCode`` (a string, as in the success
case) and the reason in ``responseDesc``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jumbe.faces.daraja.gateway import caller, invalid_token, services
from jumbe.faces.daraja.schemas import imsi_check
from jumbe.faces.daraja.wire import BadPayload, Payload, day_month_year, request_ref
from jumbe.services.errors import (
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["daraja"])

_STATUS = (
    (BadPayload, 400, "Bad Request"),
    (InvalidRequest, 400, "Bad Request"),
    (InsufficientBalance, 402, "Payment Required"),
    (NotFound, 404, "Not Found"),
    (TooManyAttempts, 429, "Too Many Requests"),
)


def _answer(
    status: int,
    description: str,
    number: str,
    headers: dict[str, str] | None = None,
    **found: str,
) -> JSONResponse:
    return JSONResponse(
        {
            "requestRefID": request_ref(),
            "responseCode": str(status),
            "responseDesc": description,
            **found,
            "customerNumber": number,
        },
        status_code=status,
        headers=headers,
    )


@router.post(
    "/imsi/v1/checkATI",
    summary="IMSI: hashed IMSI, last swap and registration date",
    **imsi_check(),
)
async def check_ati(request: Request) -> JSONResponse:
    number = ""
    try:
        partner = (await caller(request)).account_id
        number = Payload.parse(await request.body()).text("customerNumber")
        check = await services(request).imsi_checks.check(partner, number)
    except Unauthenticated:
        return invalid_token()
    except Exception as exc:
        for kind, status, word in _STATUS:
            if isinstance(exc, kind):
                wait = (
                    {"Retry-After": str(exc.retry_after)}
                    if isinstance(exc, TooManyAttempts)
                    else None
                )
                return _answer(status, f"{word}: {exc}", number, wait)
        log.exception("unhandled error in checkATI")
        return _answer(500, "Internal Server Error", number)
    return _answer(
        200,
        "Success",
        check.msisdn,
        imsi=check.hashed_imsi,
        lastSwapDate=day_month_year(check.last_swap),
        msisdnRegistrationDate=day_month_year(check.registered_on),
    )
