"""What is accepted about a person who signs in: email, name, phone, a chosen password.

One set of rules for customers who register, members who accept an
invitation and the operator's staff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

from jumbe.core.password_strength import weakness
from jumbe.core.phone import InvalidNumber, normalise
from jumbe.services.errors import InvalidRequest

EMAIL_LENGTH = 254
NAME_LENGTH = 120


def checked_email(raw: str) -> str:
    """The address in the form it is kept and compared: normalised, lower-cased.

    Syntax only (email-validator, which knows internationalised addresses); no
    DNS lookup: whether mail arrives is what the verification link proves.
    """
    try:
        found = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidRequest(f"email is not valid: {exc}") from None
    email = found.normalized.lower()
    if len(email) > EMAIL_LENGTH:
        raise InvalidRequest(f"email must be at most {EMAIL_LENGTH} characters")
    return email


def checked_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > NAME_LENGTH:
        raise InvalidRequest(f"name must be 1 to {NAME_LENGTH} characters")
    return name


def checked_phone(raw: str) -> str:
    """A phone number in international form (any form Kenyans type is accepted)."""
    try:
        return normalise(raw)
    except InvalidNumber as exc:
        raise InvalidRequest(f"phone: {exc}") from None


async def check_password(password: str, personal: Iterable[str]) -> None:
    """InvalidRequest with the reason when ``password`` is too weak (``core.password_strength``).

    Run in a thread: a long password can keep zxcvbn busy for a tenth of a second.
    """
    reason = await asyncio.to_thread(weakness, password, tuple(personal))
    if reason is not None:
        raise InvalidRequest(reason)
