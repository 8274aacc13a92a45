"""An embedded M-Pesa Express (Daraja STK push) for the default install and the tests.

It answers like Daraja under ``/simulator/mpesa``: OAuth at
``/oauth/v1/generate`` (HTTP Basic with its consumer key and secret), STK
pushes at ``/mpesa/stkpush/v1/processrequest`` (checking the Password against
its passkey), and ``/mpesa/stkpushquery/v1/query``, with Daraja's shapes,
codes and words. Each push ends, after ``delay`` seconds, in the outcome chosen
for it (``jumbe simulate mpesa --next ...``; success when none was chosen):

- ``success``: paid; the callback carries the amount and a receipt number;
- ``cancel``: ResultCode 1032, the customer cancelled the prompt;
- ``timeout``: ResultCode 1037, the phone never answered;
- ``silent``: paid, but no callback ever comes: only a query finds out.

Until the outcome is known a query answers Daraja's "The transaction is being
processed". The control endpoint takes the simulator token, like the carrier's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import json
import logging
import secrets
import string
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from jumbe.core.kenya_time import EAT
from jumbe.simulators.control import token_guard

__all__ = ["PREFIX", "MpesaSimulator", "Outcome"]

log = logging.getLogger(__name__)

PREFIX = "/simulator/mpesa"
SANDBOX_SHORTCODE = "174379"


class Outcome(StrEnum):
    SUCCESS = "success"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    SILENT = "silent"


_RESULTS = {
    Outcome.SUCCESS: (0, "The service request is processed successfully."),
    Outcome.SILENT: (0, "The service request is processed successfully."),
    Outcome.CANCEL: (1032, "Request cancelled by user"),
    Outcome.TIMEOUT: (1037, "DS timeout user cannot be reached"),
}


@dataclass(slots=True)
class SimulatedPayment:
    merchant_request_id: str
    checkout_request_id: str
    amount: int
    phone: str
    callback_url: str
    outcome: Outcome
    result: tuple[int, str] | None = None  # set once the customer has "answered"
    receipt: str | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # what was POSTed


class NextOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome


class MpesaSimulator:
    def __init__(
        self,
        *,
        delay: float = 2.0,
        shortcode: str = SANDBOX_SHORTCODE,
        timeout: float = 10.0,
    ) -> None:
        self.delay = delay
        self.shortcode = shortcode
        self.passkey = secrets.token_hex(32)
        self.consumer_key = secrets.token_urlsafe(18)
        self.consumer_secret = secrets.token_urlsafe(12)
        self.payments: dict[str, SimulatedPayment] = {}
        self.next_outcomes: deque[Outcome] = deque()
        self._tokens: set[str] = set()
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = httpx.AsyncClient(timeout=timeout)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    def choose(self, outcome: Outcome) -> list[str]:
        """The outcome of the next push not yet chosen for; the queue of them."""
        self.next_outcomes.append(outcome)
        return [o.value for o in self.next_outcomes]

    def router(self, control_token: str) -> APIRouter:
        router = APIRouter(prefix=PREFIX)

        @router.get("/oauth/v1/generate")
        async def generate(request: Request, grant_type: str = "") -> JSONResponse:
            if grant_type != "client_credentials":
                return _error(400, "400.008.02", "Invalid grant type passed")
            if not self._basic_ok(request.headers.get("authorization", "")):
                return _error(400, "400.008.01", "Invalid Authentication passed")
            token = secrets.token_urlsafe(21)
            self._tokens.add(token)
            return JSONResponse({"access_token": token, "expires_in": "3599"})

        @router.post("/mpesa/stkpush/v1/processrequest")
        async def processrequest(request: Request) -> JSONResponse:
            refused = self._bearer_refused(request)
            if refused is not None:
                return refused
            body = await _body(request)
            problem = self._check_push(body)
            if problem is not None:
                return _error(400, "400.002.02", f"Bad Request - Invalid {problem}")
            payment = self._accept(body)
            task = asyncio.create_task(self._answer(payment))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            message = "Success. Request accepted for processing"
            return JSONResponse(
                {
                    "MerchantRequestID": payment.merchant_request_id,
                    "CheckoutRequestID": payment.checkout_request_id,
                    "ResponseCode": "0",
                    "ResponseDescription": message,
                    "CustomerMessage": message,
                }
            )

        @router.post("/mpesa/stkpushquery/v1/query")
        async def query(request: Request) -> JSONResponse:
            refused = self._bearer_refused(request)
            if refused is not None:
                return refused
            body = await _body(request)
            if not self._password_ok(body):
                return _error(400, "400.002.02", "Bad Request - Invalid Password")
            payment = self.payments.get(str(body.get("CheckoutRequestID", "")))
            if payment is None:
                return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
            if payment.result is None:
                return _error(500, "500.001.1001", "The transaction is being processed")
            code, desc = payment.result
            return JSONResponse(
                {
                    "ResponseCode": "0",
                    "ResponseDescription": "The service request has been accepted successsfully",
                    "MerchantRequestID": payment.merchant_request_id,
                    "CheckoutRequestID": payment.checkout_request_id,
                    "ResultCode": str(code),
                    "ResultDesc": desc,
                }
            )

        @router.post("/next", dependencies=[token_guard(control_token)])
        async def next_outcome(body: NextOutcome) -> dict[str, Any]:
            return {"next": self.choose(body.outcome)}

        return router

    # Daraja's checks ---------------------------------------------------------------

    def _basic_ok(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.consumer_key}:{self.consumer_secret}"
        return hmac.compare_digest(pair.encode(), expected.encode())

    def _bearer_refused(self, request: Request) -> JSONResponse | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return _error(401, "404.001.03", "Invalid Access Token")
        return None

    def _password_ok(self, body: dict[str, Any]) -> bool:
        stamp = str(body.get("Timestamp", ""))
        expected = base64.b64encode(f"{self.shortcode}{self.passkey}{stamp}".encode()).decode()
        return (
            str(body.get("BusinessShortCode", "")) == self.shortcode
            and len(stamp) == 14
            and hmac.compare_digest(str(body.get("Password", "")).encode(), expected.encode())
        )

    def _check_push(self, body: dict[str, Any]) -> str | None:
        """The first field Daraja would refuse, or None."""
        if not self._password_ok(body):
            same = str(body.get("BusinessShortCode", "")) == self.shortcode
            return "Password" if same else "BusinessShortCode"
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            return "TransactionType"
        amount = body.get("Amount")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 250_000:
            return "Amount"
        phone = str(body.get("PhoneNumber", ""))
        if not (len(phone) == 12 and phone.startswith("254") and phone.isdigit()):
            return "PhoneNumber"
        if str(body.get("PartyA", "")) != phone:
            return "PartyA"
        url = str(body.get("CallBackURL", ""))
        if not url.startswith(("http://", "https://")):
            return "CallBackURL"
        if not str(body.get("AccountReference", "")) or len(str(body["AccountReference"])) > 12:
            return "AccountReference"
        return None

    # the customer's side --------------------------------------------------------------

    def _accept(self, body: dict[str, Any]) -> SimulatedPayment:
        n = next(self._numbers)
        stamp = datetime.now(EAT).strftime("%d%m%Y%H%M%S")
        payment = SimulatedPayment(
            merchant_request_id=f"{secrets.randbelow(90000) + 10000}-{n:08d}-1",
            checkout_request_id=f"ws_CO_{stamp}{secrets.randbelow(10**9):09d}{n}",
            amount=int(body["Amount"]),
            phone=str(body["PhoneNumber"]),
            callback_url=str(body["CallBackURL"]),
            outcome=self.next_outcomes.popleft() if self.next_outcomes else Outcome.SUCCESS,
        )
        self.payments[payment.checkout_request_id] = payment
        return payment

    async def _answer(self, payment: SimulatedPayment) -> None:
        await asyncio.sleep(self.delay)
        payment.result = _RESULTS[payment.outcome]
        if payment.result[0] == 0:
            alphabet = string.ascii_uppercase + string.digits
            payment.receipt = "".join(secrets.choice(alphabet) for _ in range(10))
        if payment.outcome is Outcome.SILENT:
            return
        body = callback_body(payment)
        payment.callbacks.append(body)
        try:
            await self._http.post(payment.callback_url, json=body)
        except httpx.HTTPError as exc:
            log.warning("M-Pesa simulator: callback to %s failed: %s", payment.callback_url, exc)


def callback_body(payment: SimulatedPayment) -> dict[str, Any]:
    """The stkCallback Daraja POSTs; CallbackMetadata only when paid."""
    assert payment.result is not None
    code, desc = payment.result
    callback: dict[str, Any] = {
        "MerchantRequestID": payment.merchant_request_id,
        "CheckoutRequestID": payment.checkout_request_id,
        "ResultCode": code,
        "ResultDesc": desc,
    }
    if code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": float(payment.amount)},
                {"Name": "MpesaReceiptNumber", "Value": payment.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(_now_stamp())},
                {"Name": "PhoneNumber", "Value": int(payment.phone)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def _now_stamp() -> str:
    return datetime.now(EAT).strftime("%Y%m%d%H%M%S")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"requestId": secrets.token_hex(8), "errorCode": code, "errorMessage": message},
        status_code=status,
    )
