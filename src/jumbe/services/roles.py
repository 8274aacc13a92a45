"""What each role in a team may do: the one table every face and service asks.

A team member signed in (a JWT session today, the portal later) acts with
the permissions of their role, read from the database on every request, so
a changed role or a removed member takes effect at once. API tokens do not
have roles: they have scopes, and ``SCOPE_PERMISSION`` says which permission
a member needs to put a scope on a token, so nobody mints a token that does
more than they may do themselves.

These are account permissions. The per-user SIM permissions in ``users``
(view, activate, suspend_resume, rename, message) are something else: what
an integration acting as a named user may do on the account's IoT SIMs
through the Safaricom SIM portal and M2M faces.
"""

from __future__ import annotations

from collections.abc import Iterable

from jumbe.services.errors import Forbidden, InvalidRequest

ROLES = ("owner", "admin", "member", "viewer")

# permission -> what it allows
PERMISSIONS: dict[str, str] = {
    "view": "read messages, delivery reports, balances, sender IDs, contacts, SIMs",
    "send": "send messages (quick send; tokens with the messages scope)",
    "manage_contacts": "contacts, groups and their imports",
    "manage_campaigns": "campaigns, templates and surveys",
    "manage_tokens": "list, create and revoke API tokens (only with scopes the role may use)",
    "manage_senders": "apply for sender IDs, upload KYC documents, set the team default",
    "manage_sims": "IoT SIMs: imports and lifecycle (activate, suspend, ...)",
    "manage_billing": "top-ups and payments",
    "manage_team": "invite members, change their roles, remove them (owners: only an owner)",
    "manage_account": "the account itself: its name, SMPP password, webhook secret",
}

_EVERYONE = frozenset({"view"})
_MEMBER = _EVERYONE | {"send", "manage_contacts", "manage_campaigns", "manage_tokens"}
_ADMIN = _MEMBER | {"manage_senders", "manage_sims", "manage_billing", "manage_team"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": _ADMIN | {"manage_account"},
    "admin": _ADMIN,
    "member": _MEMBER,
    "viewer": _EVERYONE,
}

# token scope -> the permission a member needs to grant it
SCOPE_PERMISSION: dict[str, str] = {
    "messages": "send",
    "contacts": "manage_contacts",
    "groups": "manage_contacts",
    "campaigns": "manage_campaigns",
    "surveys": "view",
    "ussd": "view",
    "reports": "view",
    "api_tokens": "manage_tokens",
    "sims": "manage_sims",
}


def may(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def require(role: str, permission: str) -> None:
    """Forbidden, saying which role lacks what, unless ``role`` holds ``permission``."""
    if not may(role, permission):
        raise Forbidden(f"Forbidden: {_a(role)} may not {PERMISSIONS[permission]}")


def grantable_scopes(role: str) -> frozenset[str]:
    """The token scopes a member with this role may hold and grant."""
    return frozenset(s for s, p in SCOPE_PERMISSION.items() if may(role, p))


def checked_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    return role


def table() -> Iterable[tuple[str, tuple[bool, ...]]]:
    """(permission, one flag per role in ROLES): the table as the README shows it."""
    for permission in PERMISSIONS:
        yield permission, tuple(may(role, permission) for role in ROLES)


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"
