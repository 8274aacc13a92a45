"""Sender names and the review of applications for them: pure rules, no I/O.

An alphanumeric originator is at most 11 characters because that is all GSM
03.40's TP-Originating-Address carries (10 octets, 11 packed GSM-7
characters); a longer name is cut by the network or refused. Kimisms' page
says 12: Jumbe keeps to what every handset can show. A name of digits only
is a short code (a number people can reply to), 3 to 8 digits.
"""

from __future__ import annotations

import re
from enum import StrEnum

MAX_ALPHANUMERIC = 11
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9 .\-]{1,11}", re.ASCII)
_SHORT_CODE = re.compile(r"\d{3,8}", re.ASCII)

ANY_CARRIER = "*"  # a registration that holds on every carrier (the operator's grants)
ALPHANUMERIC = "alphanumeric"
SHORT_CODE = "short_code"
CAMPAIGN_TYPES = ("PROMOTIONAL", "TRANSACTIONAL")


class ReviewState(StrEnum):
    PENDING = "PENDING"
    PROVIDER = "PROVIDER"  # handed to the carrier, waiting for its answer
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


# state -> the states a reviewer may move it to
NEXT: dict[ReviewState, frozenset[ReviewState]] = {
    ReviewState.PENDING: frozenset({ReviewState.PROVIDER, ReviewState.REJECTED}),
    ReviewState.PROVIDER: frozenset({ReviewState.APPROVED, ReviewState.REJECTED}),
    ReviewState.APPROVED: frozenset(),
    ReviewState.REJECTED: frozenset(),
}


def kind_of(name: str) -> str:
    """``short_code`` or ``alphanumeric``; ValueError with the rule a bad name breaks."""
    if name.isascii() and name.isdigit():
        if not _SHORT_CODE.fullmatch(name):
            raise ValueError("a short code is 3 to 8 digits")
        return SHORT_CODE
    if not _ALPHANUMERIC.fullmatch(name) or not any(c.isalpha() for c in name):
        raise ValueError(
            f"an alphanumeric sender ID is 1 to {MAX_ALPHANUMERIC} letters, digits, spaces,"
            " dots or dashes, with at least one letter"
        )
    if name != name.strip():
        raise ValueError("a sender ID must not begin or end with a space")
    return ALPHANUMERIC


def campaign_type(raw: str) -> str:
    value = raw.strip().upper()
    if value not in CAMPAIGN_TYPES:
        raise ValueError(f"campaign type must be one of {', '.join(CAMPAIGN_TYPES)}")
    return value


def review_state(raw: str) -> ReviewState:
    try:
        return ReviewState(raw.strip().upper())
    except ValueError:
        raise ValueError(
            f"state must be one of {', '.join(s.value for s in ReviewState)}"
        ) from None


def check_move(current: ReviewState, to: ReviewState) -> None:
    """ValueError unless a reviewer may move an application from ``current`` to ``to``."""
    if to not in NEXT[current]:
        allowed = ", ".join(sorted(NEXT[current])) or "nothing (it is final)"
        raise ValueError(f"an application that is {current} can move to {allowed}, not {to}")


def needs_reason(to: ReviewState) -> bool:
    """A rejection says why: the customer reads it and applies again."""
    return to is ReviewState.REJECTED
