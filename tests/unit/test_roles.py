"""The role table: one table, every scope backed by a permission, and the README says the same."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from jumbe.services.roles import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    SCOPE_PERMISSION,
    grantable_scopes,
    table,
)
from jumbe.services.tokens import SCOPES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_token_scope_needs_a_permission_that_exists() -> None:
    assert set(SCOPE_PERMISSION) == set(SCOPES)
    assert set(SCOPE_PERMISSION.values()) <= set(PERMISSIONS)
    assert set(ROLE_PERMISSIONS) == set(ROLES)


def test_owners_and_admins_grant_every_scope_viewers_none_that_matter() -> None:
    assert grantable_scopes("owner") == grantable_scopes("admin") == frozenset(SCOPES)
    assert grantable_scopes("member") == frozenset(SCOPES) - {"sims"}
    assert "api_tokens" not in grantable_scopes("viewer")
    assert grantable_scopes("nobody") == frozenset()


def test_each_role_holds_what_the_one_below_holds() -> None:
    for higher, lower in itertools.pairwise(ROLES):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


def test_the_readme_shows_the_table_as_it_is() -> None:
    rows = {}
    for line in README.read_text().splitlines():
        found = re.match(r"\| `(\w+)` \| (.+?) \| (.*) \|$", line)
        if found and found.group(1) in PERMISSIONS:
            flags = tuple(cell.strip() == "✓" for cell in found.group(3).split("|"))
            rows[found.group(1)] = (found.group(2), flags)
    assert rows == {p: (PERMISSIONS[p], flags) for p, flags in table()}
