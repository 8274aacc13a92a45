"""The REST v1 answers as the OpenAPI document publishes them.

The routes build their answers as plain dicts (cheap on the hot path); these
models only describe them, and ``tests/integration/test_api_fuzz.py`` checks
every answer a running server gives against the document built from them, so
a field added to a route without its model here fails a test.

Every route declares the statuses it can answer: 400 (never FastAPI's 422)
and the other failures in the envelope ``{"success": false, "error": "…"}``.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

FAILURE_WORDS = {
    400: "Bad request: the error says which field and why",
    401: "No credential, or one that is wrong, expired or of the wrong kind",
    402: "Not enough units",
    403: "The credential lacks the scope or role this needs",
    404: "No such thing in the caller's account",
    408: "The body came too slowly",
    409: "Conflicts with what exists",
    413: "The body is larger than this route takes",
    429: "Too many failed attempts: wait Retry-After seconds",
}
# Every route can refuse a request it cannot read, too large a body, or a flood.
ALWAYS = (400, 408, 413, 429)
AUTHENTICATED = (*ALWAYS, 401, 403)


class Failure(BaseModel):
    """Every failure of this face, whatever its status."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"success": False, "error": "to is required"}}
    )
    success: Literal[False]
    error: str


class Ok(BaseModel, Generic[T]):
    success: Literal[True]
    data: T


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int
    total_pages: int


def documented(answer: Any, *failures: int, authenticated: bool = True) -> dict[str, Any]:
    """The route decorator's ``responses``: ``Ok[answer]`` and each failure as ``Failure``.

    ``response_model=None``: the answer is documented, not re-validated at run time.
    """
    statuses = sorted({*(AUTHENTICATED if authenticated else ALWAYS), *failures})
    responses: dict[int | str, dict[str, Any]] = {200: {"model": Ok[answer], "description": "Done"}}
    for status in statuses:
        responses[status] = {"model": Failure, "description": FAILURE_WORDS[status]}
    return {"response_model": None, "responses": responses}


# messages ---------------------------------------------------------------------------


class StatusChangeOut(BaseModel):
    status: str
    at: str
    description: str


class MessageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "uuid": "5f0c2b1e-2d4f-4b8e-9a51-3c1f0f6b2a11",
                "to": "+254712345678",
                "message": "Hello from Jumbe!",
                "sender_id": "JUMBE",
                "status": "queued",
                "parts": 1,
                "created_at": "2026-01-05T08:30:00Z",
                "state": "accepted",
                "status_description": "accepted for delivery",
                "error_code": None,
                "updated_at": "2026-01-05T08:30:00Z",
                "direction": "outbound",
                "units": 1,
                "encoding": "gsm7",
                "reference": "order-42",
            }
        }
    )
    uuid: str
    to: str
    message: str
    sender_id: str
    status: Literal["queued", "sent", "delivered", "failed", "received"]
    parts: int
    created_at: str
    state: Literal["accepted", "sent", "delivered", "failed", "expired", "cancelled", "received"]
    status_description: str
    error_code: str | None
    updated_at: str
    direction: Literal["outbound", "inbound"]
    units: int
    encoding: str
    reference: str | None


class MessageWithHistory(MessageOut):
    history: list[StatusChangeOut]


# tokens -----------------------------------------------------------------------------


class TokenOut(BaseModel):
    uuid: str
    name: str
    scopes: list[str]
    prefix: str
    expires_at: str | None
    revoked_at: str | None
    created_at: str


class NewToken(BaseModel):
    raw_token: str = Field(description="The token itself: shown in this answer only")
    token: TokenOut


class Revoked(BaseModel):
    uuid: str
    revoked: Literal[True]


# SIMs -------------------------------------------------------------------------------


class ProductOut(BaseModel):
    offering_id: str
    name: str
    status: str


class SimOut(BaseModel):
    iccid: str
    imsi: str
    msisdn: str
    asset_name: str | None
    imei: str | None
    sim_type: str
    status: Literal["idle", "pooled", "active", "suspended", "terminated"]
    status_at: str
    activated_at: str | None
    activated_by: str | None
    expiry_year: int | None
    product: ProductOut | None
    vpn_group: str
    created_at: str


class Rejection(BaseModel):
    line: int
    reason: str


class ImportReportOut(BaseModel):
    rows: int
    accepted: int
    rejected: int
    rejections: list[Rejection]


# sign-up, sessions, team, staff ------------------------------------------------------


class AccountName(BaseModel):
    name: str


class AccountRef(AccountName):
    team_code: str


class Registered(BaseModel):
    email: str
    account: AccountRef
    verified: Literal[False]
    next: str


class Verified(BaseModel):
    email: str
    verified: Literal[True]


class Sent(BaseModel):
    sent: str


class Session(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    expires_at: str


class MeOut(BaseModel):
    uuid: str
    email: str
    name: str
    role: str
    permissions: list[str]
    account: AccountRef


class SignedIn(Session):
    user: MeOut


class ResetLink(BaseModel):
    email: str
    expires_at: str
    next: str


class PasswordChanged(BaseModel):
    email: str
    password_changed: Literal[True]


class InvitationOut(BaseModel):
    email: str
    account: AccountName
    role: str
    expires_at: str
    next: str


class Accepted(BaseModel):
    email: str
    accepted: Literal[True]
    next: str


class MemberOut(BaseModel):
    uuid: str
    email: str
    name: str
    phone: str | None
    role: str
    status: str
    created_at: str


class Removed(BaseModel):
    uuid: str
    removed: Literal[True]


class StaffPasswordLink(BaseModel):
    email: str
    next: str


class AccountOut(BaseModel):
    id: int
    name: str
    team_code: str
    account_number: str
    status: str
    owners: list[str]
    created_at: str


# sender IDs ---------------------------------------------------------------------------


class RegistrationOut(BaseModel):
    uuid: str
    name: str
    kind: str
    carrier: str
    campaign_type: str
    status: str
    default: bool
    application_uuid: str | None
    created_at: str


class DocumentOut(BaseModel):
    uuid: str
    kind: str
    content_type: Literal["application/pdf", "image/png", "image/jpeg"]
    size: int
    sha256: str
    filename: str
    created_at: str
    url: str


class ActorOut(BaseModel):
    kind: str
    name: str | None = Field(description="Who, for a member; staff are named to staff only")


class ChangeOut(BaseModel):
    from_: str | None = Field(alias="from")
    to: str
    reason: str | None
    by: ActorOut
    at: str


class ApplicationOut(BaseModel):
    uuid: str
    name: str
    kind: str
    carrier: str
    campaign_type: str
    organisation: str
    purpose: str
    status: str
    reason: str | None
    registration_uuid: str | None
    created_at: str
    updated_at: str
    documents: list[DocumentOut]
    history: list[ChangeOut]


class AccountIdName(BaseModel):
    id: int
    name: str


class StaffApplicationOut(ApplicationOut):
    account: AccountIdName


# DOCUMENT: a KYC file as uploaded; its type is one of DocumentOut's
DOCUMENT: dict[str, Any] = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("application/pdf", "image/png", "image/jpeg")
}


def download(*failures: int) -> dict[str, Any]:
    """``documented`` for a route that answers a file: the file, or a failure as JSON."""
    found = documented(str, *failures)
    found["responses"][200] = {"description": "The document", "content": DOCUMENT}
    return {**found, "response_class": FileResponse}


# billing ------------------------------------------------------------------------------


class PackageOut(BaseModel):
    id: str
    carrier: str
    name: str
    rate_kes: str
    min_units: int
    active: bool


class SenderFloatOut(BaseModel):
    sender_id: str = Field(description="The sender registration's uuid")
    name: str
    carrier: str
    units: int


class BalanceOut(BaseModel):
    units: int = Field(description="The team wallet")
    pricing: Literal["segments", "kimisms"]
    senders: list[SenderFloatOut] = Field(description="Each sender's own float, once topped up")


class PackageRef(BaseModel):
    id: str
    name: str
    carrier: str


class TopupOut(BaseModel):
    id: str
    status: str = Field(description="PENDING, COMPLETED or FAILED")
    description: str
    method: Literal["mpesa", "offline"]
    package: PackageRef
    units: int
    rate_kes: str
    amount_kes: str
    phone: str | None
    reference: str | None
    checkout_request_id: str | None
    mpesa_receipt: str | None
    wallet: Literal["team", "sender"]
    sender_id: str | None = Field(description="The sender registration whose float it fills")
    sender_name: str | None
    requested_by: str
    reviewed_by: str | None
    created_at: str
    status_at: str


class PricingOut(BaseModel):
    account_id: int
    pricing: Literal["segments", "kimisms"]
