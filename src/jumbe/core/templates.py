"""``{header}`` placeholders in message templates: found, checked and filled.

Kimisms writes them with the CSV header's own name between single braces
(``Hi {name}, your payment of KES {amount} ...``). A brace that opens and never
closes (or closes and never opened) is refused rather than sent as written:
the customer meant a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    pass


def placeholders(body: str) -> list[str]:
    """The names between braces, in order of first use; TemplateError for a stray brace."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(body):
        name = match.group(1).strip()
        if not name:
            raise TemplateError("an empty placeholder {} : write the header's name inside")
        if name not in names:
            names.append(name)
    rest = _PLACEHOLDER.sub("", body)
    if "{" in rest or "}" in rest:
        raise TemplateError("a brace without its pair: placeholders are written {header}")
    return names


def fill(body: str, values: Mapping[str, str]) -> str:
    """The text one recipient gets: each placeholder replaced by its value ('' if none)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip(), ""), body)
