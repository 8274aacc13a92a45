"""Contact imports over REST v1 on a running server: CSV and XLSX, in the background."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import func, select

from jumbe.app import Jumbe
from jumbe.services import Services
from jumbe.settings import Settings
from jumbe.store.schema import contact_groups, contact_uploads, contacts
from tests.conftest import running, wait_until

KIMISMS_CSV = (
    "number,name,company,amount\n"
    "254712345678,John Doe,Acme Corp,1500\n"
    "0733456789,Jane Smith,Beta Ltd,2300\n"
    "+254110345678,Bob Wilson,Gamma Inc,850\n"
    "712345678,John Again,Acme Corp,1\n"  # the first number again
    "12345,Nobody,None,0\n"
    "\n"
    "0799999999,Too,Many,Fields,Here\n"
)


async def finished(client: httpx.AsyncClient, uuid: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        data: dict[str, Any] = (await client.get(f"/api/v1/contacts/uploads/{uuid}")).json()["data"]
        return data if data["status"] in ("completed", "failed") else None

    result: dict[str, Any] = await wait_until(done, within=20, what=f"upload {uuid}")
    return result


async def test_a_kimisms_csv_into_a_named_group(demo: httpx.AsyncClient) -> None:
    answer = await demo.post(
        "/api/v1/contacts/import",
        files={"file": ("june.csv", KIMISMS_CSV.encode(), "text/csv")},
        data={"group": "June customers", "remove_duplicates": "true"},
    )
    assert answer.status_code == 200, answer.text
    queued = answer.json()["data"]
    assert queued["status"] in ("queued", "processing", "completed")
    assert queued["kind"] == "csv" and queued["group"]["name"] == "June customers"

    report = await finished(demo, queued["uuid"])
    assert report["status"] == "completed", report
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (6, 3, 3)
    reasons = {e["line"]: e["reason"] for e in report["errors"]}
    assert set(reasons) == {5, 6, 8}
    assert "duplicate" in reasons[5] and "invalid phone number" in reasons[6]
    assert "5 fields" in reasons[8]

    groups = (await demo.get("/api/v1/groups")).json()["data"]
    group = next(g for g in groups if g["name"] == "June customers")
    assert group["headers"] == ["name", "company", "amount"] and group["contact_count"] == 3
    members = (await demo.get(f"/api/v1/groups/{group['uuid']}/contacts")).json()["data"]
    by_phone = {c["phone"]: c for c in members["items"]}
    assert set(by_phone) == {"+254712345678", "+254733456789", "+254110345678"}
    assert by_phone["+254712345678"]["fields"] == {
        "name": "John Doe",
        "company": "Acme Corp",
        "amount": "1500",
    }
    assert by_phone["+254733456789"]["carrier"] == "airtel"

    download = await demo.get(report["errors_csv"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    lines = download.text.splitlines()
    assert lines[0] == "line,reason" and len(lines) == 4 and lines[1].startswith("5,")
    as_json = (await demo.get(report["errors_csv"], params={"format": "json"})).json()
    assert [e["line"] for e in as_json["data"]] == [5, 6, 8]


async def test_without_removing_duplicates_a_later_line_updates_the_contact(
    demo: httpx.AsyncClient,
) -> None:
    answer = await demo.post(
        "/api/v1/contacts/import", files={"file": ("a.csv", KIMISMS_CSV.encode())}
    )
    report = await finished(demo, answer.json()["data"]["uuid"])
    assert (report["accepted"], report["rejected"]) == (4, 2)
    found = (await demo.get("/api/v1/contacts", params={"search": "712345678"})).json()
    assert found["data"]["total"] == 1
    assert found["data"]["items"][0]["fields"]["name"] == "John Again"


async def test_a_mobile_sasa_csv_with_a_phone_column(demo: httpx.AsyncClient) -> None:
    body = "first_name,last_name,phone,email\nJane,Doe,+254712345678,jane@example.com\n"
    answer = await demo.post("/api/v1/contacts/import", files={"file": ("c.csv", body)})
    report = await finished(demo, answer.json()["data"]["uuid"])
    assert report["accepted"] == 1 and report["group"] is None
    contact = (await demo.get("/api/v1/contacts")).json()["data"]["items"][0]
    assert (contact["first_name"], contact["email"], contact["fields"]) == (
        "Jane",
        "jane@example.com",
        {},
    )


def _workbook(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_an_xlsx_with_numbers_as_numbers(demo: httpx.AsyncClient) -> None:
    xlsx = _workbook(
        [["number", "name"], [254712345678, "John"], [722000111, "Mary"], ["bad", "X"]]
    )
    answer = await demo.post(
        "/api/v1/contacts/import",
        files={"file": ("book.bin", xlsx, "application/octet-stream")},
        data={"group": "From Excel"},
    )
    assert answer.status_code == 200, answer.text
    report = await finished(demo, answer.json()["data"]["uuid"])
    assert report["kind"] == "xlsx"
    assert (report["accepted"], report["rejected"]) == (2, 1), report
    assert report["errors"][0]["line"] == 4
    phones = {c["phone"] for c in (await demo.get("/api/v1/contacts")).json()["data"]["items"]}
    assert phones == {"+254712345678", "+254722000111"}


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (3 * 1024 * 1024))
    return out.getvalue()


async def test_bad_files_are_refused_with_the_reason_and_write_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    cases = {
        "png": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "binary"),
        "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "XLS"),
        "utf16": ("number\n0712345678\n".encode("utf-16"), "UTF-16"),
        "latin1": ("number,name\n0712345678,Jos\xe9\n".encode("latin-1"), "not UTF-8"),
        "no number": (b"name,amount\nJohn,5\n", "no number column"),
        "seven": (b"number,a,b,c,d,e,f,g\n0712345678,1,2,3,4,5,6,7\n", "at most 6 custom"),
        "zip": (_zip_without_workbook(), "not an XLSX"),
        "bomb": (_bomb(), "over the limit"),
        "empty": (b"", "empty"),
    }
    async with running(settings, contacts_max_unpacked=2 * 1024 * 1024) as jumbe:
        assert jumbe.demo is not None
        headers = {"Authorization": f"Bearer {jumbe.demo.api_token}"}
        async with httpx.AsyncClient(base_url=jumbe.base_url, headers=headers) as c:
            for name, (content, reason) in cases.items():
                answer = await c.post(
                    "/api/v1/contacts/import",
                    files={"file": ("contacts.csv", content, "text/csv")},
                    data={"group": f"group {name}"},
                )
                assert answer.status_code == 400, (name, answer.text)
                assert reason in answer.json()["error"], (name, answer.json())
            not_multipart = await c.post("/api/v1/contacts/import", content=b"number\n")
            assert not_multipart.status_code == 400
        await _nothing_written(jumbe)
        assert not list((settings.data_dir / "contact-uploads").glob("*"))


async def test_a_file_over_the_upload_cap_is_refused(settings: Settings) -> None:
    async with running(settings, http_max_upload=4096) as jumbe:
        assert jumbe.demo is not None
        headers = {"Authorization": f"Bearer {jumbe.demo.api_token}"}
        big = b"number\n" + b"0712345678\n" * 1000
        async with httpx.AsyncClient(base_url=jumbe.base_url, headers=headers) as c:
            answer = await c.post("/api/v1/contacts/import", files={"file": ("c.csv", big)})
        assert answer.status_code == 413 and answer.json()["success"] is False
        await _nothing_written(jumbe)


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return out.getvalue()


async def _nothing_written(jumbe: Jumbe) -> None:
    def counts(conn: Any) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (contact_uploads, contact_groups, contacts)
        )

    assert await jumbe.db.read(counts) == (0, 0, 0)


async def test_an_import_cut_short_runs_again_at_start(services: Services) -> None:
    account = await services.accounts.create_account("importer")
    rows = "".join(f"07{n:08d}\n" for n in range(12_000_000, 12_005_000))
    imports = services.contact_imports
    upload = await imports.submit(
        account.account_id, io.BytesIO(b"number\n" + rows.encode()), group="Big"
    )
    await imports.stop()  # as a server stopping: the upload stays unfinished
    assert (await imports.upload(account.account_id, upload.uuid)).status in (
        "queued",
        "processing",
    )
    await imports.resume()
    await imports.wait()
    done = await imports.upload(account.account_id, upload.uuid)
    assert (done.status, done.rows_read, done.accepted, done.rejected) == (
        "completed",
        5000,
        5000,
        0,
    )
    group = (await services.contacts.groups(account.account_id))[0]
    assert group.contact_count == 5000
