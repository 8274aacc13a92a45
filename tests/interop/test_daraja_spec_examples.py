"""Every request example of the Safaricom documents, sent as raw HTTP to a running Jumbe.

The JSON texts below are the documents' own (trailing commas, misspellings and
all); only their masked digits (***) are filled in with the values of an account
made by `jumbe accounts create` and SIMs and subscribers imported by the CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jumbe.app import Jumbe
from jumbe.settings import Settings
from tests.conftest import wait_until

VPN = "1-225560081663_VPN"  # the documents' own account number
OWNER = "user@safaricom.co.ke"
HEADER_FIELDS = {"requestRefId", "responseCode", "responseMessage", "customerMessage", "timestamp"}
SIM_FIELDS = {
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
}
SIMS_CSV = """iccid,imsi,msisdn,asset_name,imei,product_id,status
89254014010100030360,639014010003036,300000003036,Tracker012,350123451234560,14205001,active
89254014010100020001,639014010020001,300000020001,,,14205001,active
89254014010100443539,639014010443539,300000443539,,,14205001,idle
89254014010100038722,639014010038722,300000038722,Tracker001,,14205001,active
89254014010100100001,639014010100001,300000100001,,,14205001,suspended
89254014010100117201,639014010117201,300001172001,,,14205001,active
"""
SUBSCRIBERS_CSV = "msisdn,imsi,registration_date\n254722000000,639020000000001,2022-03-01\n"

# The request bodies, exactly as the documents print them.
ALLSIMS = """{
    "vpnGroup": [
        "1-225560081***_VPN"
    ],
    "startAtInde": "0",
    "pageSize": "3",
    "username": "user@safaricom.co.ke"
}"""
LIFECYCLE = """{
    "msisdn": "300000020***",
    "vpnGroup": "1-225560081***_VPN",
    "username": "user@safaricom.co.ke"
}"""
CUSTOMER_INFO = """{
    "msisdn": "300000443***",
    "vpnGroup": "1-225560081***_VPN",
    "username": "user@safaricom.co.ke"
}"""
ACTIVATION = CUSTOMER_INFO  # the document prints the same body for both
TRENDS = """{
    "vpnGroup": "1-22556008****_VPN",
    "startDate": "20240221",
    "stopDate": "20240421",
    "username": "user@safaricom.co.ke"
}"""
RENAME = """{
    "msisdn": "300000038722",
    "vpnGroup": "1-225560081663_VPN",
    "username": "test@safaricom.co.ke",
    "assetName": "test11111"
}"""
SUSPEND = """{
    "msisdn": "30000010****",
    "username": "user@safaricom.co.ke",
    "vpnGroup": "1-22556008****_VPN",
    "product": "14205***",
    "operation": "resume"
}"""
SEARCH_MESSAGES = """{
    "searchValue": "25430000010****"
}"""
FILTER_MESSAGES = """{
    "startDate": "02-05-2022 08:39:11",
    "endDate": "02-10-2022 00:00:00",
    "status": "1"
}"""
DELETE_THREAD = """{
    "msisdn": "254724751076"
}"""
ALL_MESSAGES = """{
    "vpnGroup": "1-24856327146_VPN",
    "pageNo": 1,
    "pageSize": 10,
}"""
SEND_SINGLE = """{
    "msisdn": "300001172***",
    "message": "Test",
    "vpnGroup": "1-47820525***_VPN"
}"""
DELETE_MESSAGE = """{
    "id": 3888
}"""
CHECK_ATI = """{
"customerNumber": "254722000000"
}"""


# The masked values of the examples, and the real ones this test's account has.
MASKED = {
    "1-225560081***_VPN": VPN,
    "1-22556008****_VPN": VPN,
    "300000020***": "300000020001",
    "300000443***": "300000443539",
    "30000010****": "300000100001",
    "14205***": "14205001",
    "300001172***": "300001172001",
    "1-47820525***_VPN": VPN,
}


def unmask(text: str) -> str:
    """The example with its *** filled in, and nothing else changed."""
    for masked, real in MASKED.items():
        text = text.replace(masked, real)
    assert "*" not in text
    return text


async def run_cli(settings: Settings, *args: str) -> str:
    """The `jumbe` command against the running server's database, without blocking its loop."""
    env = {
        **os.environ,
        "JUMBE_DATA_DIR": str(settings.data_dir),
        "JUMBE_DATABASE_URL": settings.database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jumbe",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, (out + err).decode()
    return out.decode()


@dataclass
class Portal:
    client: httpx.AsyncClient
    account: dict[str, Any]
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, path: str, body: str, **headers: str) -> httpx.Response:
        return await self.client.post(path, content=body.encode(), headers=headers or self.auth)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"imsi_checks_per_minute": 5})


@pytest.fixture
async def portal(jumbe: Jumbe, settings: Settings, tmp_path: Path) -> AsyncIterator[Portal]:
    account = json.loads(
        await run_cli(
            settings,
            "accounts",
            "create",
            "Acme IoT",
            "--json",
            "--username",
            OWNER,
            "--vpn-group",
            VPN,
        )
    )
    await run_cli(settings, "products", "add", "14205001", "Speed Governor 300MB + 20SMS")
    await run_cli(settings, "users", "add", VPN, "test@safaricom.co.ke", "-p", "rename")
    (tmp_path / "sims.csv").write_text(SIMS_CSV)
    await run_cli(settings, "sims", "import", str(tmp_path / "sims.csv"), "--vpn-group", VPN)
    (tmp_path / "subscribers.csv").write_text(SUBSCRIBERS_CSV)
    await run_cli(settings, "subscribers", "import", str(tmp_path / "subscribers.csv"))
    await run_cli(settings, "accounts", "credit", VPN, "100", "--asset", "KES")
    await run_cli(settings, "accounts", "credit", VPN, "100")
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=10) as client:
        answer = await client.get(
            "/oauth/v1/generate?grant_type=client_credentials",
            auth=(account["daraja_consumer_key"], account["daraja_consumer_secret"]),
        )
        assert answer.status_code == 200
        body = answer.json()
        assert set(body) == {"access_token", "expires_in"} and body["expires_in"] == "3599"
        yield Portal(client, account, body["access_token"])


def success(answer: httpx.Response, customer: str = "Operation Successfull") -> Any:
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert set(data) == {"header", "body"}
    header = data["header"]
    assert set(header) == HEADER_FIELDS
    assert (header["responseCode"], header["responseMessage"]) == (200, "Success")
    assert header["customerMessage"] == customer
    assert len(header["timestamp"]) == 29 and header["timestamp"][10] == "T"
    return data["body"]


async def test_the_account_carries_daraja_credentials(portal: Portal) -> None:
    account = portal.account
    assert account["vpn_group"] == VPN and account["username"] == OWNER
    assert account["daraja_consumer_key"] and account["daraja_consumer_secret"]


async def test_sim_operations_as_documented(portal: Portal) -> None:
    body = success(await portal.post("/simportal/v1/allsims", unmask(ALLSIMS)))
    sims = body["Desc"]
    assert len(sims) == 3 and all(set(s) == SIM_FIELDS for s in sims)
    first = sims[0]
    assert first["msisdn"] == "300000003036" and first["vpn_group"] == VPN
    assert (first["life_cycle_status"], first["expiry_date"][:2]) == ("Active", "20")
    assert first["imei"] == "350123451234560" and first["product_status"] == "Active"
    assert sims[2]["activation_date"] == "-" and sims[2]["activation_agent"] == "-"

    lifecycle = unmask(LIFECYCLE)
    body = success(await portal.post("/simportal/v1/queryLifeCycleStatus", lifecycle))
    assert body == {"desc": "Operation successfull", "status": "Active", "statusCode": "0"}

    info = unmask(CUSTOMER_INFO)
    body = success(await portal.post("/simportal/v1/querycustomerinfo", info))
    assert body == {
        "offeringName": "Speed Governor 300MB + 20SMS",
        "offeringStatus": "Active",
        "subscriberStatus": "Idle",
        "offeringId": "14205001",
        "vpnGroup": VPN,
    }

    body = success(await portal.post("/simportal/v1/simactivation", unmask(ACTIVATION)))
    assert set(body) == {"Desc", "requestId", "ID"}
    assert (body["Desc"], body["ID"]) == ("Line activated successfully", "300000443539")

    body = success(await portal.post("/simportal/v1/getactivationtrends", unmask(TRENDS)))
    series = body["body"][0]
    assert set(series) == {"pooledTrend", "suspendedTrend", "dates", "activeTrend", "idleTrend"}
    assert series["dates"][0] == "20240221" and series["dates"][-1] == "20240421"
    assert all(len(v) == 61 and set(v) == {"0"} for k, v in series.items() if k != "dates")

    body = success(
        await portal.post("/simportal/v1/renameasset", RENAME), "Asset renamed successfully"
    )
    assert body == {"result": "Success", "desc": "Operation Successfull"}

    resume = unmask(SUSPEND)
    body = success(await portal.post("/simportal/v1/suspend_unsuspend_sub", resume))
    assert body == {"statusCode": 0, "statusDesc": "Operation successfully."}

    # what the operations changed is there to read
    body = success(
        await portal.post("/simportal/v1/allsims", unmask(ALLSIMS).replace('"3"', '"10"'))
    )
    by_number = {s["msisdn"]: s for s in body["Desc"]}
    assert by_number["300000038722"]["asset_name"] == "test11111"
    assert by_number["300000100001"]["life_cycle_status"] == "Active"
    activated = by_number["300000443539"]
    assert activated["activation_agent"] == OWNER and activated["activation_date"] != "-"


async def test_documented_errors(portal: Portal, jumbe: Jumbe) -> None:
    lifecycle = unmask(LIFECYCLE)

    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = await portal.client.post(
            "/simportal/v1/queryLifeCycleStatus", content=lifecycle, headers=headers
        )
        assert answer.status_code == 401
        assert answer.json()["errorMessage"] == "Invalid Access Token"

    other = await jumbe.services.accounts.create_account("Other")
    answer = await portal.post(
        "/simportal/v1/queryLifeCycleStatus", lifecycle.replace(VPN, other.vpn_group)
    )
    assert answer.status_code == 400
    assert (
        answer.json()["header"]["responseMessage"] == "Bad Request – Kindly use your own vpnGroup"
    )

    answer = await portal.post(
        "/simportal/v1/queryLifeCycleStatus", lifecycle.replace(VPN, "1-999999999999_VPN")
    )
    assert answer.status_code == 404
    assert answer.json()["header"]["responseMessage"] == "No records were found"

    answer = await portal.post(
        "/simportal/v1/queryLifeCycleStatus", lifecycle.replace(OWNER, "test@safaricom.co.ke")
    )
    assert answer.status_code == 401
    assert answer.json()["header"]["responseMessage"] == "User not permitted to carry out operation"

    answer = await portal.post(
        "/simportal/v1/queryLifeCycleStatus", lifecycle.replace("300000020001", "254300000099999")
    )
    assert answer.status_code == 200
    assert answer.json()["header"]["responseMessage"] == "No records were found"
    assert answer.json()["body"] is None

    for path, body in (
        ("/simportal/v1/simactivation", unmask(ACTIVATION).replace("443539", "443999")),
        ("/simportal/v1/renameasset", RENAME.replace("300000038722", "300000038799")),
    ):
        answer = await portal.post(path, body)
        assert answer.status_code == 200
        assert answer.json()["header"]["responseMessage"] == "Operation Failed"

    for malformed in ("", "not json", "[]", '{"vpnGroup": "' + VPN + '"}', lifecycle[:-3]):
        answer = await portal.post("/simportal/v1/queryLifeCycleStatus", malformed)
        assert answer.status_code == 500
        fault = answer.json()["fault"]
        assert fault["faultstring"] == "Failed to execute the ExtractVariables: EV-FilterMessages"

    answer = await portal.client.get(
        "/oauth/v1/generate?grant_type=client_credentials", auth=("no", "pe")
    )
    assert (
        answer.status_code == 400
        and answer.json()["errorMessage"] == "Invalid Authentication passed"
    )
    answer = await portal.client.get("/oauth/v1/generate?grant_type=password")
    assert answer.json()["errorMessage"] == "Invalid grant type passed"


async def test_check_ati_as_documented(portal: Portal) -> None:
    answer = await portal.post("/imsi/v1/checkATI", CHECK_ATI)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {
        "requestRefID",
        "responseCode",
        "responseDesc",
        "imsi",
        "lastSwapDate",
        "msisdnRegistrationDate",
        "customerNumber",
    }
    assert (body["responseCode"], body["responseDesc"]) == ("200", "Success")
    assert len(body["imsi"]) == 16 and body["imsi"].isdigit() and body["imsi"] != "639020000000001"
    assert body["lastSwapDate"] == "01-01-1900"
    assert (body["msisdnRegistrationDate"], body["customerNumber"]) == (
        "01-03-2022",
        "254722000000",
    )

    for number, status in (("254733000000", 400), ("254722999999", 404), ("hello", 400)):
        answer = await portal.post("/imsi/v1/checkATI", json.dumps({"customerNumber": number}))
        assert answer.status_code == status
        assert answer.json()["responseCode"] == str(status)

    answer = await portal.post("/imsi/v1/checkATI", CHECK_ATI)  # the fifth this minute
    assert answer.status_code == 200
    answer = await portal.post("/imsi/v1/checkATI", CHECK_ATI)
    assert answer.status_code == 429 and answer.json()["responseCode"] == "429"
    assert 1 <= int(answer.headers["retry-after"]) <= 60

    answer = await portal.client.post("/imsi/v1/checkATI", content=CHECK_ATI)
    assert answer.status_code == 401 and answer.json()["errorMessage"] == "Invalid Access Token"


MESSAGE_FIELDS = {
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
}
PAGE_FIELDS = {
    "content",
    "pageable",
    "totalPages",
    "totalElements",
    "last",
    "size",
    "number",
    "sort",
    "numberOfElements",
    "first",
    "empty",
}


def said(answer: httpx.Response, words: str) -> Any:
    """The messaging operations' envelope: the same words in both message fields."""
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert set(data) == {"header", "body"} and set(data["header"]) == HEADER_FIELDS
    header = data["header"]
    assert (header["responseCode"], header["responseMessage"], header["customerMessage"]) == (
        200,
        words,
        words,
    )
    return data["body"]


def page(answer: httpx.Response) -> Any:
    body = said(answer, "Details fetched successfully.")
    assert set(body) == PAGE_FIELDS
    assert all(set(m) == MESSAGE_FIELDS for m in body["content"])
    return body


async def test_messaging_operations_as_documented(portal: Portal) -> None:
    sent = said(
        await portal.post("/simportal/v1/sendsinglemessage", unmask(SEND_SINGLE)),
        "Message queued successfully.",
    )
    assert set(sent) == MESSAGE_FIELDS
    assert (sent["msisdn"], sent["message"], sent["sourceSystem"]) == (
        "254300001172001",
        "Test",
        "sim-portal",
    )
    assert (sent["sourceAddr"], sent["vpnGroup"]) == (portal.account["short_code"], VPN)
    assert sent["processingStatus"] in {"0", "1", "2"} and sent["receiptId"] in {-1, 1}
    assert len(sent["date"]) == 19 and sent["date"][2] == "-" and sent["date"][5] == "-"

    # The example names another account's number: verbatim it is an unknown account.
    answer = await portal.post("/simportal/v1/getallmessages", ALL_MESSAGES)
    assert answer.status_code == 404
    assert answer.json()["header"]["responseMessage"] == "No records were found"

    # With this account's own number, the message is there and reaches delivered.
    ours = ALL_MESSAGES.replace("1-24856327146_VPN", VPN)

    async def delivered() -> dict[str, Any] | None:
        listed = page(await portal.post("/simportal/v1/getallmessages?pageNo=1&pageSize=10", ours))
        row = listed["content"][0]
        return row if row["processingStatus"] == "2" else None

    row = await wait_until(delivered, what="the message to be delivered")
    assert (row["id"], row["description"], row["receiptId"]) == (sent["id"], "delivered", 1)
    assert row["messageId"] != "-" and row["deliverTime"] != "-"

    found = page(
        await portal.post(
            "/simportal/v1/searchmessages?pageNo=1&pageSize=50", unmask(SEARCH_MESSAGES)
        )
    )
    assert (found["totalElements"], found["empty"], found["size"]) == (0, True, 50)
    mine = SEARCH_MESSAGES.replace("25430000010****", "254300001172001")
    found = page(await portal.post("/simportal/v1/searchmessages?pageNo=1&pageSize=50", mine))
    assert [m["id"] for m in found["content"]] == [sent["id"]]
    assert (found["totalPages"], found["first"], found["last"]) == (1, True, True)

    found = page(
        await portal.post("/simportal/v1/filtermessages?pageNo=1&pageSize=10", FILTER_MESSAGES)
    )
    assert (found["totalElements"], found["pageable"]["pageSize"]) == (0, 10)
    today = FILTER_MESSAGES.replace("02-05-2022 08:39:11", "01-01-2020 00:00:00").replace(
        "02-10-2022 00:00:00", "31-12-2099 23:59:59"
    )
    found = page(await portal.post("/simportal/v1/filtermessages", today.replace('"1"', '"2"')))
    assert [m["id"] for m in found["content"]] == [sent["id"]]

    answer = await portal.post("/simportal/v1/deletemessage", DELETE_MESSAGE)
    assert answer.json()["header"]["responseMessage"] == "Operation Failed"
    said(
        await portal.post(
            "/simportal/v1/deletemessage", DELETE_MESSAGE.replace("3888", str(sent["id"]))
        ),
        "Message deleted successfully.",
    )
    answer = await portal.post("/simportal/v1/deleteMessageThread", DELETE_THREAD)
    assert answer.status_code == 200
    assert answer.json()["header"]["responseMessage"] == "Operation Failed"
    thread = DELETE_THREAD.replace("254724751076", "254300001172001")
    assert (
        said(
            await portal.post("/simportal/v1/deleteMessageThread", thread),
            "Message deleted successfully.",
        )
        is None
    )
    assert page(await portal.post("/simportal/v1/getallmessages", ours))["empty"] is True


async def test_messaging_errors(portal: Portal, jumbe: Jumbe) -> None:
    send = unmask(SEND_SINGLE)
    other = await jumbe.services.accounts.create_account("Other")
    answer = await portal.post(
        "/simportal/v1/sendsinglemessage", send.replace(VPN, other.vpn_group)
    )
    assert answer.status_code == 400
    suspended = send.replace("300001172001", "300000100001")
    answer = await portal.post("/simportal/v1/sendsinglemessage", suspended)
    assert answer.status_code == 200
    header = answer.json()["header"]
    assert header["responseMessage"] == "Operation Failed"
    assert "active SIMs" in header["customerMessage"]
    for path, body in (
        ("/simportal/v1/sendsinglemessage", '{"msisdn": "300001172001"}'),
        ("/simportal/v1/filtermessages", FILTER_MESSAGES.replace("02-05-2022", "2022-05-02")),
        ("/simportal/v1/filtermessages", FILTER_MESSAGES.replace('"1"', '"9"')),
        ("/simportal/v1/searchmessages", '{"searchValue": "DROP TABLE"}'),
        ("/simportal/v1/deletemessage", '{"id": "x"}'),
        ("/simportal/v1/getallmessages?pageNo=0", ALL_MESSAGES.replace("1-24856327146_VPN", VPN)),
    ):
        answer = await portal.post(path, body)
        assert answer.status_code == 500, (path, body, answer.text)
        assert "ExtractVariables" in answer.json()["fault"]["faultstring"]
    answer = await portal.client.post("/simportal/v1/getallmessages", content=ALL_MESSAGES)
    assert answer.status_code == 401
