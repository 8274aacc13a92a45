"""Two tenants with something of everything, made through the faces as customers would.

The fuzz test calls every operation as tenant A; the tenancy matrix calls
every route as A with B's identifiers. Each tenant has an operator-made
account (API token, Daraja and M2M credentials, SIMs, a REST message, a
device message, a second API token) and a signed-up organisation (an owner's
session and an invited member) for the team API, which takes sessions only.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import httpx

from jumbe.app import Jumbe
from jumbe.services.accounts import NewAccount
from tests.integration.signup_helpers import bearer, signed_up, token_of

STAFF_EMAIL = "ops@jumbe-operator.co.ke"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
STAFF_PASSWORD = "Marula-Compass-Heron-58"


@dataclass(frozen=True)
class Tenant:
    name: str
    account: NewAccount
    iccids: tuple[str, ...]
    msisdns: tuple[str, ...]
    message_uuid: str
    device_message_id: int
    token_uuid: str
    access_token: str  # Daraja
    kimisms_token: str
    session: str  # the owner of the signed-up organisation
    member_uuid: str  # a member invited there
    member_email: str
    application_uuid: str  # a sender ID application of the organisation, with KYC documents
    document_uuid: str
    sender_name: str
    topup_uuid: str  # an offline top-up of the organisation, waiting for staff
    contact_uuid: str = ""  # a contact in a group, with a template of that group
    group_uuid: str = ""
    upload_uuid: str = ""  # an import into that group
    template_uuid: str = ""

    @property
    def api(self) -> dict[str, str]:
        return bearer(self.account.api_token)

    @property
    def daraja(self) -> dict[str, str]:
        return bearer(self.access_token)

    @property
    def kimisms(self) -> dict[str, str]:
        return bearer(self.kimisms_token)

    @property
    def basic(self) -> dict[str, str]:
        pair = f"{self.account.daraja_consumer_key}:{self.account.daraja_consumer_secret}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    @property
    def team(self) -> dict[str, str]:
        return bearer(self.session)


@dataclass(frozen=True)
class World:
    a: Tenant
    b: Tenant
    staff_session: str


def _sims_csv(serial: int) -> tuple[str, list[str], list[str]]:
    rows, iccids, msisdns = [], [], []
    for n in range(3):
        tail = f"{serial}{n:04d}"
        iccid, msisdn = f"892540140101000{tail}", f"3000000{tail}"
        rows.append(f"{iccid},6390140100{tail},{msisdn},Tracker{tail},active")
        iccids.append(iccid)
        msisdns.append(msisdn)
    return "iccid,imsi,msisdn,asset_name,status\n" + "\n".join(rows) + "\n", iccids, msisdns


async def _tenant(
    jumbe: Jumbe, c: httpx.AsyncClient, name: str, serial: int, package: str
) -> Tenant:
    services = jumbe.services
    account = await services.accounts.create_account(name, owner_username=f"{name}@daraja.co.ke")
    await services.billing.credit(account.account_id, 1000, "test units")
    csv, iccids, msisdns = _sims_csv(serial)
    report = await services.sims.import_csv(account.account_id, io.StringIO(csv))
    assert report.accepted == 3, report.as_json()
    api = bearer(account.api_token)
    sent = await c.post("/api/v1/messages", headers=api, json={"to": "0712345678", "message": "hi"})
    assert sent.status_code == 200, sent.text
    token = await c.post("/api/v1/tokens", headers=api, json={"name": "x", "scopes": ["sims"]})
    assert token.status_code == 200, token.text
    access = await services.oauth.issue(
        account.daraja_consumer_key, account.daraja_consumer_secret, client="test"
    )
    kimisms = await services.kimisms_oauth.issue(
        account.oauth_client_id, account.oauth_client_secret, client="test"
    )
    device = await c.post(
        "/simportal/v1/sendsinglemessage",
        headers=bearer(access.token),
        json={"msisdn": msisdns[0], "message": "ping"},
    )
    assert device.status_code == 200 and device.json()["body"], device.text
    session = await signed_up(jumbe, c, f"owner@{name}.co.ke", organisation=f"{name} Ltd")
    member_email = f"member@{name}.co.ke"
    invited = await c.post(
        "/api/v1/team/members",
        headers=bearer(session),
        json={"email": member_email, "role": "member"},
    )
    assert invited.status_code == 200, invited.text
    sender_name = f"{name.upper()}SMS"
    applied = await c.post(
        "/api/v1/senders/applications",
        headers=bearer(session),
        data={
            "name": sender_name,
            "carrier": "safaricom",
            "campaign_type": "TRANSACTIONAL",
            "organisation": f"{name} Ltd",
            "purpose": "order confirmations",
        },
        files={
            "business_registration": ("certificate.pdf", PDF, "application/pdf"),
            "authorisation_letter": ("letter.pdf", PDF, "application/pdf"),
        },
    )
    assert applied.status_code == 200, applied.text
    topup = await c.post(
        "/api/v1/billing/topups",
        headers=bearer(session),
        json={"package_id": package, "units": 1000, "method": "offline", "reference": "EQ-1"},
    )
    assert topup.status_code == 200, topup.text
    group = await c.post("/api/v1/groups", headers=api, json={"name": f"{name} customers"})
    assert group.status_code == 200, group.text
    group_uuid = group.json()["data"]["uuid"]
    contact = await c.post(
        f"/api/v1/groups/{group_uuid}/contacts",
        headers=api,
        json={"phone": f"07220000{serial:02d}", "fields": {"name": name}},
    )
    assert contact.status_code == 200, contact.text
    upload = await c.post(
        "/api/v1/contacts/import",
        headers=api,
        files={"file": ("c.csv", f"number,name\n07220001{serial:02d},{name}\n12,x\n")},
        data={"group": f"{name} customers"},
    )
    assert upload.status_code == 200, upload.text
    template = await c.post(
        "/api/v1/templates",
        headers=api,
        json={"name": f"{name} hello", "group_id": group_uuid, "body": "Hi {name}"},
    )
    assert template.status_code == 200, template.text
    stop = await c.post("/api/v1/suppressions", headers=api, json={"phone": opted_out(serial)})
    assert stop.status_code == 200, stop.text
    return Tenant(
        name=name,
        account=account,
        iccids=tuple(iccids),
        msisdns=tuple(msisdns),
        message_uuid=sent.json()["data"]["uuid"],
        device_message_id=int(device.json()["body"]["id"]),
        token_uuid=token.json()["data"]["token"]["uuid"],
        access_token=access.token,
        kimisms_token=kimisms.token,
        session=session,
        member_uuid=invited.json()["data"]["uuid"],
        member_email=member_email,
        application_uuid=applied.json()["data"]["uuid"],
        document_uuid=applied.json()["data"]["documents"][0]["uuid"],
        sender_name=sender_name,
        topup_uuid=topup.json()["data"]["id"],
        contact_uuid=contact.json()["data"]["uuid"],
        group_uuid=group_uuid,
        upload_uuid=upload.json()["data"]["uuid"],
        template_uuid=template.json()["data"]["uuid"],
    )


def opted_out(serial: int) -> str:
    """The number on each tenant's suppression list."""
    return f"+2547220002{serial:02d}"


async def _staff_session(jumbe: Jumbe) -> str:
    staff = jumbe.services.staff
    _view, link = await staff.create(STAFF_EMAIL, "Ops Desk")
    await staff.set_password(token_of(link), STAFF_PASSWORD)
    return (await staff.login(STAFF_EMAIL, STAFF_PASSWORD, client="test")).token


SUBSCRIBERS = ("254722000001", "254722000002")  # the network's, for the IMSI check


async def build_world(jumbe: Jumbe) -> World:
    rows = "".join(f"{n},63902000000000{i},2022-03-01\n" for i, n in enumerate(SUBSCRIBERS))
    await jumbe.services.subscribers.import_csv(
        io.StringIO("msisdn,imsi,registration_date\n" + rows)
    )
    async with httpx.AsyncClient(base_url=jumbe.base_url, timeout=30) as c:
        offer = await jumbe.services.pricing.create_package(None, "safaricom", "Bulk", "0.80")
        a = await _tenant(jumbe, c, "alpha", 1, offer.uuid)
        b = await _tenant(jumbe, c, "bravo", 2, offer.uuid)
    return World(a, b, await _staff_session(jumbe))
