"""The Daraja faces' wire details: request ids, times and dates, lenient JSON payloads.

Safaricom's examples are real client traffic and not always strict JSON (a
trailing comma after the last member), numbers come as strings or numbers,
and field names vary between examples of the same call. Payloads are
therefore read leniently, here and only for these faces; anything that still
cannot be read is the documented "Failed to execute the ExtractVariables".
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

from jumbe.core.kenya_time import EAT, kenyan

# a JSON string (kept as it is) or a comma before a closing bracket (dropped)
_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(\s*[}\]])')
# No count, index or id is larger than the database's integers (BIGINT): a bigger number
# is refused here, as every other bad value is, rather than overflowing a query.
MAX_NUMBER = 2**63 - 1


class BadPayload(ValueError):
    """The request body cannot be what the operation needs; ``str()`` says why."""


def lenient_json(raw: bytes) -> Any:
    """JSON that may have trailing commas before } or ]."""
    try:
        text = raw.decode("utf-8-sig")
        return json.loads(_TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(2), text))
    except RecursionError:
        raise BadPayload("the body is not JSON this API reads: nested too deeply") from None
    except ValueError as exc:  # undecodable, malformed, or a number of thousands of digits
        raise BadPayload(f"the body is not JSON: {exc}") from exc


class Payload:
    """The members of a JSON object, each read as the documented string whatever its type."""

    def __init__(self, data: Any, query: dict[str, str] | None = None) -> None:
        if not isinstance(data, dict):
            raise BadPayload("the body must be a JSON object")
        self.data = data
        self.query = query or {}

    @classmethod
    def parse(cls, raw: bytes, query: dict[str, str] | None = None) -> Payload:
        return cls(lenient_json(raw), query)

    def page(self, default_size: int) -> tuple[int, int]:
        """(pageNo from 1, pageSize): from the query string, as documented, else the body."""

        def read(name: str, default: int) -> int:
            if name in self.query:
                return Payload({name: self.query[name]}).number(name)
            return self.number(name, default=default)

        return read("pageNo", 1), read("pageSize", default_size)

    def text(self, *names: str) -> str:
        """The first of ``names`` present, as a non-blank string (numbers accepted)."""
        for name in names:
            value = self.data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise BadPayload(f"{name} must be a string")
            text = str(value).strip()
            if not text:
                raise BadPayload(f"{name} must not be empty")
            if "\x00" in text:  # no value holds one, and the database cannot compare it
                raise BadPayload(f"{name} must not contain NUL characters")
            return text
        raise BadPayload(f"{names[0]} is required")

    def optional_text(self, *names: str) -> str | None:
        if not any(self.data.get(n) is not None for n in names):
            return None
        return self.text(*names)

    def number(self, *names: str, default: int | None = None) -> int:
        """A whole number given as 3 or "3"."""
        if default is not None and not any(self.data.get(n) is not None for n in names):
            return default
        text = self.text(*names)
        if not (text.isdigit() and text.isascii()):
            raise BadPayload(f"{names[0]} must be a whole number, got {text!r}")
        if len(text) > len(str(MAX_NUMBER)) or int(text) > MAX_NUMBER:
            raise BadPayload(f"{names[0]} must be at most {MAX_NUMBER}")
        return int(text)

    def texts(self, name: str) -> list[str]:
        """A string or a list of strings (vpnGroup comes both ways)."""
        value = self.data.get(name)
        if isinstance(value, list):
            if not value:
                raise BadPayload(f"{name} must not be empty")
            return [Payload({name: v}).text(name) for v in value]
        return [self.text(name)]


def request_ref() -> str:
    """An id in Safaricom's shape, e.g. 9953-4cfa-a173-507eb79891fe237."""
    return f"{uuid.uuid4()}"[9:] + str(secrets.randbelow(1_000_000))


def gateway_request_id() -> str:
    """The Daraja gateway's request id shape, e.g. 10219-2484793-1."""
    return f"{secrets.randbelow(90_000) + 10_000}-{secrets.randbelow(9_000_000) + 1_000_000}-1"


def timestamp(at_ns: int | None = None) -> str:
    """Kenyan local time with nine fractional digits: 2025-03-20T11:22:53.461865400."""
    ns = time.time_ns() if at_ns is None else at_ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    clock = kenyan(datetime.fromtimestamp(seconds, UTC))
    return f"{clock:%Y-%m-%dT%H:%M:%S}.{fraction:09d}"


def stamp(at: datetime | None) -> str:
    """A stored instant in the same form, or '-' when there is none."""
    if at is None:
        return "-"
    return timestamp(int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000)


def compact_day(day: date) -> str:
    """20240604."""
    return f"{day:%Y%m%d}"


def parse_compact_day(text: str, name: str) -> date:
    if not (len(text) == 8 and text.isdigit() and text.isascii()):
        raise BadPayload(f"{name} must be a date as yyyyMMdd, got {text!r}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise BadPayload(f"{name} is not a real date: {text!r}") from exc


def day_time(at: datetime) -> str:
    """13-06-2024 11:39:58, on a Kenyan clock."""
    return f"{kenyan(at):%d-%m-%Y %H:%M:%S}"


def parse_day_time(text: str, name: str) -> datetime:
    """The inverse of ``day_time``: a Kenyan wall-clock time as an aware instant."""
    try:
        at = datetime.strptime(text, "%d-%m-%Y %H:%M:%S").replace(tzinfo=EAT)
        return at.astimezone(UTC)  # stored times are UTC: 01-01-0001 00:00:00 has none
    except (ValueError, OverflowError) as exc:
        raise BadPayload(f"{name} must be a time as dd-MM-yyyy HH:mm:ss, got {text!r}") from exc


def day_month_year(day: date) -> str:
    """01-05-2022."""
    return f"{day:%d-%m-%Y}"
