"""The OpenAPI document tells the truth: statuses, error bodies, typed answers, examples.

Static checks over the whole document, then real answers of a running server
(successes and failures of every face) validated against it.
"""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis

from jumbe.app import Jumbe

JSON = "application/json"


async def _spec(jumbe: Jumbe) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=jumbe.base_url) as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


async def test_no_route_declares_422_and_every_rest_route_declares_its_400(jumbe: Jumbe) -> None:
    spec = await _spec(jumbe)
    assert '"422"' not in str(spec).replace("'", '"')
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        if path.startswith("/api/v1/"):
            failure = responses["400"]["content"][JSON]["schema"]
            assert failure == {"$ref": "#/components/schemas/Failure"}, (method, path)
            if JSON in responses["200"]["content"]:  # else a file: a KYC document
                answer = responses["200"]["content"][JSON]["schema"]
                assert answer["$ref"].startswith("#/components/schemas/Ok_"), (method, path)
        elif path.startswith(("/simportal/", "/imsi/", "/oauth/", "/m2m/")):
            assert "400" in responses and "200" in responses, (method, path)


async def test_every_operation_with_a_body_publishes_its_schema_with_an_example(
    jumbe: Jumbe,
) -> None:
    spec = await _spec(jumbe)
    schemas = spec["components"]["schemas"]
    bodies = 0
    for path, method, operation in _operations(spec):
        if method not in ("post", "put", "patch"):
            continue
        if "requestBody" not in operation:  # the path says it all
            assert path.endswith(("/resend", "/approve")), (method, path)
            continue
        content = operation["requestBody"]["content"]
        media, described = next(iter(content.items()))
        schema = described["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        has_example = "example" in described or "examples" in described
        has_example = has_example or "example" in schema or "examples" in schema
        properties = schema.get("properties", {}).values()
        has_example = has_example or all("examples" in p or "example" in p for p in properties)
        assert has_example, (method, path, media)
        bodies += 1
    daraja = [p for p in spec["paths"] if p.startswith(("/simportal/", "/imsi/"))]
    assert len(daraja) == 14
    assert bodies >= 14 + 15


async def _validate(spec: dict[str, Any], answer: httpx.Response) -> None:
    schema = schemathesis.openapi.from_dict(spec)
    request = answer.request
    path = request.url.path
    operation = None
    for template in spec["paths"]:
        if template == path or ("{" in template and _matches(template.split("/"), path.split("/"))):
            operation = schema[template][request.method]
    assert operation is not None, path
    operation.validate_response(answer)


def _matches(template: list[str], path: list[str]) -> bool:
    return len(template) == len(path) and all(
        t == p or t.startswith("{") for t, p in zip(template, path, strict=True)
    )


async def test_answers_of_every_face_match_the_published_schemas(jumbe: Jumbe) -> None:
    spec = await _spec(jumbe)
    demo = jumbe.demo
    assert demo is not None
    sims = "iccid,imsi,msisdn,asset_name\n89254014010100030360,639014010003036,300000003036,T1\n"
    await jumbe.services.sims.import_csv(demo.account_id, io.StringIO(sims))
    token = {"Authorization": f"Bearer {demo.api_token}"}
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as client:
        sent = await client.post(
            "/api/v1/messages", headers=token, json={"to": "0712345678", "message": "hi"}
        )
        uuid = sent.json()["data"]["uuid"]
        answers = [
            sent,
            await client.post("/api/v1/messages", headers=token, json={"to": "0712345678"}),
            await client.post("/api/v1/messages", json={"to": "0712345678", "message": "x"}),
            await client.get("/api/v1/messages", headers=token),
            await client.get(f"/api/v1/messages/{uuid}", headers=token),
            await client.get("/api/v1/messages/nope", headers=token),
            await client.get("/api/v1/tokens", headers=token),
            await client.get("/api/v1/sims", headers=token),
            await client.get("/api/v1/sims", headers=token, params={"page_size": 0}),
        ]
        basic = base64.b64encode(
            f"{demo.daraja_consumer_key}:{demo.daraja_consumer_secret}".encode()
        ).decode()
        oauth = await client.get(
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        bearer = {"Authorization": f"Bearer {oauth.json()['access_token']}"}
        user = {"vpnGroup": demo.vpn_group, "username": demo.username}
        answers += [
            oauth,
            await client.get("/oauth/v1/generate", params={"grant_type": "password"}),
            await client.post("/simportal/v1/allsims", headers=bearer, json=user),
            await client.post(
                "/simportal/v1/queryLifeCycleStatus",
                headers=bearer,
                json={**user, "msisdn": "300000003036"},
            ),
            await client.post(
                "/simportal/v1/queryLifeCycleStatus",
                headers=bearer,
                json={**user, "msisdn": "300000009999"},
            ),
            await client.post(
                "/simportal/v1/sendsinglemessage",
                headers=bearer,
                json={"msisdn": "300000003036", "message": "ping"},
            ),
            await client.post("/simportal/v1/getallmessages", headers=bearer, json={}),
            await client.post("/simportal/v1/deletemessage", headers=bearer, json={"id": "x"}),
            await client.post("/simportal/v1/allsims", json=user),
            await client.post(
                "/imsi/v1/checkATI", headers=bearer, json={"customerNumber": "254722000000"}
            ),
            await client.post("/imsi/v1/checkATI", headers=bearer, json={}),
            await client.post(
                "/m2m/api", content=b"<send_sms", headers={"Content-Type": "text/xml"}
            ),
            await client.get("/healthz"),
            await client.get("/readyz"),
            await client.get("/status/carriers"),
        ]
    for answer in answers:
        assert answer.status_code < 500 or answer.request.url.path.startswith("/simportal/")
        await _validate(spec, answer)


async def test_an_answer_that_strays_from_the_schema_is_caught(jumbe: Jumbe) -> None:
    """The check above has teeth: a missing field fails it."""
    spec = await _spec(jumbe)
    request = httpx.Request("GET", f"{jumbe.base_url}/api/v1/tokens")
    strayed = httpx.Response(
        200, json={"success": True, "data": [{"uuid": "u", "name": "n"}]}, request=request
    )
    strayed.elapsed = timedelta(0)
    with pytest.raises(Exception, match="scopes"):
        await _validate(spec, strayed)
