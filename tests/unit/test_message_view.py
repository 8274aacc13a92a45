"""The message's one mapping to and from a row of ``messages``, without a database."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from types import SimpleNamespace

from jumbe.core.status import MessageStatus
from jumbe.services.views import MessageView, StatusChange
from jumbe.store.schema import messages

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _message() -> MessageView:
    return MessageView(
        id=0,
        uuid="5f0c6d1e-0000-4000-8000-000000000001",
        account_id=7,
        direction="mt",
        source="rest",
        sender="JUMBE",
        recipient="254700000001",
        carrier="safaricom",
        body="hello",
        encoding="gsm",
        parts=1,
        units=1,
        status=MessageStatus.ACCEPTED,
        status_at=NOW,
        status_detail="accepted via rest",
        error_code=None,
        created_at=NOW,
        valid_until=NOW,
        callback_url=None,
        client_ref="order-1",
        attempts=0,
        resent_from=None,
        registered_delivery=1,
        udh=None,
        sim_id=None,
    )


def test_every_field_but_the_history_is_a_column() -> None:
    names = {f.name for f in fields(MessageView)} - {"history"}
    assert names <= set(messages.c.keys())


def test_what_is_inserted_reads_back_as_the_same_message() -> None:
    message = _message()
    values = message.insert_values()
    assert "id" not in values and values["status"] == "accepted"
    assert set(values) <= set(messages.c.keys())
    stored = SimpleNamespace(id=41, **values)
    history = (StatusChange(MessageStatus.ACCEPTED, NOW, "accepted via rest"),)
    read = MessageView.from_row(stored, history)
    message.id = 41
    assert read.status is MessageStatus.ACCEPTED
    assert read.history == history
    read.history = ()
    assert read == message
