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

    other = await jumbe.services.identity.create_account("Other")
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

    answer = await portal.client.post("/imsi/v1/checkATI", content=CHECK_ATI)
    assert answer.status_code == 401 and answer.json()["errorMessage"] == "Invalid Access Token"
