"""Input that used to crash a face with a 500 is answered in that face's own error format.

Numbers beyond what the database holds (SQLite raises OverflowError on 2^63), JSON
nested thousands deep (RecursionError), numbers thousands of digits long (Python
refuses to convert them), times before year 1 in UTC, and a CSV header longer than
the csv module's field limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jumbe.app import Jumbe
from jumbe.cli import app as cli
from jumbe.services.accounts import NewAccount

EXTRACT_VARIABLES = "Failed to execute the ExtractVariables: EV-FilterMessages"
DEEP = "[" * 10_000 + "]" * 10_000
HUGE_DIGITS = "9" * 5000


@pytest.fixture
async def daraja(jumbe: Jumbe) -> AsyncIterator[tuple[httpx.AsyncClient, NewAccount]]:
    """A client holding a Daraja access token of the demo account."""
    demo = jumbe.demo
    assert demo is not None
    basic = base64.b64encode(
        f"{demo.daraja_consumer_key}:{demo.daraja_consumer_secret}".encode()
    ).decode()
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as client:
        answer = await client.get(
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client, demo


def assert_extract_variables_fault(answer: httpx.Response, reason: str) -> None:
    """The documented answer to a payload the gateway cannot read, with our reason."""
    assert answer.status_code == 500, answer.text
    fault = answer.json()["fault"]
    assert fault["faultstring"] == EXTRACT_VARIABLES
    assert reason in fault["detail"]["reason"]


@pytest.mark.parametrize(
    ("path", "member"),
    [
        ("/simportal/v1/allsims", "startAtIndex"),
        ("/simportal/v1/allsims", "pageSize"),
        ("/simportal/v1/getallmessages", "pageNo"),
        ("/simportal/v1/getallmessages", "pageSize"),
        ("/simportal/v1/deletemessage", "id"),
    ],
)
async def test_daraja_numbers_beyond_the_database_are_a_bad_payload(
    daraja: tuple[httpx.AsyncClient, NewAccount], path: str, member: str
) -> None:
    client, demo = daraja
    owner = {"vpnGroup": demo.vpn_group, "username": demo.username}
    for value in (2**63, str(2**64), HUGE_DIGITS):
        body = json.dumps(owner | {member: 0}).replace("0}", f"{value}}}")
        answer = await client.post(path, content=body)
        assert_extract_variables_fault(answer, member if value != HUGE_DIGITS else "not JSON")
    # in the query string too, where the documents put the page
    if path.endswith("messages") and member in ("pageNo", "pageSize"):
        answer = await client.post(path, params={member: str(2**63)}, content="{}")
        assert_extract_variables_fault(answer, f"{member} must be at most")


async def test_daraja_pages_stay_within_a_countable_offset(
    daraja: tuple[httpx.AsyncClient, NewAccount],
) -> None:
    client, _demo = daraja
    answer = await client.post(
        "/simportal/v1/getallmessages",
        params={"pageNo": str(2**62), "pageSize": "1000"},
        content="{}",
    )
    assert_extract_variables_fault(answer, "pageNo must be between 1 and")


async def test_daraja_json_nested_too_deep_is_a_bad_payload(
    daraja: tuple[httpx.AsyncClient, NewAccount],
) -> None:
    client, _demo = daraja
    for path in ("/simportal/v1/allsims", "/simportal/v1/sendsinglemessage"):
        assert_extract_variables_fault(await client.post(path, content=DEEP), "nested too deeply")
    imsi = await client.post("/imsi/v1/checkATI", content=DEEP)
    assert imsi.status_code == 400
    assert imsi.json()["responseDesc"].startswith("Bad Request: the body is not JSON")


async def test_daraja_times_before_year_one_utc_are_a_bad_payload(
    daraja: tuple[httpx.AsyncClient, NewAccount],
) -> None:
    client, _demo = daraja
    body = {"startDate": "01-01-0001 00:00:00", "endDate": "01-01-2025 00:00:00", "status": "1"}
    answer = await client.post("/simportal/v1/filtermessages", json=body)
    assert_extract_variables_fault(answer, "startDate must be a time")


async def test_m2m_lastx_of_thousands_of_digits_is_an_invalid_parameter(
    jumbe: Jumbe, demo: httpx.AsyncClient
) -> None:
    account = jumbe.demo
    assert account is not None
    document = (
        '<query_sms_mt_details version="1" api_id="7"><authentication>'
        f"<username>{account.m2m_username}</username><password>{account.m2m_password}</password>"
        f"</authentication><iccid>89254014010100030360</iccid><lastx>{HUGE_DIGITS}</lastx>"
        "</query_sms_mt_details>"
    )
    answer = await demo.post("/m2m/api", content=document)
    assert answer.status_code == 200
    assert "<error_description>invalid parameter: lastx" in answer.text


async def test_rest_answers_the_same_input_with_400(demo: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    deep = await demo.post("/api/v1/messages", content=DEEP, headers=headers)
    assert deep.status_code == 400
    assert deep.json()["success"] is False
    huge = await demo.post(
        "/api/v1/messages",
        content=f'{{"to": "0712345678", "message": "hi", "reference": {HUGE_DIGITS}}}',
        headers=headers,
    )
    assert huge.status_code == 400
    page = await demo.get("/api/v1/messages", params={"page": str(2**63)})
    assert page.status_code == 400


LONG_HEADER = "iccid" + "x" * 140_000 + ",imsi,msisdn\n"


async def test_a_csv_header_beyond_the_field_limit_is_refused_over_rest(
    demo: httpx.AsyncClient,
) -> None:
    answer = await demo.post(
        "/api/v1/sims/import", content=LONG_HEADER, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("the header row is not readable CSV: field larger")


@pytest.mark.parametrize("command", [["sims", "import"], ["subscribers", "import"]])
def test_a_csv_header_beyond_the_field_limit_is_one_line_from_the_cli(
    tmp_path: Path, command: list[str]
) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    created = CliRunner().invoke(cli, ["accounts", "create", "fleet", "--json", *data_dir])
    assert created.exit_code == 0, created.output
    file = tmp_path / "long.csv"
    file.write_text(LONG_HEADER)
    extra = ["--vpn-group", json.loads(created.stdout)["vpn_group"]] if command[0] == "sims" else []
    result = CliRunner().invoke(cli, [*command, str(file), *extra, *data_dir])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "error: the header row is not readable CSV: field larger than field limit (131072)"
    ]


async def test_nul_characters_are_refused_before_the_database_sees_them(
    daraja: tuple[httpx.AsyncClient, NewAccount], demo: httpx.AsyncClient
) -> None:
    """PostgreSQL cannot store or even compare text holding NUL: it answered with 500s."""
    for path in ("/api/v1/messages/a%00b", "/api/v1/messages?phone=%00", "/api/v1/tokens/%00"):
        answer = await demo.get(path)
        assert answer.status_code == 400, path
        assert answer.json() == {
            "success": False,
            "error": "the request's path or query contains a NUL character",
        }
    client, account = daraja
    owner = {"vpnGroup": account.vpn_group, "username": account.username}
    for member in ("vpnGroup", "username"):
        body = owner | {member: owner[member] + "\u0000"}
        answer = await client.post("/simportal/v1/allsims", json=body)
        assert_extract_variables_fault(answer, f"{member} must not contain NUL characters")
    imsi = await client.post("/imsi/v1/checkATI", json={"customerNumber": "2547\u000012345678"})
    assert imsi.status_code == 400
    basic = base64.b64encode(b"key\x00:secret").decode()
    oauth = await client.get(
        "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert (oauth.status_code, oauth.json()["errorCode"]) == (400, "400.008.01")
