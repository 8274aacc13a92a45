"""Daraja OAuth: client credentials for an access token.

``GET /oauth/v1/generate?grant_type=client_credentials`` with HTTP Basic
``consumer_key:consumer_secret`` answers ``{"access_token", "expires_in":
"3599"}`` (the number as a string, as Daraja sends it).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from jumbe.faces.daraja.gateway import client_address, gateway_error, services, too_many_requests
from jumbe.faces.daraja.schemas import oauth
from jumbe.services.errors import TooManyAttempts, Unauthenticated

router = APIRouter(tags=["daraja"])


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, colon, secret = decoded.partition(":")
    if "\x00" in decoded:  # no credential holds one
        return None
    return (key, secret) if colon and key and secret else None


@router.get(
    "/oauth/v1/generate",
    summary="Daraja: an access token for client credentials",
    **oauth(),
)
async def generate(request: Request) -> JSONResponse:
    if request.query_params.get("grant_type") != "client_credentials":
        return gateway_error(400, "400.008.02", "Invalid grant type passed")
    credentials = _basic_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        return gateway_error(400, "400.008.01", "Invalid Authentication passed")
    try:
        token = await services(request).oauth.issue(*credentials, client=client_address(request))
    except Unauthenticated as exc:
        return gateway_error(400, "400.008.01", exc.message)
    except TooManyAttempts as exc:
        return too_many_requests(exc)
    return JSONResponse({"access_token": token.token, "expires_in": str(token.expires_in)})
