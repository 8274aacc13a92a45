"""``POST /api/generate-token``: client credentials for a Bearer token of 900 seconds."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jumbe.faces.kimisms.wire import (
    Refused,
    client_address,
    error,
    parsed,
    refused,
    too_many_requests,
)
from jumbe.faces.state import services_of
from jumbe.services.errors import TooManyAttempts, Unauthenticated

router = APIRouter()


class TokenRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "grant_type": "client_credentials",
                "client_id": "your_client_id_here",
                "client_secret": "your_client_secret_here",
            }
        },
    )

    grant_type: str = Field(examples=["client_credentials"])
    client_id: str = Field(max_length=128, examples=["your_client_id_here"])
    client_secret: str = Field(max_length=256, examples=["your_client_secret_here"])


class TokenAnswer(BaseModel):
    token_type: Literal["Bearer"]
    access_token: str
    expires_in: int = Field(examples=[900])


class KimismsError(BaseModel):
    error: str = Field(examples=["Invalid sender_name"])
    description: str = Field(examples=["No approved Sender ID found matching 'MYSENDER'"])


ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": KimismsError, "description": meaning}
    for code, meaning in (
        (400, "Missing or invalid fields in the request body"),
        (401, "Invalid or expired access token"),
        (403, "Invalid credentials or insufficient permissions"),
        (429, "Too many requests: wait Retry-After seconds"),
    )
}


@router.post(
    "/api/generate-token",
    summary="Kimisms: an access token for client credentials",
    response_model=TokenAnswer,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TokenRequest.model_json_schema()}},
        }
    },
)
async def generate_token(request: Request) -> JSONResponse:
    try:
        body = await parsed(request, TokenRequest)
    except Refused as exc:
        return refused(exc)
    if body.grant_type != "client_credentials":
        return error(400, "Invalid grant_type", "grant_type must be client_credentials")
    try:
        token = await services_of(request).kimisms_oauth.issue(
            body.client_id, body.client_secret, client=client_address(request)
        )
    except Unauthenticated:
        return error(403, "Invalid credentials", "client_id or client_secret is not valid")
    except TooManyAttempts as exc:
        return too_many_requests(exc)
    return JSONResponse(
        {"token_type": "Bearer", "access_token": token.token, "expires_in": token.expires_in}
    )
