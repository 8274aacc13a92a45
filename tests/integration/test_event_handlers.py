"""The event handlers on their own: effects in the transaction, follow-ups after its commit.

A real database (SQLite, and PostgreSQL when configured), no network: the handlers
write rows and hand work to after-commit steps, which these tests observe.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.engine import Connection

from jumbe.app import CALLBACK_FORMATS
from jumbe.core.status import MessageStatus
from jumbe.services import Services
from jumbe.services.event_metrics import count_status_changes
from jumbe.services.events import Events, MessageReceived, Raised, StatusChanged
from jumbe.services.messaging import SendRequest
from jumbe.services.smpp_outbox import OwedDelivery, SmppDeliveries
from jumbe.services.webhooks import WebhookRows
from jumbe.store.database import Database
from jumbe.store.schema import notifications, smpp_outbox
from tests.conftest import UnsentCallbacks

NOW = datetime.now(UTC)


class Receivers:
    """This node's receivers as the outbox handler sees them: the accounts in ``bound``."""

    def __init__(self, bound: set[int]) -> None:
        self.bound = bound
        self.offered: list[OwedDelivery] = []

    def has_receiver(self, account_id: int) -> bool:
        return account_id in self.bound

    def offer(self, owed: Sequence[OwedDelivery]) -> None:
        self.offered.extend(owed)


@pytest.fixture
async def message(services: Services) -> tuple[int, int]:
    """(account id, message id) of a stored message."""
    account = await services.accounts.create_account("Acme")
    await services.billing.credit(account.account_id, 10)
    sent = await services.messaging.send(account.account_id, SendRequest("+254712345678", "hi"))
    return account.account_id, sent.id


def change(
    account_id: int,
    message_id: int,
    status: MessageStatus = MessageStatus.DELIVERED,
    *,
    callback_url: str | None = "https://93.184.216.34/hook",
    source: str = "rest",
    registered_delivery: int = 0,
) -> StatusChanged:
    return StatusChanged(
        message_id=message_id,
        uuid="3f6c0d1e-0000-4000-8000-000000000001",
        account_id=account_id,
        old_status=MessageStatus.SENT
        if status is not MessageStatus.SENT
        else MessageStatus.ACCEPTED,
        status=status,
        status_at=NOW,
        status_detail="delivered to the handset",
        error_code=None,
        source=source,
        callback_url=callback_url,
        client_ref="order-7",
        recipient="254712345678",
        carrier="safaricom",
        sender="JUMBE",
        body="hi",
        encoding="GSM7",
        parts=1,
        units=1,
        created_at=NOW,
        registered_delivery=registered_delivery,
        sim_id=None,
    )


async def raise_events(
    db: Database, events: Events, raised: list[StatusChanged | MessageReceived]
) -> None:
    def work(_conn: Connection, r: Raised) -> None:
        r.add(raised)

    await events.write(db, work)


async def test_webhook_rows_use_the_accepting_faces_format_and_go_to_the_sender(
    db: Database, message: tuple[int, int]
) -> None:
    account_id, message_id = message
    lane = UnsentCallbacks()
    events = Events([WebhookRows(CALLBACK_FORMATS, lane)])
    await raise_events(
        db,
        events,
        [
            change(account_id, message_id),
            change(account_id, message_id, callback_url=None),  # no callback wanted
            change(account_id, message_id, source="nowhere"),  # a face with no format: skipped
        ],
    )
    rows = await db.read(lambda conn: conn.execute(select(notifications)).all())
    assert len(rows) == 1
    (row,) = rows
    # written claimed by this node's sender, and offered to it once committed
    assert (row.lease_owner, row.next_attempt_at > NOW) == ("test-node", True)
    assert [(c.id, c.payload, c.sequence) for c in lane.offered] == [(row.id, row.payload, 2)]
    body = json.loads(row.payload)
    assert (row.delivery_id, row.sequence) == (f"{body['uuid']}.2", 2)
    assert body["delivery_id"] == row.delivery_id and body["sequence"] == 2
    assert (body["event"], body["state"], body["reference"]) == (
        "message.status",
        "delivered",
        "order-7",
    )


async def test_nothing_happens_for_a_change_that_is_rolled_back(
    db: Database, message: tuple[int, int]
) -> None:
    account_id, message_id = message
    lane = UnsentCallbacks()
    receivers = Receivers({account_id})
    events = Events(
        [
            WebhookRows(CALLBACK_FORMATS, lane),
            SmppDeliveries(receivers, owner="test-node"),
            count_status_changes,
        ]
    )
    counted = REGISTRY.get_sample_value(
        "jumbe_message_status_changes_total", {"status": "delivered"}
    )

    def work(_conn: Connection, raised: Raised) -> None:
        raised.add([change(account_id, message_id, registered_delivery=1)])
        raise RuntimeError("the transaction fails after raising its events")

    with pytest.raises(RuntimeError):
        await events.write(db, work)
    assert await db.read(lambda conn: conn.execute(select(notifications)).all()) == []
    assert await db.read(lambda conn: conn.execute(select(smpp_outbox)).all()) == []
    assert lane.offered == [] and receivers.offered == []
    assert (
        REGISTRY.get_sample_value("jumbe_message_status_changes_total", {"status": "delivered"})
        == counted
    )


async def test_smpp_receipts_and_mo_lease_to_local_receivers_and_offer_after_commit(
    db: Database, message: tuple[int, int]
) -> None:
    account_id, message_id = message
    here = Receivers({account_id})
    elsewhere = Receivers(set())
    mo = MessageReceived(message_id, "mo-uuid", account_id, None, "254722000111", "22333",
                         "STOP", "GSM7", 1, NOW)  # fmt: skip
    nobodys = MessageReceived(message_id, "mo-2", None, None, "254722000111", "99999",
                              "hi", "GSM7", 1, NOW)  # fmt: skip
    wanted = change(account_id, message_id, registered_delivery=1, source="smpp")
    failures_only = change(account_id, message_id, registered_delivery=2, source="smpp")
    await raise_events(
        db, Events([SmppDeliveries(here, owner="test-node")]), [wanted, failures_only, mo, nobodys]
    )
    rows = await db.read(lambda conn: conn.execute(select(smpp_outbox)).all())
    assert sorted(r.kind for r in rows) == ["mo", "receipt"]
    assert all(r.lease_until is not None for r in rows)  # leased to this node's fast lane
    assert sorted((o.kind, o.outbox_id > 0) for o in here.offered) == [
        ("mo", True),
        ("receipt", True),
    ]
    await raise_events(db, Events([SmppDeliveries(elsewhere, owner="test-node")]), [wanted])
    rows = await db.read(lambda conn: conn.execute(select(smpp_outbox)).all())
    assert len(rows) == 3 and sum(r.lease_until is None for r in rows) == 1
    assert elsewhere.offered == []  # the poll delivers it when a receiver binds somewhere


async def test_status_changes_are_counted_once_committed(
    db: Database, message: tuple[int, int]
) -> None:
    account_id, message_id = message
    before = REGISTRY.get_sample_value("jumbe_message_status_changes_total", {"status": "sent"})
    sent = change(account_id, message_id, MessageStatus.SENT)
    await raise_events(db, Events([count_status_changes]), [sent, sent])
    after = REGISTRY.get_sample_value("jumbe_message_status_changes_total", {"status": "sent"})
    assert (after or 0) - (before or 0) == 2
