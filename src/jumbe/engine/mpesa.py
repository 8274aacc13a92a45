"""Jumbe's own Daraja client for M-Pesa Express, and the worker that asks about late payments.

``DarajaClient`` speaks the Daraja API as Safaricom documents it: an OAuth token
from ``/oauth/v1/generate`` (HTTP Basic with the consumer key and secret, kept
until shortly before it expires), STK pushes to
``/mpesa/stkpush/v1/processrequest`` with ``Password`` = base64(shortcode +
passkey + timestamp), and ``/mpesa/stkpushquery/v1/query`` for a payment whose
callback did not come. The same client talks to the embedded simulator
(``simulators/mpesa.py``) when no ``JUMBE_MPESA_*`` endpoint is configured.

``PaymentQueries`` runs ``TopupService.query_due`` every few seconds: the
callback is the fast path, the query the one that never misses.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from jumbe.core.kenya_time import EAT
from jumbe.engine.background import LoopTask, repeat
from jumbe.services.topups import GatewayError, StkAccepted, StkOutcome, StkPush, TopupService

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/v1/generate?grant_type=client_credentials"
PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
# the query's answer while the customer has not yet answered the prompt
STILL_PROCESSING = "500.001.1001"
TOKEN_MARGIN = 60.0  # seconds before its expiry a token is renewed


def password(shortcode: str, passkey: str, timestamp: str) -> str:
    """Daraja's ``Password``: base64 of shortcode + passkey + timestamp."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def timestamp(now: datetime | None = None) -> str:
    """``YYYYMMDDHHMMSS`` in Kenyan time, as Daraja expects."""
    return (now or datetime.now(EAT)).astimezone(EAT).strftime("%Y%m%d%H%M%S")


class DarajaClient:
    def __init__(
        self,
        base_url: str | Callable[[], str],
        *,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        timeout: float = 15.0,
    ) -> None:
        # a callable for the embedded simulator, whose port is known once the server listens
        self._base_url = base_url
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self._http = httpx.AsyncClient(timeout=timeout)
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._token_lock = asyncio.Lock()

    @property
    def base_url(self) -> str:
        base = self._base_url() if callable(self._base_url) else self._base_url
        return base.rstrip("/")

    async def close(self) -> None:
        await self._http.aclose()

    async def stk_push(self, push: StkPush) -> StkAccepted:
        stamp = timestamp()
        answer = await self._post(
            PUSH_PATH,
            {
                "BusinessShortCode": self.shortcode,
                "Password": password(self.shortcode, self.passkey, stamp),
                "Timestamp": stamp,
                "TransactionType": "CustomerPayBillOnline",
                "Amount": push.amount,
                "PartyA": push.phone,
                "PartyB": self.shortcode,
                "PhoneNumber": push.phone,
                "CallBackURL": push.callback_url,
                "AccountReference": push.account_reference[:12],
                "TransactionDesc": push.description[:13],
            },
        )
        if str(answer.get("ResponseCode")) != "0" or not answer.get("CheckoutRequestID"):
            raise GatewayError(_reason(answer))
        return StkAccepted(
            merchant_request_id=str(answer.get("MerchantRequestID", "")),
            checkout_request_id=str(answer["CheckoutRequestID"]),
        )

    async def stk_query(self, checkout_request_id: str) -> StkOutcome | None:
        stamp = timestamp()
        answer = await self._post(
            QUERY_PATH,
            {
                "BusinessShortCode": self.shortcode,
                "Password": password(self.shortcode, self.passkey, stamp),
                "Timestamp": stamp,
                "CheckoutRequestID": checkout_request_id,
            },
            processing_ok=True,
        )
        if answer.get("errorCode") == STILL_PROCESSING or "ResultCode" not in answer:
            return None
        try:
            code = int(answer["ResultCode"])
        except (TypeError, ValueError):
            raise GatewayError(f"unreadable ResultCode {answer['ResultCode']!r}") from None
        return StkOutcome(
            checkout_request_id=checkout_request_id,
            result_code=code,
            result_desc=str(answer.get("ResultDesc", "")),
        )

    async def _post(
        self, path: str, body: dict[str, Any], *, processing_ok: bool = False
    ) -> dict[str, Any]:
        token = await self._access_token()
        try:
            response = await self._http.post(
                self.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            # refused before a byte was sent: clear; anything later: M-Pesa may have it
            unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise GatewayError(
                f"cannot reach M-Pesa: {type(exc).__name__}", unclear=not unsent
            ) from exc
        answer = _json(response)
        if response.status_code == 401:
            self._token = None  # revoked or expired early: the next call fetches another
        if response.is_success or (processing_ok and answer.get("errorCode") == STILL_PROCESSING):
            return answer
        raise GatewayError(
            f"HTTP {response.status_code}: {_reason(answer)}",
            unclear=response.status_code >= 500,
        )

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            try:
                response = await self._http.get(
                    self.base_url + TOKEN_PATH, auth=(self.consumer_key, self.consumer_secret)
                )
            except httpx.HTTPError as exc:
                raise GatewayError(f"cannot reach M-Pesa: {type(exc).__name__}") from exc
            answer = _json(response)
            token = answer.get("access_token")
            if not response.is_success or not isinstance(token, str):
                raise GatewayError(f"OAuth refused (HTTP {response.status_code})")
            try:
                lifetime = float(answer.get("expires_in", 3599))
            except (TypeError, ValueError):
                lifetime = 3599.0
            self._token = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, 1.0))
            return token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(answer: dict[str, Any]) -> str:
    for key in ("errorMessage", "ResponseDescription", "CustomerMessage"):
        if isinstance(answer.get(key), str):
            return str(answer[key])[:200]
    return "no reason given"


class PaymentQueries:
    """The worker that asks M-Pesa about pending payments whose callback is late."""

    def __init__(self, topups: TopupService, *, interval: float) -> None:
        self.topups = topups
        self.interval = interval
        self._loop = LoopTask("payment-queries")

    def start(self) -> None:
        self._loop.start(repeat(self.topups.query_due, self.interval, what="payment queries"))

    async def stop(self) -> None:
        await self._loop.stop()
