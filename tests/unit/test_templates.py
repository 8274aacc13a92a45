"""Template placeholders: found in order, stray braces refused, filled per recipient."""

from __future__ import annotations

import pytest

from jumbe.core.templates import TemplateError, fill, placeholders


def test_placeholders_in_order_of_first_use() -> None:
    body = "Dear {name}, KES {amount} for {company} is due; {name}, pay {due_date}."
    assert placeholders(body) == ["name", "amount", "company", "due_date"]
    assert placeholders("no placeholders") == []


@pytest.mark.parametrize("body", ["Hi {name", "Hi name}", "Hi {}", "{{name}}"])
def test_stray_or_empty_braces_are_refused(body: str) -> None:
    with pytest.raises(TemplateError):
        placeholders(body)


def test_fill_replaces_each_placeholder_and_blanks_the_unknown() -> None:
    assert fill("Hi {name}, KES {amount}{x}", {"name": "Jane", "amount": "1500"}) == (
        "Hi Jane, KES 1500"
    )
