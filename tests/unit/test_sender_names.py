"""Sender names and the review of applications: the pure rules."""

from __future__ import annotations

import pytest

from jumbe.core.sender_names import (
    ReviewState,
    campaign_type,
    check_move,
    kind_of,
    needs_reason,
    review_state,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("KIMISMS", "alphanumeric"),
        ("My-Shop.KE", "alphanumeric"),
        ("ABCDEFGHIJK", "alphanumeric"),  # 11: all a GSM originator carries
        ("2FA", "alphanumeric"),
        ("20880", "short_code"),
        ("123", "short_code"),
    ],
)
def test_names_and_short_codes(name: str, kind: str) -> None:
    assert kind_of(name) == kind


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ABCDEFGHIJKL", "1 to 11"),  # Kimisms allows 12; a handset shows 11
        ("", "1 to 11"),
        ("DUKA_LETU", "1 to 11"),
        ("DUKA€", "1 to 11"),
        ("-.-", "at least one letter"),
        (" DUKA", "begin or end with a space"),
        ("12", "3 to 8 digits"),
        ("123456789", "3 to 8 digits"),
        ("٢٠٨٨٠", "1 to 11"),  # Arabic-Indic digits are not a short code
    ],
)
def test_bad_names_say_why(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        kind_of(name)


def test_campaign_types_and_states_are_read_in_any_case() -> None:
    assert campaign_type(" promotional ") == "PROMOTIONAL"
    with pytest.raises(ValueError, match="PROMOTIONAL, TRANSACTIONAL"):
        campaign_type("bulk")
    assert review_state("provider") is ReviewState.PROVIDER
    with pytest.raises(ValueError, match="PENDING, PROVIDER, APPROVED, REJECTED"):
        review_state("DONE")


def test_the_review_moves_forward_only() -> None:
    allowed = {
        (ReviewState.PENDING, ReviewState.PROVIDER),
        (ReviewState.PENDING, ReviewState.REJECTED),
        (ReviewState.PROVIDER, ReviewState.APPROVED),
        (ReviewState.PROVIDER, ReviewState.REJECTED),
    }
    for current in ReviewState:
        for to in ReviewState:
            if (current, to) in allowed:
                check_move(current, to)
            else:
                with pytest.raises(ValueError, match=f"that is {current}"):
                    check_move(current, to)
    assert [s for s in ReviewState if needs_reason(s)] == [ReviewState.REJECTED]
