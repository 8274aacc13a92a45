"""Events and their handlers without a database: a stand-in runs the transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import pytest

from jumbe.core.status import MessageStatus
from jumbe.services.events import (
    AfterCommit,
    Event,
    Events,
    MessageReceived,
    Raised,
    StatusChanged,
)
from jumbe.store.database import Database

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CONN = cast(Any, object())  # the handlers here never touch it


class FakeDatabase:
    """Runs a write like the real one: a transaction may be retried from the start."""

    def __init__(self, attempts: int = 1) -> None:
        self.attempts = attempts
        self.log: list[str] = []

    async def write(self, work: Callable[[Any], T]) -> T:
        for _ in range(self.attempts - 1):
            work(CONN)  # a retried transaction: its effects are rolled back
        result = work(CONN)
        self.log.append("committed")
        return result


def _changed(uuid: str, old: MessageStatus, new: MessageStatus) -> StatusChanged:
    return StatusChanged(
        message_id=1,
        uuid=uuid,
        account_id=7,
        old_status=old,
        status=new,
        status_at=NOW,
        status_detail="",
        error_code=None,
        source="rest",
        callback_url=None,
        client_ref=None,
        recipient="254700000001",
        carrier="safaricom",
        sender="JUMBE",
        body="hi",
        encoding="gsm",
        parts=1,
        units=1,
        created_at=NOW,
        registered_delivery=0,
        sim_id=None,
    )


def _received(uuid: str) -> MessageReceived:
    return MessageReceived(2, uuid, 7, None, "254700000001", "22141", "yes", "gsm", 1, NOW)


def test_a_change_is_numbered_by_where_it_came_from() -> None:
    sent = _changed("a", MessageStatus.ACCEPTED, MessageStatus.SENT)
    delivered = _changed("a", MessageStatus.SENT, MessageStatus.DELIVERED)
    failed_unsent = _changed("a", MessageStatus.ACCEPTED, MessageStatus.FAILED)
    assert (sent.sequence, delivered.sequence, failed_unsent.sequence) == (1, 2, 1)
    assert sent.direction == "mt"


def test_raised_keeps_the_order_events_happened_in() -> None:
    raised = Raised()
    raised.add([_changed("a", MessageStatus.ACCEPTED, MessageStatus.SENT)])
    raised.add([_received("b"), _received("c")])
    assert [e.uuid for e in raised.events] == ["a", "b", "c"]


class Recording:
    def __init__(self, log: list[str], name: str, *, follow_up: bool = True) -> None:
        self.log, self.name, self.follow_up = log, name, follow_up

    def __call__(self, conn: Any, events: Sequence[Event], now: datetime) -> AfterCommit | None:
        self.log.append(f"{self.name} wrote {len(events)}")
        if not self.follow_up:
            return None
        return lambda: self.log.append(f"{self.name} after commit")


def test_every_handler_sees_the_whole_batch_and_returns_its_step() -> None:
    log: list[str] = []
    events = Events([Recording(log, "webhooks"), Recording(log, "metrics", follow_up=False)])
    batch = [_received("a"), _received("b")]
    steps = events.handle(CONN, batch, NOW)
    assert log == ["webhooks wrote 2", "metrics wrote 2"]
    assert len(steps) == 1


async def test_effects_are_written_before_the_commit_and_steps_run_after() -> None:
    db = FakeDatabase()
    events = Events([Recording(db.log, "webhooks")])

    def change(conn: Any, raised: Raised) -> str:
        raised.add([_changed("a", MessageStatus.ACCEPTED, MessageStatus.SENT)])
        return "done"

    assert await events.write(cast(Database, db), change) == "done"
    assert db.log == ["webhooks wrote 1", "committed", "webhooks after commit"]


async def test_a_transaction_without_events_calls_no_handler() -> None:
    db = FakeDatabase()
    events = Events([Recording(db.log, "webhooks")])
    await events.write(cast(Database, db), lambda conn, raised: None)
    assert db.log == ["committed"]


async def test_a_retried_transaction_runs_its_steps_once() -> None:
    db = FakeDatabase(attempts=3)
    events = Events([Recording(db.log, "webhooks")])

    def change(conn: Any, raised: Raised) -> None:
        raised.add([_received("a")])

    await events.write(cast(Database, db), change)
    assert db.log.count("webhooks after commit") == 1
    assert db.log[-2:] == ["committed", "webhooks after commit"]


async def test_a_failed_step_is_logged_and_the_change_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = FakeDatabase()

    def failing(conn: Any, events: Sequence[Event], now: datetime) -> AfterCommit:
        def step() -> None:
            raise RuntimeError("receiver gone")

        return step

    events = Events([failing, Recording(db.log, "metrics")])
    with caplog.at_level(logging.ERROR, logger="jumbe.services.events"):
        result = await events.write(
            cast(Database, db), lambda conn, raised: raised.add([_received("a")]) or 1
        )
    assert result == 1
    assert "metrics after commit" in db.log  # the next step still ran
    assert "an after-commit step failed" in caplog.text
