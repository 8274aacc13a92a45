"""The message status machine.

Receipts arrive late, twice, or out of order, so every status write is a conditional update
"set new where status in sources(new)": the table below is the single place that decides
which of those writes win.
"""

from collections.abc import Sequence
from enum import StrEnum

__all__ = [
    "FINAL",
    "MessageStatus",
    "can_transition",
    "combine_parts",
    "previous",
    "sources",
    "status_for_receipt",
]


class MessageStatus(StrEnum):
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RECEIVED = "received"  # inbound (MO) messages: born final, never transition


FINAL: frozenset[MessageStatus] = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.EXPIRED,
        MessageStatus.CANCELLED,
        MessageStatus.RECEIVED,
    }
)

_NEXT: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.ACCEPTED: frozenset(
        {
            MessageStatus.SENT,
            MessageStatus.FAILED,
            MessageStatus.EXPIRED,
            MessageStatus.CANCELLED,
        }
    ),
    MessageStatus.SENT: frozenset(
        {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED}
    ),
}
_ALLOWED = frozenset((old, new) for old, targets in _NEXT.items() for new in targets)
_SOURCES: dict[MessageStatus, frozenset[MessageStatus]] = {
    new: frozenset(old for old, n in _ALLOWED if n is new) for new in MessageStatus
}
assert not any(status in _NEXT for status in FINAL)


def can_transition(old: MessageStatus, new: MessageStatus) -> bool:
    return (old, new) in _ALLOWED


def sources(new: MessageStatus) -> frozenset[MessageStatus]:
    """Statuses from which ``new`` may be reached; the WHERE clause of a conditional update,
    so a duplicate or late receipt matches no row instead of rewriting history."""
    return _SOURCES[new]


def previous(new: MessageStatus, *, was_sent: bool) -> MessageStatus:
    """The status a message just left to reach ``new``, from what the row still shows.

    The machine is linear: sent and cancelled come only from accepted, delivered only
    from sent, and a failed or expired message came from sent exactly when it has a
    sent time. So a status change needs no second read (nor a RETURNING of old
    values, which SQLite lacks) to know where it came from.
    """
    if was_sent and MessageStatus.SENT in _SOURCES[new]:
        return MessageStatus.SENT
    if MessageStatus.ACCEPTED in _SOURCES[new]:
        return MessageStatus.ACCEPTED
    if MessageStatus.SENT in _SOURCES[new]:
        return MessageStatus.SENT
    raise ValueError(f"no status change leads to {new.value}")


_RECEIPT_STAT: dict[str, MessageStatus | None] = {
    "DELIVRD": MessageStatus.DELIVERED,
    "UNDELIV": MessageStatus.FAILED,
    "REJECTD": MessageStatus.FAILED,
    "DELETED": MessageStatus.FAILED,
    "UNKNOWN": MessageStatus.FAILED,
    "EXPIRED": MessageStatus.EXPIRED,
    "ACCEPTD": None,  # intermediate receipts: the message is still on its way
    "ENROUTE": None,
    # Some SMSCs spell the words out (or use the message_state names); same meaning.
    "DELIVERED": MessageStatus.DELIVERED,
    "UNDELIVERABLE": MessageStatus.FAILED,
    "REJECTED": MessageStatus.FAILED,
    "ACCEPTED": None,
}


def status_for_receipt(stat: str) -> MessageStatus | None:
    """Map an SMPP delivery-receipt ``stat`` word to a final status, or None if not final.

    Unrecognised words give None rather than an error: a vendor's odd receipt should leave the
    message waiting (and eventually expire) instead of being recorded as something it is not.
    """
    return _RECEIPT_STAT.get(stat.strip().upper())


def combine_parts(states: Sequence[MessageStatus | None]) -> MessageStatus | None:
    """The status of a multi-part message from its parts' final states.

    The customer sees one message, so it counts as delivered only if every part arrived; any
    failed part makes it failed, since the recipient cannot read it whole. Parts without a
    final state (None, or a non-final status) mean the answer is not known yet.
    """
    if not states:
        raise ValueError("a message has at least one part")
    if any(state not in FINAL for state in states):
        return None
    if MessageStatus.RECEIVED in states:
        raise ValueError("received is an inbound status, not a delivery outcome of a part")
    if all(state is MessageStatus.DELIVERED for state in states):
        return MessageStatus.DELIVERED
    if MessageStatus.FAILED in states:
        return MessageStatus.FAILED
    if MessageStatus.EXPIRED in states:
        return MessageStatus.EXPIRED
    return MessageStatus.CANCELLED
