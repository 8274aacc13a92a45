"""Receipts and MO messages owed to accounts' SMPP receivers.

``SmppDeliveries`` is an event handler: it writes the rows in the transaction
that makes a message final (when its SMPP sender asked for a receipt) or stores
an MO. Two lanes deliver them:

- the fast lane: when the account has a receiver bound on this node (it asks
  ``LocalReceivers``, which the composition root passes in), the row is written
  already leased and offered to those receivers straight after the commit, with
  everything its deliver_sm needs; no further read or claim;
- the poll: rows that no local receiver could take (none bound, the node died,
  a delivery failed) are claimed for accounts with a receiver once their lease
  is over, until they expire.

Either way a row is settled only once the ESME has answered its deliver_sm, so
nothing owed is dropped; a crash between deliver_sm and settle means at most
one repeat.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Row

from jumbe.core.clock import utcnow
from jumbe.core.status import FINAL, MessageStatus
from jumbe.services.events import AfterCommit, Event, MessageReceived, StatusChanged
from jumbe.store.database import CHUNK, Database
from jumbe.store.schema import UTCDateTime, messages, smpp_outbox

# How long receipts and MO messages wait for an SMPP receiver to bind.
TTL = timedelta(hours=72)
# How long a claimed or fast-lane row is kept from other deliverers.
LEASE = timedelta(minutes=2)

_INSERT = insert(smpp_outbox).returning(smpp_outbox.c.id, smpp_outbox.c.message_id)
_DELIVERED = (
    update(smpp_outbox)
    .where(smpp_outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(status="delivered", lease_until=None, lease_owner=None)
)
_RETRY = (
    update(smpp_outbox)
    .where(smpp_outbox.c.id == bindparam("row"))
    .values(
        attempts=smpp_outbox.c.attempts + 1,
        next_attempt_at=bindparam("due", type_=UTCDateTime),
        lease_until=None,
        lease_owner=None,
    )
)
_MESSAGE_FIELDS = (
    messages.c.id,
    messages.c.uuid,
    messages.c.sender,
    messages.c.recipient,
    messages.c.body,
    messages.c.encoding,
    messages.c.status,
    messages.c.created_at,
    messages.c.status_at,
    messages.c.error_code,
)
_MESSAGES = select(*_MESSAGE_FIELDS).where(messages.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class OwedDelivery:
    """One receipt or MO for an SMPP receiver, with what its deliver_sm carries."""

    outbox_id: int
    account_id: int
    kind: str  # "receipt" or "mo"
    message_id: int
    uuid: str
    sender: str
    recipient: str
    body: str
    encoding: str
    status: MessageStatus
    created_at: datetime
    status_at: datetime
    error_code: str | None
    attempts: int = 0


def wants_receipt(registered_delivery: int, status: MessageStatus) -> bool:
    """SMPP 3.4 registered_delivery, low bits: 1 every final outcome, 2 failures only."""
    if status not in FINAL:
        return False
    wanted = registered_delivery & 0x03
    return wanted == 1 or (wanted == 2 and status is not MessageStatus.DELIVERED)


class LocalReceivers(Protocol):
    """This node's bound SMPP receivers, as the outbox needs to know them."""

    def has_receiver(self, account_id: int) -> bool:
        """Whether the account has a receiver bound here (asked from the database thread)."""
        ...

    def offer(self, owed: Sequence[OwedDelivery]) -> None:
        """Take rows just committed, leased to this node (on the event loop, after commit)."""
        ...


class SmppDeliveries:
    """Event handler: the receipts and MO messages owed to SMPP receivers, as outbox rows."""

    def __init__(self, receivers: LocalReceivers, *, owner: str) -> None:
        self.receivers = receivers
        self.owner = owner  # this node: a row leased to its receivers names it

    def __call__(
        self, conn: Connection, events: Sequence[Event], now: datetime
    ) -> AfterCommit | None:
        owed = []
        for e in events:
            if isinstance(e, StatusChanged):
                if wants_receipt(e.registered_delivery, e.status):
                    owed.append(_receipt(e))
            elif e.account_id is not None:  # an MO to nobody's number is stored, not owed
                owed.append(_mo(e, e.account_id))
        if not owed:
            return None
        local = self.queue(conn, owed, now)
        return partial(self.receivers.offer, local) if local else None

    def queue(
        self, conn: Connection, deliveries: Sequence[OwedDelivery], now: datetime
    ) -> list[OwedDelivery]:
        """Write the rows; return those leased to this node's receivers, with their ids."""
        leased = now + LEASE
        local = [self.receivers.has_receiver(d.account_id) for d in deliveries]
        rows = conn.execute(
            _INSERT,
            [
                {
                    "account_id": d.account_id,
                    "message_id": d.message_id,
                    "kind": d.kind,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": leased if here else None,
                    "lease_owner": self.owner if here else None,
                    "expires_at": now + TTL,
                    "created_at": now,
                }
                for d, here in zip(deliveries, local, strict=True)
            ],
        ).all()
        outbox_id = {r.message_id: r.id for r in rows}
        return [
            replace(d, outbox_id=outbox_id[d.message_id])
            for d, here in zip(deliveries, local, strict=True)
            if here
        ]


def _receipt(change: StatusChanged) -> OwedDelivery:
    return OwedDelivery(
        outbox_id=0,
        account_id=change.account_id,
        kind="receipt",
        message_id=change.message_id,
        uuid=change.uuid,
        sender=change.sender,
        recipient=change.recipient,
        body=change.body,
        encoding=change.encoding,
        status=change.status,
        created_at=change.created_at,
        status_at=change.status_at,
        error_code=change.error_code,
    )


def _mo(received: MessageReceived, account_id: int) -> OwedDelivery:
    return OwedDelivery(
        outbox_id=0,
        account_id=account_id,
        kind="mo",
        message_id=received.message_id,
        uuid=received.uuid,
        sender=received.sender,
        recipient=received.recipient,
        body=received.body,
        encoding=received.encoding,
        status=MessageStatus.RECEIVED,
        created_at=received.received_at,
        status_at=received.received_at,
        error_code=None,
    )


class SmppOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, account_ids: Collection[int], *, limit: int, owner: str
    ) -> list[OwedDelivery]:
        """Lease due rows of these accounts to ``owner`` (this node), oldest first, with
        their messages."""
        if not account_ids:
            return []
        now = utcnow()
        o = smpp_outbox
        due = (
            select(o.c.id)
            .where(
                o.c.status == "pending",
                o.c.account_id.in_(list(account_ids)),
                o.c.next_attempt_at <= now,
                o.c.expires_at > now,
                (o.c.lease_until.is_(None)) | (o.c.lease_until < now),
            )
            .order_by(o.c.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)

        def lease_due_deliveries(conn: Connection) -> list[OwedDelivery]:
            rows = conn.execute(
                update(o)
                .where(o.c.id.in_(due))
                .values(lease_until=now + LEASE, lease_owner=owner)
                .returning(o.c.id, o.c.account_id, o.c.kind, o.c.attempts, o.c.message_id)
            ).all()
            found: dict[int, Row[*tuple[Any, ...]]] = {}
            ids = [r.message_id for r in rows]
            for start in range(0, len(ids), CHUNK):
                for m in conn.execute(_MESSAGES, {"ids": ids[start : start + CHUNK]}):
                    found[m.id] = m
            return [
                OwedDelivery(
                    outbox_id=r.id,
                    account_id=r.account_id,
                    kind=r.kind,
                    message_id=m.id,
                    uuid=m.uuid,
                    sender=m.sender,
                    recipient=m.recipient,
                    body=m.body,
                    encoding=m.encoding,
                    status=MessageStatus(m.status),
                    created_at=m.created_at,
                    status_at=m.status_at,
                    error_code=m.error_code,
                    attempts=r.attempts,
                )
                for r in sorted(rows, key=lambda r: r.id)
                for m in (found[r.message_id],)
            ]

        return await self.db.write(lease_due_deliveries)

    async def settle(self, delivered: Sequence[int], retry: Sequence[tuple[int, float]]) -> None:
        """Mark rows delivered, or due again after the given number of seconds."""
        now = utcnow()

        def mark_delivered_or_due(conn: Connection) -> None:
            for start in range(0, len(delivered), CHUNK):
                conn.execute(_DELIVERED, {"ids": list(delivered[start : start + CHUNK])})
            if retry:
                conn.execute(
                    _RETRY,
                    [{"row": row, "due": now + timedelta(seconds=delay)} for row, delay in retry],
                )

        await self.db.write(mark_delivered_or_due)

    async def expire(self) -> int:
        """Give up on what waited past its expiry (the README says how long)."""
        now = utcnow()
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    update(smpp_outbox)
                    .where(smpp_outbox.c.status == "pending", smpp_outbox.c.expires_at <= now)
                    .values(status="expired", lease_until=None)
                ).rowcount
            )
        )
