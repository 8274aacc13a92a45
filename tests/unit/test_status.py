from itertools import product

import pytest

from jumbe.core.status import (
    FINAL,
    MessageStatus,
    can_transition,
    combine_parts,
    sources,
    status_for_receipt,
)

S = MessageStatus

ALLOWED = {
    (S.ACCEPTED, S.SENT),
    (S.ACCEPTED, S.FAILED),
    (S.ACCEPTED, S.EXPIRED),
    (S.ACCEPTED, S.CANCELLED),
    (S.SENT, S.DELIVERED),
    (S.SENT, S.FAILED),
    (S.SENT, S.EXPIRED),
}


@pytest.mark.parametrize(("old", "new"), list(product(MessageStatus, repeat=2)))
def test_transition_matrix(old: MessageStatus, new: MessageStatus) -> None:
    assert can_transition(old, new) == ((old, new) in ALLOWED)


def test_final_states() -> None:
    assert {S.DELIVERED, S.FAILED, S.EXPIRED, S.CANCELLED, S.RECEIVED} == FINAL


@pytest.mark.parametrize("final", sorted(FINAL))
def test_nothing_leaves_a_final_state(final: MessageStatus) -> None:
    assert not any(can_transition(final, new) for new in MessageStatus)


def test_no_self_transitions() -> None:
    assert not any(can_transition(s, s) for s in MessageStatus)


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (S.ACCEPTED, set()),
        (S.SENT, {S.ACCEPTED}),
        (S.DELIVERED, {S.SENT}),
        (S.FAILED, {S.ACCEPTED, S.SENT}),
        (S.EXPIRED, {S.ACCEPTED, S.SENT}),
        (S.CANCELLED, {S.ACCEPTED}),
        (S.RECEIVED, set()),
    ],
)
def test_sources(new: MessageStatus, expected: set[MessageStatus]) -> None:
    assert sources(new) == expected
    assert isinstance(sources(new), frozenset)


def test_sources_agree_with_can_transition() -> None:
    for old, new in product(MessageStatus, repeat=2):
        assert (old in sources(new)) == can_transition(old, new)


def test_status_values() -> None:
    assert [s.value for s in MessageStatus] == [
        "accepted",
        "sent",
        "delivered",
        "failed",
        "expired",
        "cancelled",
        "received",
    ]
    assert S("delivered") is S.DELIVERED


@pytest.mark.parametrize(
    ("stat", "status"),
    [
        ("DELIVRD", S.DELIVERED),
        ("delivrd", S.DELIVERED),
        ("  DELIVRD\n", S.DELIVERED),
        ("UNDELIV", S.FAILED),
        ("REJECTD", S.FAILED),
        ("DELETED", S.FAILED),
        ("UNKNOWN", S.FAILED),
        ("Unknown", S.FAILED),
        ("EXPIRED", S.EXPIRED),
        ("ACCEPTD", None),
        ("ENROUTE", None),
        ("", None),
        ("DELIVERED", S.DELIVERED),  # spelled out by some SMSCs
        ("UNDELIVERABLE", S.FAILED),
        ("REJECTED", S.FAILED),
        ("ACCEPTED", None),
        ("garbage", None),
    ],
)
def test_status_for_receipt(stat: str, status: MessageStatus | None) -> None:
    assert status_for_receipt(stat) is status


@pytest.mark.parametrize(
    ("states", "combined"),
    [
        ([S.DELIVERED], S.DELIVERED),
        ([S.DELIVERED, S.DELIVERED, S.DELIVERED], S.DELIVERED),
        ([S.DELIVERED, S.FAILED], S.FAILED),
        ([S.EXPIRED, S.FAILED, S.DELIVERED], S.FAILED),
        ([S.DELIVERED, S.EXPIRED], S.EXPIRED),
        ([S.EXPIRED, S.EXPIRED], S.EXPIRED),
        ([S.FAILED], S.FAILED),
        ([None], None),
        ([S.DELIVERED, None], None),
        ([S.FAILED, None], None),
        ([None, None], None),
        ([S.DELIVERED, S.SENT], None),  # a non-final status is not an outcome yet
        ([S.CANCELLED, S.CANCELLED], S.CANCELLED),
        ([S.CANCELLED, S.EXPIRED], S.EXPIRED),
        ((S.DELIVERED, S.DELIVERED), S.DELIVERED),
    ],
)
def test_combine_parts(states: list[MessageStatus | None], combined: MessageStatus | None) -> None:
    assert combine_parts(states) is combined


def test_combine_parts_rejects_empty() -> None:
    with pytest.raises(ValueError):
        combine_parts([])


def test_combine_parts_rejects_inbound_status() -> None:
    with pytest.raises(ValueError):
        combine_parts([S.RECEIVED, S.DELIVERED])


def test_the_status_a_change_came_from_follows_from_the_row() -> None:
    from jumbe.core.status import previous

    assert previous(MessageStatus.SENT, was_sent=True) is MessageStatus.ACCEPTED
    assert previous(MessageStatus.CANCELLED, was_sent=False) is MessageStatus.ACCEPTED
    assert previous(MessageStatus.DELIVERED, was_sent=True) is MessageStatus.SENT
    for final in (MessageStatus.FAILED, MessageStatus.EXPIRED):
        assert previous(final, was_sent=True) is MessageStatus.SENT
        assert previous(final, was_sent=False) is MessageStatus.ACCEPTED
    for new in MessageStatus:
        for was_sent in (False, True):
            if new is not MessageStatus.RECEIVED and new is not MessageStatus.ACCEPTED:
                assert can_transition(previous(new, was_sent=was_sent), new)
