"""The SIM lifecycle, SIM identifiers, SIM types and the swap check's pure rules."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.core import sim_identifiers as ids
from jumbe.core.sim_lifecycle import ARRIVAL_STATES, SimState, can_move, parse_state
from jumbe.core.sim_types import sim_type
from jumbe.core.swap_check import NEVER, hashed_imsi, months_before, partner_key, recent_swap

S = SimState
ALLOWED = {
    (S.IDLE, S.POOLED),
    (S.IDLE, S.ACTIVE),
    (S.IDLE, S.TERMINATED),
    (S.POOLED, S.IDLE),
    (S.POOLED, S.ACTIVE),
    (S.POOLED, S.TERMINATED),
    (S.ACTIVE, S.SUSPENDED),
    (S.ACTIVE, S.TERMINATED),
    (S.SUSPENDED, S.ACTIVE),
    (S.SUSPENDED, S.TERMINATED),
}


@pytest.mark.parametrize(("old", "new"), list(product(SimState, repeat=2)))
def test_lifecycle_matrix(old: SimState, new: SimState) -> None:
    assert can_move(old, new) == ((old, new) in ALLOWED)


def test_terminated_is_final_and_no_sim_arrives_terminated() -> None:
    assert not any(can_move(S.TERMINATED, new) for new in SimState)
    assert S.TERMINATED not in ARRIVAL_STATES


def test_states_read_in_any_case_and_show_capitalised() -> None:
    assert parse_state(" Active ") is S.ACTIVE and parse_state("POOLED") is S.POOLED
    assert S.SUSPENDED.label == "Suspended"
    with pytest.raises(ValueError, match="unknown SIM state"):
        parse_state("dormant")


@pytest.mark.parametrize(
    ("given_number", "national"),
    [
        ("300000003036", "300000003036"),
        ("254300000003036", "300000003036"),
        ("+254300000003036", "300000003036"),
        (" 300000443539 ", "300000443539"),
        ("722000000", "722000000"),
    ],
)
def test_iot_numbers_with_or_without_the_country_code(given_number: str, national: str) -> None:
    assert ids.iot_msisdn(given_number) == national
    assert ids.international(national) == "254" + national


@pytest.mark.parametrize("bad", ["", "30000", "3000000030361234", "30000000303a", "٣٠٠٠٠٠٠٠٣٠٣٦"])
def test_iot_numbers_refused(bad: str) -> None:
    with pytest.raises(ids.InvalidIdentifier):
        ids.iot_msisdn(bad)


def test_iccid_imsi_imei() -> None:
    assert ids.iccid("89254014010100030360") == "89254014010100030360"
    assert ids.imsi("639014010003036") == "639014010003036"
    assert ids.imei("350123451234560") == "350123451234560"
    for check, bad in (
        (ids.iccid, "12254014010100030360"),  # not a telecom ICCID
        (ids.iccid, "8925"),
        (ids.imsi, "6390140100030361"),
        (ids.imei, "35012345"),
    ):
        with pytest.raises(ids.InvalidIdentifier):
            check(bad)


def test_sim_types_say_what_they_support() -> None:
    assert not sim_type("standard").binary_sms
    assert sim_type("BINARY").binary_sms and not sim_type("binary").custom_origin
    assert sim_type("custom_origin").custom_origin
    assert not sim_type("data_only").sms
    with pytest.raises(ValueError, match="unknown sim_type"):
        sim_type("multinet")


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 5, 31), 3, date(2024, 2, 29)),
        (date(2023, 5, 31), 3, date(2023, 2, 28)),
        (date(2024, 2, 15), 3, date(2023, 11, 15)),
        (date(2024, 1, 1), 12, date(2023, 1, 1)),
    ],
)
def test_months_before(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_only_a_swap_in_the_last_three_months_is_told() -> None:
    today = date(2024, 6, 15)
    assert recent_swap(date(2024, 6, 1), today) == date(2024, 6, 1)
    assert recent_swap(date(2024, 3, 15), today) == date(2024, 3, 15)
    assert recent_swap(date(2024, 3, 14), today) == NEVER
    assert recent_swap(None, today) == NEVER


@given(st.from_regex(r"[0-9]{15}", fullmatch=True))
def test_hashed_imsi_is_16_digits_stable_per_partner_and_differs_between_them(imsi: str) -> None:
    one, two = partner_key(b"secret", 1), partner_key(b"secret", 2)
    first = hashed_imsi(one, imsi)
    assert len(first) == 16 and first.isdigit() and first != imsi
    assert hashed_imsi(one, imsi) == first
    assert hashed_imsi(two, imsi) != first
    assert hashed_imsi(partner_key(b"other secret", 1), imsi) != first
