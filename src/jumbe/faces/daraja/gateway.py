"""What the Daraja gateway itself answers, before a request reaches an API.

These bodies are the gateway's, not the APIs' envelopes: an invalid or
expired access token is ``{"requestId", "errorCode": "404.001.03",
"errorMessage": "Invalid Access Token"}`` (as Daraja words it) with status
401, and a payload the gateway cannot extract variables from is the Apigee
fault ``{"fault": {"faultstring": "Failed to execute the ExtractVariables:
EV-FilterMessages", "detail": {"errorcode":
"steps.extractvariables.ExecutionFailed"}}}`` with status 500.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from jumbe.faces.daraja.wire import gateway_request_id
from jumbe.faces.state import services_of
from jumbe.services import Services
from jumbe.services.errors import TooManyAttempts, Unauthenticated
from jumbe.services.oauth import OAuthCaller

# Safaricom's documents name this policy for every SIM portal operation.
EXTRACT_VARIABLES_FAILED = "Failed to execute the ExtractVariables: EV-FilterMessages"


def services(request: Request) -> Services:
    return services_of(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def caller(request: Request) -> OAuthCaller:
    """The account behind the request's bearer access token; Unauthenticated otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("Invalid Access Token")
    return await services(request).oauth.authenticate(token.strip(), client=client_address(request))


def gateway_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"requestId": gateway_request_id(), "errorCode": code, "errorMessage": message},
        status_code=status,
        headers=headers,
    )


def invalid_token() -> JSONResponse:
    return gateway_error(401, "404.001.03", "Invalid Access Token")


def too_many_requests(exc: TooManyAttempts) -> JSONResponse:
    return gateway_error(429, "429.001.01", exc.message, {"Retry-After": str(exc.retry_after)})


def refuse(status: int, message: str) -> JSONResponse:
    """A request the gateway will not pass on (too large, too slow), in its own shape."""
    return gateway_error(status, f"{status}.001.01", message)


def extract_variables_failed(reason: str) -> JSONResponse:
    """The 500 Safaricom documents for a missing or invalid payload; ``reason`` is ours."""
    return JSONResponse(
        {
            "fault": {
                "faultstring": EXTRACT_VARIABLES_FAILED,
                "detail": {"errorcode": "steps.extractvariables.ExecutionFailed", "reason": reason},
            }
        },
        status_code=500,
    )
