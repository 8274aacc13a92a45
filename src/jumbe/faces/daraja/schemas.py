"""The Daraja faces as the OpenAPI document publishes them: requests, answers, examples.

These operations read their bodies by hand (leniently: numbers as strings,
trailing commas, the documents' alternative field names), so FastAPI cannot
derive their schemas; they are written here, beside the code that answers,
with each document's own example as the request example. The schemas say
what a client should send; the lenient reader still takes what the documents
show. ``tests/integration/test_api_fuzz.py`` checks every answer against them.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
# Apart from Daraja's own access token, the gateway itself answers with this shape.
GATEWAY_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["requestId", "errorCode", "errorMessage"],
    "properties": {
        "requestId": {"type": "string"},
        "errorCode": {"type": "string"},
        "errorMessage": {"type": "string"},
    },
    "example": {
        "requestId": "12345-1234567-1",
        "errorCode": "404.001.03",
        "errorMessage": "Invalid Access Token",
    },
}
EXTRACT_VARIABLES_FAULT: dict[str, Any] = {
    "type": "object",
    "required": ["fault"],
    "properties": {
        "fault": {
            "type": "object",
            "required": ["faultstring", "detail"],
            "properties": {
                "faultstring": {
                    "type": "string",
                    "const": "Failed to execute the ExtractVariables: EV-FilterMessages",
                },
                "detail": {
                    "type": "object",
                    "required": ["errorcode"],
                    "properties": {
                        "errorcode": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        }
    },
}
_STRING = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
# counts and indexes come as 3 or "3"
_WHOLE = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 1_000_000},
        {"type": "string", "pattern": "^[0-9]{1,6}$"},
    ]
}
_PAGE_NO = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        {"type": "string", "pattern": "^[1-9][0-9]{0,5}$"},
    ]
}
_PAGE_SIZE = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 100},
        {"type": "string", "pattern": "^[1-9][0-9]?$"},
    ]
}
_VPN_GROUP = {
    "description": "The account number; one string, or a list of them",
    "anyOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 5}],
}
_MSISDN = {"type": "string", "pattern": "^[0-9]{9,15}$", "description": "The SIM's number"}
_USERNAME = {"type": "string", "minLength": 1, "maxLength": 320}


def _object(required: list[str], example: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "example": example,
    }


def _strings(*names: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(names),
        "properties": {name: _STRING for name in names},
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


VPN = "1-225560081663_VPN"
USER = "user@safaricom.co.ke"
SIM_ROW = _strings(
    "life_cycle_status",
    "iccid",
    "asset_name",
    "activation_date",
    "expiry_date",
    "imei",
    "product_status",
    "imsi",
    "msisdn",
    "vpn_group",
    "activation_agent",
)
MESSAGE_ROW: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "receiptId",
        "sourceAddr",
        "msisdn",
        "message",
        "sourceSystem",
        "processingStatus",
        "messageId",
        "date",
        "deliverTime",
        "description",
        "vpnGroup",
    ],
    "properties": {
        "id": {"type": "integer"},
        "receiptId": {"type": "integer", "enum": [-1, 0, 1]},
        "processingStatus": {"type": "string", "enum": ["0", "1", "2", "3", "4", "5", "6"]},
        **{
            name: _STRING
            for name in (
                "sourceAddr",
                "msisdn",
                "message",
                "sourceSystem",
                "messageId",
                "date",
                "deliverTime",
                "description",
                "vpnGroup",
            )
        },
    },
}
_SORT = {
    "type": "object",
    "properties": {n: {"type": "boolean"} for n in ("sorted", "unsorted", "empty")},
}
SPRING_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["content", "pageable", "totalPages", "totalElements", "number", "size"],
    "properties": {
        "content": {"type": "array", "items": MESSAGE_ROW},
        "pageable": {
            "type": "object",
            "properties": {
                "pageNumber": {"type": "integer"},
                "pageSize": {"type": "integer"},
                "sort": _SORT,
                "offset": {"type": "integer"},
                "paged": {"type": "boolean"},
                "unpaged": {"type": "boolean"},
            },
        },
        "totalPages": {"type": "integer"},
        "totalElements": {"type": "integer"},
        "last": {"type": "boolean"},
        "size": {"type": "integer"},
        "number": {"type": "integer"},
        "sort": _SORT,
        "numberOfElements": {"type": "integer"},
        "first": {"type": "boolean"},
        "empty": {"type": "boolean"},
    },
}
_TRENDS = {
    "type": "object",
    "required": ["body"],
    "properties": {
        "body": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    name: {"type": "array", "items": _STRING}
                    for name in (
                        "dates",
                        "pooledTrend",
                        "suspendedTrend",
                        "activeTrend",
                        "idleTrend",
                    )
                },
            },
        }
    },
}
_SUSPENDED = {
    "type": "object",
    "required": ["statusCode", "statusDesc"],
    "properties": {"statusCode": {"type": "integer"}, "statusDesc": _STRING},
}
_ONE_SIM = {"msisdn": _MSISDN, "vpnGroup": _VPN_GROUP, "username": _USERNAME}
_ONE_SIM_EXAMPLE = {"msisdn": "300000443539", "vpnGroup": VPN, "username": USER}
_PAGING = {"pageNo": _PAGE_NO, "pageSize": _PAGE_SIZE}

# path under /simportal/v1 -> (request schema, the answer's body when it succeeds)
SIM_PORTAL: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "/allsims": (
        _object(
            ["vpnGroup", "username"],
            {"vpnGroup": [VPN], "startAtIndex": "0", "pageSize": "3", "username": USER},
            vpnGroup=_VPN_GROUP,
            username=_USERNAME,
            startAtIndex={
                **_WHOLE,
                "description": "From 0 (the document also spells it startAtInde)",
            },
            pageSize=_PAGE_SIZE,
        ),
        {
            "type": "object",
            "required": ["Desc"],
            "properties": {"Desc": {"type": "array", "items": SIM_ROW}},
        },
    ),
    "/queryLifeCycleStatus": (
        _object(["msisdn", "vpnGroup", "username"], _ONE_SIM_EXAMPLE, **_ONE_SIM),
        _strings("desc", "status", "statusCode"),
    ),
    "/querycustomerinfo": (
        _object(["msisdn", "vpnGroup", "username"], _ONE_SIM_EXAMPLE, **_ONE_SIM),
        _strings("offeringName", "offeringStatus", "subscriberStatus", "offeringId", "vpnGroup"),
    ),
    "/simactivation": (
        _object(["msisdn", "vpnGroup", "username"], _ONE_SIM_EXAMPLE, **_ONE_SIM),
        _strings("Desc", "requestId", "ID"),
    ),
    "/getactivationtrends": (
        _object(
            ["vpnGroup", "username", "startDate", "stopDate"],
            {"vpnGroup": VPN, "startDate": "20240221", "stopDate": "20240421", "username": USER},
            vpnGroup=_VPN_GROUP,
            username=_USERNAME,
            startDate={"type": "string", "pattern": "^[0-9]{8}$", "description": "yyyyMMdd"},
            stopDate={
                "type": "string",
                "pattern": "^[0-9]{8}$",
                "description": "yyyyMMdd (endDate is read too)",
            },
        ),
        _TRENDS,
    ),
    "/renameasset": (
        _object(
            ["msisdn", "vpnGroup", "username", "assetName"],
            {**_ONE_SIM_EXAMPLE, "msisdn": "300000038722", "assetName": "test11111"},
            **_ONE_SIM,
            assetName=_TEXT,
        ),
        _strings("result", "desc"),
    ),
    "/suspend_unsuspend_sub": (
        _object(
            ["msisdn", "vpnGroup", "username", "operation"],
            {
                "msisdn": "300000100001",
                "username": USER,
                "vpnGroup": VPN,
                "product": "14205001",
                "operation": "resume",
            },
            **_ONE_SIM,
            product=_TEXT,
            operation={"type": "string", "enum": ["suspend", "resume", "unsuspend"]},
        ),
        _SUSPENDED,
    ),
    "/searchmessages": (
        _object(
            ["searchValue"],
            {"searchValue": "254300000100001"},
            searchValue={**_TEXT, "description": "A SIM's number"},
            vpnGroup=_VPN_GROUP,
            **_PAGING,
        ),
        SPRING_PAGE,
    ),
    "/filtermessages": (
        _object(
            ["startDate", "endDate", "status"],
            {"startDate": "02-05-2022 08:39:11", "endDate": "02-10-2022 00:00:00", "status": "1"},
            startDate={"type": "string", "description": "dd-MM-yyyy HH:mm:ss, Kenyan time"},
            endDate={"type": "string", "description": "dd-MM-yyyy HH:mm:ss, Kenyan time"},
            status={"type": "string", "enum": ["0", "1", "2", "3", "4", "5", "6"]},
            vpnGroup=_VPN_GROUP,
            **_PAGING,
        ),
        SPRING_PAGE,
    ),
    "/deleteMessageThread": (
        _object(["msisdn"], {"msisdn": "254724751076"}, msisdn=_MSISDN, vpnGroup=_VPN_GROUP),
        None,
    ),
    "/getallmessages": (
        _object(
            [],
            {"vpnGroup": VPN, "pageNo": 1, "pageSize": 10},
            vpnGroup=_VPN_GROUP,
            **_PAGING,
        ),
        SPRING_PAGE,
    ),
    "/sendsinglemessage": (
        _object(
            ["msisdn", "message"],
            {"msisdn": "300001172001", "message": "Test", "vpnGroup": VPN},
            msisdn=_MSISDN,
            message={"type": "string", "minLength": 1, "maxLength": 160},
            vpnGroup=_VPN_GROUP,
        ),
        MESSAGE_ROW,
    ),
    "/deletemessage": (
        _object(["id"], {"id": 3888}, id=_WHOLE),
        None,
    ),
}
PAGED_IN_QUERY = ("/searchmessages", "/filtermessages", "/getallmessages")

_HEADER = {
    "type": "object",
    "required": ["requestRefId", "responseCode", "responseMessage", "customerMessage", "timestamp"],
    "properties": {
        "requestRefId": _STRING,
        "responseCode": {"type": "integer"},
        "responseMessage": _STRING,
        "customerMessage": _STRING,
        "timestamp": _STRING,
    },
}


def _portal_envelope(body: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["header", "body"],
        "properties": {
            "header": _HEADER,
            "body": _nullable(body) if body is not None else {"type": "null"},
        },
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _gateway_refusals() -> dict[int | str, dict[str, Any]]:
    """What the gateway answers before an operation runs: too large, too slow, a flood."""
    return {
        408: _json(GATEWAY_ERROR, "The body came too slowly"),
        413: _json(GATEWAY_ERROR, "The body is larger than the gateway takes"),
        429: _json(GATEWAY_ERROR, "Too many failed attempts: wait Retry-After seconds"),
    }


def sim_portal(path: str) -> dict[str, Any]:
    """The route's ``responses`` and ``openapi_extra`` for a SIM portal operation."""
    request, body = SIM_PORTAL[path]
    envelope = _portal_envelope(body)
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {JSON: {"schema": request}}},
        "security": [{"DarajaAccessToken": []}],
    }
    if path in PAGED_IN_QUERY:
        extra["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in _PAGING.items()
        ]
    either = {"anyOf": [envelope, GATEWAY_ERROR]}
    responses: dict[int | str, dict[str, Any]] = {
        200: _json(envelope, "Done, or the documented 200 that says no record or a failure"),
        400: _json(either, "Another account's vpnGroup (Kindly use your own vpnGroup)"),
        401: _json(either, "Invalid access token, or the username lacks the permission"),
        404: _json(envelope, "No such account (vpnGroup)"),
        500: _json(EXTRACT_VARIABLES_FAULT, "The payload is missing or invalid (documented)"),
        **_gateway_refusals(),
    }
    return {"responses": responses, "openapi_extra": extra}


_IMSI_ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["requestRefID", "responseCode", "responseDesc", "customerNumber"],
    "properties": {
        "requestRefID": _STRING,
        "responseCode": _STRING,
        "responseDesc": _STRING,
        "customerNumber": _STRING,
        "imsi": _STRING,
        "lastSwapDate": _STRING,
        "msisdnRegistrationDate": _STRING,
    },
}


def imsi_check() -> dict[str, Any]:
    extra = {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": _object(
                        ["customerNumber"],
                        {"customerNumber": "254722000000"},
                        customerNumber={
                            "type": "string",
                            "pattern": "^254[17][0-9]{8}$",
                            "description": "The subscriber's number, 254 and 9 digits",
                        },
                    )
                }
            },
        },
        "security": [{"DarajaAccessToken": []}],
    }
    either = {"anyOf": [_IMSI_ANSWER, GATEWAY_ERROR]}
    responses: dict[int | str, dict[str, Any]] = {
        200: _json(_IMSI_ANSWER, "The hashed IMSI, last swap and registration dates"),
        400: _json(either, "The number or the payload cannot be read"),
        401: _json(GATEWAY_ERROR, "Invalid access token"),
        402: _json(_IMSI_ANSWER, "Not enough units"),
        404: _json(_IMSI_ANSWER, "No such subscriber"),
        **_gateway_refusals(),
        429: _json(either, "Too many checks or failed attempts: wait Retry-After seconds"),
    }
    return {"responses": responses, "openapi_extra": extra}


def oauth() -> dict[str, Any]:
    extra = {
        "parameters": [
            {
                "name": "grant_type",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "enum": ["client_credentials"]},
            }
        ],
        "security": [{"DarajaConsumer": []}],
    }
    token = {
        "type": "object",
        "required": ["access_token", "expires_in"],
        "properties": {
            "access_token": _STRING,
            "expires_in": {"type": "string", "description": "Seconds, as a string"},
        },
        "example": {"access_token": "c9SQxWWhmdVRlyh0zh8gZDTkubVF", "expires_in": "3599"},
    }
    responses: dict[int | str, dict[str, Any]] = {
        200: _json(token, "An access token"),
        400: _json(GATEWAY_ERROR, "Wrong grant type or client credentials"),
        **_gateway_refusals(),
    }
    return {"responses": responses, "openapi_extra": extra}


SECURITY_SCHEMES = {
    "DarajaAccessToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The access_token of GET /oauth/v1/generate",
    },
    "DarajaConsumer": {
        "type": "http",
        "scheme": "basic",
        "description": "consumer_key:consumer_secret of `jumbe accounts create`",
    },
}
