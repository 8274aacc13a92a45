"""The ``jumbe`` command.

Administrative commands open the same data directory as a running server and
go through the same services; SQLite's WAL and busy timeout let them write
while the server runs. ``simulate mo`` and ``simulate device`` talk to the
running server's embedded carrier over its loopback control API.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, TypeVar

import httpx
import typer

from jumbe.core.kenya_time import EAT
from jumbe.core.money import format_kes, kes_to_cents
from jumbe.core.sim_lifecycle import parse_state
from jumbe.services.billing import KES, UNITS
from jumbe.services.csv_import import ImportReport, Rejection
from jumbe.services.errors import ServiceError
from jumbe.services.users import PERMISSIONS
from jumbe.settings import Settings, load_settings

if TYPE_CHECKING:
    from jumbe.services import Services
    from jumbe.services.billing import Reconciliation
    from jumbe.services.products import Product
    from jumbe.services.sims import SimView
    from jumbe.services.team import Member
    from jumbe.services.users import UserView

T = TypeVar("T")

app = typer.Typer(help="Jumbe: messaging and IoT connectivity platform.", no_args_is_help=True)
accounts_app = typer.Typer(
    help="Accounts, their credentials and their units.", no_args_is_help=True
)
carriers_app = typer.Typer(help="The carrier prefix override table.", no_args_is_help=True)
simulate_app = typer.Typer(help="The embedded carrier simulator.", no_args_is_help=True)
users_app = typer.Typer(help="Users of an account and their SIM permissions.", no_args_is_help=True)
products_app = typer.Typer(help="The tariff (offering) catalogue.", no_args_is_help=True)
sims_app = typer.Typer(help="IoT SIMs: batch imports and lifecycle.", no_args_is_help=True)
subscribers_app = typer.Typer(
    help="The subscriber registry behind the IMSI check.", no_args_is_help=True
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(carriers_app, name="carriers")
app.add_typer(simulate_app, name="simulate")
app.add_typer(users_app, name="users")
app.add_typer(products_app, name="products")
app.add_typer(sims_app, name="sims")
app.add_typer(subscribers_app, name="subscribers")
mail_app = typer.Typer(
    help="Mail to people (the local outbox without JUMBE_SMTP_URL).", no_args_is_help=True
)
staff_app = typer.Typer(
    help="The operator's staff: platform-level people who see every account.",
    no_args_is_help=True,
)
senders_app = typer.Typer(
    help="Sender IDs: registrations per carrier and the review of applications.",
    no_args_is_help=True,
)
app.add_typer(mail_app, name="mail")
app.add_typer(staff_app, name="staff")
app.add_typer(senders_app, name="senders")
packages_app = typer.Typer(
    help="Packages: the KES rate per SMS unit on each carrier.", no_args_is_help=True
)
app.add_typer(packages_app, name="packages")
topups_app = typer.Typer(
    help="Top-ups: units bought by M-Pesa or offline (bank) for staff to approve.",
    no_args_is_help=True,
)
app.add_typer(topups_app, name="topups")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Overrides JUMBE_DATA_DIR", show_default=False)
]


def _settings(data_dir: Path | None) -> Settings:
    return load_settings(**({"data_dir": data_dir} if data_dir else {}))


def _with_services(
    settings: Settings, work: Callable[[Services], Awaitable[T]], *, refused_exit: int = 2
) -> T:
    """Run ``work(services)`` against the configured database, migrated first; a service's
    refusal ends the command with its reason in one line and ``refused_exit``."""
    from jumbe.services import Services
    from jumbe.store.database import Database

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            services = Services.build(db, settings, public_url=lambda: _server_url(settings))
            await services.numbering.refresh(force=True)
            return await work(services)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(refused_exit) from exc


@app.command()
def serve(data_dir: DataDir = None) -> None:
    """Run everything: HTTP API, dispatcher, connectors and (by default) the carrier simulator."""
    from jumbe.app import run

    settings = _settings(data_dir)
    try:
        run(settings)
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date (serve does this too)."""
    _with_services(_settings(data_dir), _noop)
    typer.echo("database is up to date")


async def _noop(_services: Services) -> None:
    return None


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="A new name (compared ignoring case and spacing)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    sender: Annotated[
        str | None, typer.Option(help="An approved alphanumeric sender ID, made the default")
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="The owner's username (default: <team>@jumbe.local)")
    ] = None,
    vpn_group: Annotated[
        str | None,
        typer.Option("--vpn-group", help="Keep an existing account number (default: a new one)"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an account: owner, wallets, short code, API token, Daraja consumer key/secret,
    Kimisms client credentials, M2M user, SMPP password."""
    account = _with_services(
        _settings(data_dir),
        lambda s: s.accounts.create_account(
            name, sender=sender, owner_username=username, vpn_group=vpn_group
        ),
    )
    if as_json:
        typer.echo(json.dumps(account.as_json()))
        return
    for key, value in account.as_json().items():
        typer.echo(f"{key:>22}: {value}")
    typer.echo("\nThe token, passwords and consumer secret are shown only now; store them safely.")


@accounts_app.command("credit")
def accounts_credit(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    amount: Annotated[str, typer.Argument(help="Units, or shillings with --asset KES (20.50)")],
    asset: Annotated[str, typer.Option(help="units (SMS) or KES (priced services)")] = UNITS,
    sender: Annotated[
        str | None,
        typer.Option(help="A sender registration's UUID: credit its own float (units only)"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add units, or KES, to an account's wallet (or a sender's float) through the ledger."""
    try:
        smallest = kes_to_cents(amount) if asset == KES else int(amount)
    except ValueError as exc:
        typer.echo(f"error: {exc}" if asset == KES else "error: units are whole numbers", err=True)
        raise typer.Exit(2) from exc

    async def credit_account(s: Services) -> int:
        account_id = await s.accounts.find_account(account)
        return await s.billing.credit(
            account_id, smallest, "credit from the command line", asset=asset, sender=sender
        )

    balance = _with_services(_settings(data_dir), credit_account)
    typer.echo(f"credited {_amount(smallest, asset)}; balance is now {_amount(balance, asset)}")


def _amount(smallest: int, asset: str) -> str:
    return f"KES {format_kes(smallest)}" if asset == KES else f"{smallest} units"


@accounts_app.command("balance")
def accounts_balance(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    data_dir: DataDir = None,
) -> None:
    """Show each wallet (the team's, and each sender's float) and check it against the
    ledger and what it paid for."""

    async def reconcile_wallets(s: Services) -> list[Reconciliation]:
        account_id = await s.accounts.find_account(account)
        return await s.billing.reconcile_wallets(account_id)

    ok = True
    for r in _with_services(_settings(data_dir), reconcile_wallets):
        paid = "messages" if r.asset == UNITS else "IMSI checks"
        f = r.sender
        whose = "" if f is None else f" float of sender {f.name} on {f.carrier} ({f.sender_uuid})"
        typer.echo(f"{r.asset}{whose} balance: {_amount(r.balance, r.asset)}")
        typer.echo(
            f"  ledger sum: {r.ledger_sum}; debited {r.debited} for {paid} worth {r.paid_for};"
            f" refunded {r.refunded} for {paid} worth {r.refunded_for}"
        )
        ok = ok and r.ok
    t = _with_services(_settings(data_dir), partial(_reconcile_topups, account))
    typer.echo(
        f"top-ups: {t.completed} completed for {t.units} units; ledger credits for them"
        f" {t.credited}" + (f"; {t.uncredited} WITHOUT a credit" if t.uncredited else "")
    )
    ok = ok and t.ok
    typer.echo("reconciled: yes" if ok else "reconciled: NO")
    if not ok:
        raise typer.Exit(1)


async def _reconcile_topups(account: str, s: Any) -> Any:
    return await s.topups.reconcile(await s.accounts.find_account(account))


@accounts_app.command("pricing")
def accounts_pricing(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    rule: Annotated[
        str | None,
        typer.Argument(help="segments (1 unit per carrier segment) or kimisms (per 160 chars)"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Show or change how the account's messages are priced in units."""

    async def show_or_set(s: Any) -> Any:
        account_id = await s.accounts.find_account(account)
        if rule is None:
            return await s.pricing.pricing(account_id)
        return await s.pricing.set_pricing(account_id, rule)

    typer.echo(f"pricing: {_with_services(_settings(data_dir), show_or_set)}")


@accounts_app.command("smpp-limits")
def accounts_smpp_limits(
    account: Annotated[str, typer.Argument(help="Account id or team code")],
    sessions: Annotated[
        int | None, typer.Option(help="Concurrent SMPP sessions (omit: platform default)")
    ] = None,
    tps: Annotated[
        float | None, typer.Option(help="submit_sm per second per session (omit: default)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set an account's SMPP session and rate limits; omitted ones return to the defaults."""

    async def set_limits(s: Services) -> None:
        account_id = await s.accounts.find_account(account)
        await s.smpp_credentials.set_smpp_limits(account_id, max_sessions=sessions, tps=tps)

    _with_services(_settings(data_dir), set_limits)
    typer.echo(f"sessions: {sessions or 'default'}; tps per session: {tps or 'default'}")


@accounts_app.command("smpp-password")
def accounts_smpp_password(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    data_dir: DataDir = None,
) -> None:
    """Issue a new 8-character SMPP bind password for the account (the old one stops working)."""

    async def rotate_password(s: Services) -> tuple[str, str]:
        account_id = await s.accounts.find_account(account)
        team_code = await s.accounts.team_code(account_id)
        return team_code, await s.smpp_credentials.rotate_password(account_id)

    team_code, password = _with_services(_settings(data_dir), rotate_password)
    if as_json:
        typer.echo(json.dumps({"system_id": team_code, "smpp_password": password}))
        return
    typer.echo(f"system_id: {team_code}\nsmpp_password (shown only now): {password}")
    typer.echo("Sessions already bound stay bound; new binds need this password or an API token.")


@accounts_app.command("client-credentials")
def accounts_client_credentials(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    data_dir: DataDir = None,
) -> None:
    """Issue new Kimisms API client credentials (the old ones and their tokens stop working)."""

    async def regenerate(s: Any) -> Any:
        return await s.kimisms_oauth.regenerate(await s.accounts.find_account(account))

    fresh = _with_services(_settings(data_dir), regenerate)
    if as_json:
        typer.echo(json.dumps({"oauth_client_id": fresh.key, "oauth_client_secret": fresh.secret}))
        return
    typer.echo(
        f"oauth_client_id: {fresh.key}\noauth_client_secret (shown only now): {fresh.secret}"
    )


@carriers_app.command("list")
def carriers_list(data_dir: DataDir = None) -> None:
    """Show the operator's prefix overrides (the built-in table comes from libphonenumber)."""
    overrides = _with_services(_settings(data_dir), lambda s: s.numbering.overrides())
    if not overrides:
        typer.echo("no overrides; the built-in prefix table applies")
    for prefix, carrier in overrides.items():
        typer.echo(f"{prefix:>15}  {carrier}")


@carriers_app.command("set")
def carriers_set(
    prefix: Annotated[str, typer.Argument(help="International digits, e.g. 254747")],
    carrier: Annotated[str, typer.Argument(help="Carrier name, e.g. airtel")],
    data_dir: DataDir = None,
) -> None:
    """Route numbers starting with PREFIX to CARRIER (longest prefix wins)."""
    _with_services(_settings(data_dir), lambda s: s.numbering.set_prefix(prefix, carrier))
    typer.echo(f"{prefix} -> {carrier}")


@carriers_app.command("unset")
def carriers_unset(prefix: str, data_dir: DataDir = None) -> None:
    """Remove a prefix override."""
    _with_services(_settings(data_dir), lambda s: s.numbering.remove_prefix(prefix))
    typer.echo(f"removed {prefix}")


Permission = Annotated[
    list[str] | None,
    typer.Option("--permission", "-p", help=f"Repeatable: {', '.join(PERMISSIONS)}"),
]


@users_app.command("add")
def users_add(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    username: Annotated[str, typer.Argument(help="Usually an email address")],
    role: Annotated[str, typer.Option(help="owner, admin, member or viewer")] = "member",
    permission: Permission = None,
    data_dir: DataDir = None,
) -> None:
    """Add a user to an account; the password is printed once."""

    async def add_user(s: Services) -> str:
        account_id = await s.accounts.find_account(account)
        return await s.users.add_user(account_id, username, role=role, permissions=permission)

    password = _with_services(_settings(data_dir), add_user)
    typer.echo(f"user {username} added; password (shown only now): {password}")


@users_app.command("invite")
def users_invite(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    email: Annotated[str, typer.Argument(help="Who: they accept by the mailed link")],
    role: Annotated[str, typer.Option(help="owner, admin, member or viewer")] = "owner",
    data_dir: DataDir = None,
) -> None:
    """Invite someone to sign in to an account (e.g. an owner for an account made here)."""

    async def invite(s: Services) -> Member:
        account_id = await s.accounts.find_account(account)
        return await s.team.invite_for_operator(account_id, email, role)

    member = _with_services(_settings(data_dir), invite)
    typer.echo(
        f"invitation mailed to {member.email} as {member.role}"
        " (without JUMBE_SMTP_URL: see `jumbe mail list`)"
    )


PermissionNames = Annotated[list[str], typer.Argument(help=", ".join(PERMISSIONS))]


@users_app.command("grant")
def users_grant(username: str, permissions: PermissionNames, data_dir: DataDir = None) -> None:
    """Give a user permissions on the account's SIMs."""
    _change_permissions(data_dir, username, lambda s: s.users.grant(username, permissions))


@users_app.command("revoke")
def users_revoke(username: str, permissions: PermissionNames, data_dir: DataDir = None) -> None:
    """Take permissions away from a user."""
    _change_permissions(data_dir, username, lambda s: s.users.revoke(username, permissions))


def _change_permissions(
    data_dir: Path | None, username: str, change: Callable[[Services], Awaitable[tuple[str, ...]]]
) -> None:
    held = _with_services(_settings(data_dir), change)
    typer.echo(f"{username}: {', '.join(held) or 'no permissions'}")


@users_app.command("list")
def users_list(
    account: Annotated[str, typer.Argument(help="Account id, team code or account number")],
    data_dir: DataDir = None,
) -> None:
    """The account's users, their roles and permissions."""

    async def list_users(s: Services) -> list[UserView]:
        return await s.users.list_users(await s.accounts.find_account(account))

    for user in _with_services(_settings(data_dir), list_users):
        typer.echo(f"{user.username}  {user.role}  {','.join(user.permissions) or '-'}")


@products_app.command("add")
def products_add(
    offering_id: Annotated[str, typer.Argument(help="The offering id, e.g. 14205001")],
    name: Annotated[str, typer.Argument(help="e.g. 'Speed Governor 300MB + 20SMS'")],
    status: Annotated[str, typer.Option(help="Active or Inactive")] = "Active",
    data_dir: DataDir = None,
) -> None:
    """Add a tariff to the catalogue."""
    _show_product(
        _with_services(_settings(data_dir), lambda s: s.products.add(offering_id, name, status))
    )


@products_app.command("set-status")
def products_set_status(
    offering_id: str,
    status: Annotated[str, typer.Argument(help="Active or Inactive")],
    data_dir: DataDir = None,
) -> None:
    """Mark a tariff Active or Inactive."""
    _show_product(
        _with_services(_settings(data_dir), lambda s: s.products.set_status(offering_id, status))
    )


@products_app.command("list")
def products_list(data_dir: DataDir = None) -> None:
    """The catalogue."""
    found = _with_services(_settings(data_dir), lambda s: s.products.list())
    if not found:
        typer.echo("no products; add one with `jumbe products add ID NAME`")
    for product in found:
        _show_product(product)


def _show_product(product: Product) -> None:
    typer.echo(f"{product.offering_id}  {product.name}  {product.status}")


def _report_progress(report: ImportReport) -> None:
    typer.echo(
        f"{report.rows} rows: {report.accepted} imported, {report.rejected} rejected", err=True
    )


def _report_rejection(rejection: Rejection) -> None:
    typer.echo(f"line {rejection.line}: {rejection.reason}", err=True)


def _run_import(
    data_dir: Path | None, file: Path, work: Callable[[Services, TextIO], Awaitable[ImportReport]]
) -> None:
    """Open ``file`` as UTF-8 CSV, run the import, print the summary; exit 1 if rows failed."""

    async def run(s: Services) -> ImportReport:
        with file.open(encoding="utf-8-sig", errors="replace", newline="") as source:
            return await work(s, source)

    try:
        # a file that cannot be imported at all fails like one with bad rows: exit 1
        report = _with_services(_settings(data_dir), run, refused_exit=1)
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{report.accepted} imported, {report.rejected} rejected, of {report.rows} rows")
    if report.rejected:
        raise typer.Exit(1)


@sims_app.command("import")
def sims_import(
    file: Annotated[Path, typer.Argument(help="CSV: iccid,imsi,msisdn[,asset_name,imei,...]")],
    vpn_group: Annotated[str, typer.Option("--vpn-group", help="The account number")],
    data_dir: DataDir = None,
) -> None:
    """Import SIMs into an account from CSV, streamed; bad rows are reported by line."""

    async def import_sims(s: Services, source: TextIO) -> ImportReport:
        account_id = await s.accounts.account_by_vpn_group(vpn_group)
        return await s.sims.import_csv(
            account_id, source, on_progress=_report_progress, on_rejection=_report_rejection
        )

    _run_import(data_dir, file, import_sims)


@sims_app.command("set-state")
def sims_set_state(
    msisdn: Annotated[str, typer.Argument(help="The SIM's number, with or without 254")],
    state: Annotated[str, typer.Argument(help="idle, pooled, active, suspended or terminated")],
    vpn_group: Annotated[str, typer.Option("--vpn-group", help="The account number")],
    data_dir: DataDir = None,
) -> None:
    """Move a SIM to another lifecycle state, where the lifecycle allows it."""
    try:
        target = parse_state(state)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def move_sim(s: Services) -> SimView:
        account_id = await s.accounts.account_by_vpn_group(vpn_group)
        return await s.sims.move(account_id, msisdn, target, actor="operator")

    sim = _with_services(_settings(data_dir), move_sim)
    typer.echo(f"{sim.msisdn}: {sim.status.label}")


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV: msisdn,imsi,registration_date (ISO)")],
    data_dir: DataDir = None,
) -> None:
    """Register numbers with their IMSI and registration date, streamed."""

    async def import_subscribers(s: Services, source: TextIO) -> ImportReport:
        return await s.subscribers.import_csv(
            source, on_progress=_report_progress, on_rejection=_report_rejection
        )

    _run_import(data_dir, file, import_subscribers)


@subscribers_app.command("swap")
def subscribers_swap(
    msisdn: Annotated[str, typer.Argument(help="The number, e.g. 254722000000")],
    imsi: Annotated[str, typer.Option(help="The IMSI of the new SIM")],
    at: Annotated[
        str | None, typer.Option(help="When, ISO 8601 (default now; a date means midnight EAT)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Record a SIM swap: the number now has the SIM with IMSI."""
    try:
        when = _instant(at) if at else None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    done = _with_services(_settings(data_dir), lambda s: s.subscribers.swap(msisdn, imsi, at=when))
    typer.echo(f"{msisdn} swapped to IMSI {imsi} at {done.isoformat()}")


def _instant(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is Kenyan time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at must be an ISO date or date-time, got {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=EAT)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _simulator_call(data_dir: Path | None, method: str, path: str, body: Any) -> Any:
    """Call the running server's simulator control API and return its JSON answer.

    The token ``jumbe serve`` wrote into the data dir is the proof that we may; every way
    this can go wrong ends the command with one line that says what to do about it.
    """
    from jumbe.app import SIMULATOR_TOKEN_FILE

    settings = _settings(data_dir)
    token_file = settings.data_dir / SIMULATOR_TOKEN_FILE
    if not token_file.exists():
        _fail(
            f"no running embedded simulator found ({token_file} is missing);"
            " start `jumbe serve` with the same data dir first"
        )
    url = f"{_server_url(settings, public=False)}/simulator/{path}"
    try:
        response = httpx.request(
            method,
            url,
            json=body,
            headers={"X-Simulator-Token": token_file.read_text().strip()},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the server at {url} (is `jumbe serve` running?): {exc}")
    if response.status_code == 404:
        _fail(f"the server at {url} runs no embedded simulator (an upstream is configured?)")
    if response.status_code >= 300:
        _fail(f"simulator answered {response.status_code}: {_error_detail(response)}")
    return response.json()


def _error_detail(response: httpx.Response) -> str:
    """The reason in one line: the server's envelope says "error", a standalone simulator
    (plain FastAPI) says "detail"; anything else is shown as it came."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    reason = (body.get("error") or body.get("detail")) if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else response.text


@simulate_app.command("mo")
def simulate_mo(
    sender: Annotated[str, typer.Option("--from", help="The handset's MSISDN")],
    to: Annotated[str, typer.Option("--to", help="The short code or number it texts")],
    text: Annotated[str, typer.Option("--text", help="The message")],
    data_dir: DataDir = None,
) -> None:
    """Make the running server's simulated carrier deliver an inbound (MO) message."""
    from jumbe.simulators.control import handset_number

    try:
        number = handset_number(sender)
    except ValueError as exc:
        _fail(f"--from: {exc}")
    _simulator_call(data_dir, "POST", "mo", {"from": number, "to": to, "text": text})
    typer.echo(f"MO from {number} to {to} handed to the simulated carrier")


@simulate_app.command("mpesa")
def simulate_mpesa(
    outcome: Annotated[
        str,
        typer.Option(
            "--next",
            help="How the next STK push ends: success, cancel (1032), timeout (1037),"
            " or silent (paid, but no callback: only the query finds out)",
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Choose how the running server's M-Pesa simulator answers the next STK push."""
    from jumbe.simulators.mpesa import Outcome

    if outcome not in {o.value for o in Outcome}:
        _fail("--next must be success, cancel, timeout or silent")
    answer = _simulator_call(data_dir, "POST", "mpesa/next", {"outcome": outcome})
    typer.echo(f"next STK push outcomes, in order: {', '.join(answer['next'])}")


@simulate_app.command("device")
def simulate_device(
    msisdn: Annotated[
        str, typer.Argument(help="The SIM's number, 300000003036 or 254300000003036")
    ],
    offline: Annotated[bool, typer.Option("--offline", help="Switch the device off")] = False,
    online: Annotated[
        bool, typer.Option("--online", help="Bring it back: held messages go out")
    ] = False,
    for_seconds: Annotated[
        float | None,
        typer.Option("--for", help="With --offline: seconds until it comes back by itself"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Take a device offline (its messages wait in the simulated carrier) or bring it back."""
    from jumbe.simulators.devices import device_number

    if offline == online:
        _fail("give exactly one of --offline and --online")
    if for_seconds is not None and (online or not 0 < for_seconds < float("inf")):
        _fail("--for takes a number of seconds above 0, and goes with --offline")
    try:
        number = device_number(msisdn)
    except ValueError as exc:
        _fail(f"bad device number: {exc}")
    body: dict[str, Any] = {"online": online}
    if for_seconds is not None:
        body["for_seconds"] = for_seconds
    answer = _simulator_call(data_dir, "PUT", f"devices/{number}", body)
    if online:
        typer.echo(f"{number} is online; {answer['released']} held message(s) released")
        return
    until = "until brought back with --online"
    if answer["back_at"]:
        back = datetime.fromisoformat(answer["back_at"]).astimezone(EAT)
        until = f"until {back:%Y-%m-%d %H:%M:%S} (Kenyan time)"
    typer.echo(f"{number} is offline {until}; {answer['held']} message(s) held for it")


@simulate_app.command("carrier")
def simulate_carrier(
    port: Annotated[int, typer.Option(help="SMPP port to listen on")] = 2779,
    control_port: Annotated[int, typer.Option(help="HTTP control port")] = 2780,
    system_id: Annotated[str, typer.Option(help="system_id clients must bind with")] = "jumbe",
    password: Annotated[str, typer.Option(help="password clients must bind with")] = "secret",
    receipt_delay: Annotated[float, typer.Option(help="Seconds until each receipt")] = 1.0,
    token: Annotated[str, typer.Option(help="X-Simulator-Token for the control API")] = "",
    submission_log: Annotated[
        Path | None, typer.Option(help="Append every submission as a JSON line here")
    ] = None,
    window: Annotated[int, typer.Option(help="Outstanding PDUs per session, each way")] = 10,
    journal: Annotated[
        Path | None,
        typer.Option(
            help="Keep owed receipts, MO and offline devices in this file across restarts"
        ),
    ] = None,
) -> None:
    """Run the carrier simulator alone, as a separate SMSC for benchmarks and crash tests."""
    from jumbe.simulators.carrier import CarrierBehaviour
    from jumbe.simulators.control import run_standalone

    asyncio.run(
        run_standalone(
            "127.0.0.1",
            port,
            "127.0.0.1",
            control_port,
            system_id,
            password,
            CarrierBehaviour(receipt_delay=receipt_delay),
            token,
            submission_log,
            window,
            journal,
        )
    )


def _server_url(settings: Settings, *, public: bool = True) -> str:
    """Where this data dir's server answers: JUMBE_PUBLIC_URL (for links people open),
    else the URL the running server wrote, else the configured listener."""
    from jumbe.app import SERVER_URL_FILE

    if public and settings.public_url:
        return settings.public_url
    written = settings.data_dir / SERVER_URL_FILE
    return written.read_text().strip() if written.exists() else settings.listener_url


@mail_app.command("list")
def mail_list(
    to: Annotated[str | None, typer.Option(help="Only mail to this address")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    data_dir: DataDir = None,
) -> None:
    """Mail, newest first: id, when, status, recipient, subject."""
    found = _with_services(_settings(data_dir), lambda s: s.mail.list_mail(limit=limit, to=to))
    if not found:
        typer.echo("no mail")
    for m in found:
        when = m.created_at.astimezone(EAT).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{m.id:>6}  {when}  {m.status:<7}  {m.to}  {m.subject}")


@mail_app.command("show")
def mail_show(
    mail_id: Annotated[int, typer.Argument(help="The id from `jumbe mail list`")],
    data_dir: DataDir = None,
) -> None:
    """One mail with its body (dropped once sent over SMTP: it holds a live link)."""
    m = _with_services(_settings(data_dir), lambda s: s.mail.show(mail_id))
    when = m.created_at.astimezone(EAT).strftime("%Y-%m-%d %H:%M:%S %Z")
    typer.echo(f"To: {m.to}\nSubject: {m.subject}\nDate: {when}\nStatus: {m.status}")
    if m.attempts:
        typer.echo(
            f"Attempts: {m.attempts}" + (f" (last error: {m.last_error})" if m.last_error else "")
        )
    typer.echo("")
    typer.echo(m.body if m.body else "(body dropped after it was sent)")


@staff_app.command("create")
def staff_create(
    email: Annotated[str, typer.Argument(help="Their email: what they sign in with")],
    name: Annotated[str, typer.Option(help="Their name")] = "",
    data_dir: DataDir = None,
) -> None:
    """Make someone staff; prints the link where they set their password (shown only now)."""
    member, link = _with_services(_settings(data_dir), lambda s: s.staff.create(email, name))
    typer.echo(f"staff {member.email} created. Their set-password link (72 hours, works once):")
    typer.echo(link)


@staff_app.command("reset")
def staff_reset(email: str, data_dir: DataDir = None) -> None:
    """A new set-password link for a member of staff (a forgotten password)."""
    typer.echo(_with_services(_settings(data_dir), lambda s: s.staff.password_link(email)))


@staff_app.command("list")
def staff_list(data_dir: DataDir = None) -> None:
    """Every member of staff."""
    found = _with_services(_settings(data_dir), lambda s: s.staff.list_staff())
    if not found:
        typer.echo("no staff")
    for m in found:
        password = "" if m.has_password else "  (password not set yet)"
        typer.echo(f"{m.email}  {m.status}  {m.name}{password}")


@staff_app.command("disable")
def staff_disable(email: str, data_dir: DataDir = None) -> None:
    """Disable a member of staff: their sessions end at once."""
    _with_services(_settings(data_dir), lambda s: s.staff.set_status(email, "disabled"))
    typer.echo(f"staff {email} disabled")


@staff_app.command("enable")
def staff_enable(email: str, data_dir: DataDir = None) -> None:
    """Let a disabled member of staff sign in again."""
    _with_services(_settings(data_dir), lambda s: s.staff.set_status(email, "active"))
    typer.echo(f"staff {email} enabled")


AccountRef = Annotated[str, typer.Argument(help="Account id, team code, number or name")]


@senders_app.command("create")
def senders_create(
    account: AccountRef,
    name: Annotated[str, typer.Argument(help="Up to 11 letters, digits, spaces, dots, dashes")],
    carrier: Annotated[
        str, typer.Option(help="The carrier it is approved on (safaricom, airtel, ...; * for all)")
    ],
    campaign_type: Annotated[
        str, typer.Option("--type", help="PROMOTIONAL or TRANSACTIONAL")
    ] = "TRANSACTIONAL",
    data_dir: DataDir = None,
) -> None:
    """Register a sender ID on a carrier, approved at once (no application)."""

    async def create(s: Any) -> Any:
        account_id = await s.accounts.find_account(account)
        return await s.senders.create(account_id, name, carrier, campaign_type)

    made = _with_services(_settings(data_dir), create)
    typer.echo(f"sender ID {made.name!r} approved on {made.carrier}: {made.uuid}")


@senders_app.command("list")
def senders_list(
    account: Annotated[str | None, typer.Argument(help="Only this account's")] = None,
    data_dir: DataDir = None,
) -> None:
    """Registrations: uuid, account, name, carrier, campaign type, status (* the default)."""

    async def listed(s: Any) -> Any:
        account_id = await s.accounts.find_account(account) if account else None
        return await s.senders.registrations(account_id)

    found = _with_services(_settings(data_dir), listed)
    if not found:
        typer.echo("no sender IDs")
    for r in found:
        default = " (default)" if r.is_default else ""
        typer.echo(
            f"{r.uuid}  account {r.account_id:<5} {r.name:<11}  {r.carrier:<10}"
            f" {r.campaign_type:<13} {r.status}{default}"
        )


@senders_app.command("default")
def senders_default(
    account: AccountRef,
    sender: Annotated[str, typer.Argument(help="An approved name, or a registration's uuid")],
    data_dir: DataDir = None,
) -> None:
    """Set the team's default sender ID (used when a send names none)."""

    async def set_default(s: Any) -> Any:
        account_id = await s.accounts.find_account(account)
        return await s.senders.set_default_for_operator(account_id, sender)

    chosen = _with_services(_settings(data_dir), set_default)
    typer.echo(f"default sender ID: {chosen.name}")


@senders_app.command("applications")
def senders_applications(
    status: Annotated[str | None, typer.Option(help="PENDING, PROVIDER, ...")] = None,
    data_dir: DataDir = None,
) -> None:
    """Applications of every account, newest first (the latest 100)."""
    found, total = _with_services(
        _settings(data_dir), lambda s: s.senders.applications(None, status=status, page_size=100)
    )
    if not found:
        typer.echo("no applications")
    for a in found:
        typer.echo(
            f"{a.uuid}  {a.status:<9} {a.name:<11} {a.carrier:<10} {a.campaign_type:<13}"
            f" {a.account_name}"
        )
    if total > len(found):
        typer.echo(f"... and {total - len(found)} more")


@senders_app.command("review")
def senders_review(
    application: Annotated[str, typer.Argument(help="The application's id (uuid)")],
    to: Annotated[str, typer.Option("--to", help="PROVIDER, APPROVED or REJECTED")],
    reason: Annotated[str | None, typer.Option(help="Why (required to reject)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Move an application: PENDING -> PROVIDER -> APPROVED or REJECTED."""
    from jumbe.services.senders import OPERATOR

    moved = _with_services(
        _settings(data_dir), lambda s: s.senders.review(OPERATOR, application, to, reason)
    )
    typer.echo(f"application {moved.uuid} ({moved.name} on {moved.carrier}) is {moved.status}")
    if moved.registration_uuid:
        typer.echo(f"sender ID registered: {moved.registration_uuid}")


@packages_app.command("add")
def packages_add(
    carrier: Annotated[str, typer.Argument(help="The carrier, e.g. safaricom")],
    name: Annotated[str, typer.Argument(help="A name, unique on the carrier")],
    rate: Annotated[str, typer.Option(help="KES per unit, e.g. 0.80")],
    min_units: Annotated[int, typer.Option(help="The fewest units one top-up may buy")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Add a package: a rate in KES per SMS unit on one carrier."""
    made = _with_services(
        _settings(data_dir),
        lambda s: s.pricing.create_package(None, carrier, name, rate, min_units=min_units),
    )
    _show_package(made)


@packages_app.command("set")
def packages_set(
    package: Annotated[str, typer.Argument(help="The package's uuid, or carrier/name")],
    rate: Annotated[str | None, typer.Option(help="A new KES rate per unit")] = None,
    min_units: Annotated[int | None, typer.Option(help="A new minimum per top-up")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Offer it or withdraw it")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Change a package; top-ups already made keep the rate they were made at."""

    async def change_found(s: Any) -> Any:
        found = await s.pricing.find_package(package)
        return await s.pricing.change_package(
            None, found.uuid, rate_kes=rate, min_units=min_units, active=active
        )

    _show_package(_with_services(_settings(data_dir), change_found))


@packages_app.command("list")
def packages_list(
    carrier: Annotated[str | None, typer.Option(help="Only this carrier's")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Withdrawn ones too")] = False,
    data_dir: DataDir = None,
) -> None:
    """Packages, by carrier."""
    found = _with_services(
        _settings(data_dir),
        lambda s: s.pricing.list_packages(carrier=carrier, active_only=not everything),
    )
    if not found:
        typer.echo("no packages")
    for p in found:
        _show_package(p)


def _show_package(p: Any) -> None:
    state = "" if p.active else "  (withdrawn)"
    typer.echo(
        f"{p.uuid}  {p.carrier}/{p.name}  KES {format_kes(p.rate_cents)} per unit,"
        f" at least {p.min_units} units{state}"
    )


@topups_app.command("list")
def topups_list(
    status: Annotated[
        str | None, typer.Option(help="pending (what waits for a decision), completed, failed")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    data_dir: DataDir = None,
) -> None:
    """Every account's top-ups, newest first."""
    found, total = _with_services(
        _settings(data_dir),
        lambda s: s.topups.list_for_staff(None, status=status, page_size=limit),
    )
    if not found:
        typer.echo("no top-ups")
    for t in found:
        when = t.created_at.astimezone(EAT).strftime("%Y-%m-%d %H:%M")
        paid_by = t.reference if t.method == "offline" else t.phone
        typer.echo(
            f"{t.uuid}  {when}  {t.status.upper():<9}  account {t.account_id}  {t.units} units"
            f"  KES {format_kes(t.amount_cents)}  {t.method} {paid_by}  {t.detail}"
        )
    if total > len(found):
        typer.echo(f"({total - len(found)} more)")


@topups_app.command("approve")
def topups_approve(
    topup: Annotated[str, typer.Argument(help="The top-up's id (uuid)")],
    data_dir: DataDir = None,
) -> None:
    """Approve an offline top-up once its bank transfer has arrived: its units are credited."""
    done = _with_services(_settings(data_dir), lambda s: s.topups.review(None, topup, approve=True))
    typer.echo(f"top-up {done.uuid} {done.status.upper()}: {done.units} units credited")


@topups_app.command("reject")
def topups_reject(
    topup: Annotated[str, typer.Argument(help="The top-up's id (uuid)")],
    reason: Annotated[str, typer.Option(help="Why, shown to the customer")],
    data_dir: DataDir = None,
) -> None:
    """Reject an offline top-up (no transfer came, a wrong amount, ...)."""
    done = _with_services(
        _settings(data_dir), lambda s: s.topups.review(None, topup, approve=False, reason=reason)
    )
    typer.echo(f"top-up {done.uuid} {done.status.upper()}: {done.detail}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
