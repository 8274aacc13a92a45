"""REST v1 API tokens: list, create (raw value shown once), revoke.

As the Mobile Sasa document has it, these take an API token with the
``api_tokens`` scope or a JWT session: a member signed in, who may grant the
scopes their role may use (an owner or admin any scope).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from jumbe.core.isotime import iso
from jumbe.faces.rest.auth import scope
from jumbe.faces.rest.envelope import ok
from jumbe.faces.rest.schemas import NewToken, Revoked, TokenOut, documented
from jumbe.services.errors import InvalidRequest
from jumbe.services.tokens import Caller, TokenView

router = APIRouter(prefix="/api/v1/tokens", tags=["api tokens"])


class CreateToken(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "billing system", "scopes": ["messages"]},
                {
                    "name": "SIM dashboard",
                    "scopes": ["sims", "messages"],
                    "expires_at": "2027-01-01T00:00:00Z",
                },
            ]
        }
    )
    name: str = Field(max_length=120)
    scopes: list[str]
    expires_at: datetime | None = None


def render(t: TokenView) -> dict[str, Any]:
    return {
        "uuid": t.uuid,
        "name": t.name,
        "scopes": list(t.scopes),
        "prefix": t.display_prefix,
        "expires_at": iso(t.expires_at) if t.expires_at else None,
        "revoked_at": iso(t.revoked_at) if t.revoked_at else None,
        "created_at": iso(t.created_at),
    }


@router.get(
    "",
    summary="All tokens of the team, revoked and expired included",
    **documented(list[TokenOut]),
)
async def list_tokens(
    request: Request, caller: Caller = scope("api_tokens", session=True)
) -> dict[str, Any]:
    tokens = await request.app.state.services.tokens.list_tokens(caller.account_id)
    return ok([render(t) for t in tokens])


@router.post(
    "",
    summary="Create a token; raw_token is shown only in this answer",
    **documented(NewToken),
)
async def create_token(
    body: CreateToken, request: Request, caller: Caller = scope("api_tokens", session=True)
) -> dict[str, Any]:
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        raise InvalidRequest("expires_at must carry a time zone, e.g. 2027-01-01T00:00:00Z")
    raw, token = await request.app.state.services.tokens.create_token(
        caller, body.name, body.scopes, expires.astimezone(UTC) if expires else None
    )
    return ok({"raw_token": raw, "token": render(token)})


@router.delete("/{uuid}", summary="Revoke a token at once", **documented(Revoked, 404))
async def revoke_token(
    uuid: str, request: Request, caller: Caller = scope("api_tokens", session=True)
) -> dict[str, Any]:
    await request.app.state.services.tokens.revoke_token(caller.account_id, uuid)
    return ok({"uuid": uuid, "revoked": True})
