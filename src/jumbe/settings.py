"""Settings from environment variables (prefix ``JUMBE_``) and an optional TOML file.

Precedence, highest first: environment, the TOML file named by ``JUMBE_CONFIG``
(default ``<data dir>/jumbe.toml`` when it exists), the defaults below. Every
setting is listed with its default in the README; keep the two in step.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jumbe.core.client_address import HEADERS, IPNetwork, parse_networks


class ConnectorSettings(BaseModel):
    """One upstream SMPP link to a carrier SMSC."""

    name: str
    url: str = Field(description="smpp://system_id:password@host:port (smpps:// for TLS)")
    system_type: str = ""
    tps: float = Field(default=100.0, gt=0, description="submit_sm per second, all binds")
    window: int = Field(default=10, ge=1, le=1000)
    binds: int = Field(default=1, ge=1, le=32, description="parallel transceiver binds")
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0

    @field_validator("url")
    @classmethod
    def _parseable(cls, value: str) -> str:
        SmppEndpoint.parse(value)
        return value

    @property
    def endpoint(self) -> SmppEndpoint:
        return SmppEndpoint.parse(self.url)


class SmppEndpoint(BaseModel):
    """An ``smpp://`` URL taken apart; the password never appears in ``repr``."""

    host: str
    port: int
    system_id: str
    password: str = Field(repr=False)
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmppEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("smpp", "smpps"):
            raise ValueError(f"connector URL must start with smpp:// or smpps://, got {url!r}")
        if not parts.hostname or not parts.username:
            raise ValueError(
                "connector URL needs system_id@host, e.g. smpp://id:secret@10.0.0.5:2775"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or 2775,
            system_id=unquote(parts.username),
            password=unquote(parts.password or ""),
            tls=parts.scheme == "smpps",
        )


class SmtpEndpoint(BaseModel):
    """An ``smtp://`` URL taken apart; the password never appears in ``repr``.

    ``smtp://`` connects in the clear and upgrades with STARTTLS when the server
    offers it; ``smtps://`` is TLS from the first byte (implicit TLS, port 465).
    """

    host: str
    port: int
    username: str | None
    password: str | None = Field(repr=False)
    tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "JUMBE_SMTP_URL looks like smtp://user:password@host:587"
                " (smtps:// for implicit TLS)"
            )
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=tls,
        )


class SimulatorSettings(BaseModel):
    """The embedded carrier that stands in for real SMSCs on a fresh machine."""

    receipt_delay: float = 1.0
    undeliverable_suffixes: list[str] = Field(default_factory=list)
    failure_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    max_tps: float | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JUMBE_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Path("./var")
    database_url: str = ""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_tls_port: int = 2776
    smpp_tls_cert: Path | None = None
    smpp_tls_key: Path | None = None
    smpp_max_sessions: int = Field(default=5, ge=1)
    smpp_session_tps: float = Field(default=50.0, gt=0)
    smpp_idle_timeout: float = Field(default=60.0, gt=0)
    smpp_window: int = Field(default=10, ge=1, le=1000)
    simulator_port: int = 2779
    upstream_smpp: str = ""
    node_id: str = Field(default_factory=lambda: os.uname().nodename)
    # a cluster's nodes beat this often; one silent for node_dead_after seconds is dead
    # and the live nodes take over its leases
    node_heartbeat: float = Field(default=2.0, gt=0)
    node_dead_after: float = Field(default=10.0, gt=0)
    log_level: str = "INFO"

    # messaging
    validity_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    max_parts: int = Field(default=10, ge=1, le=255)
    dispatch_batch: int = Field(default=500, ge=1)
    dispatch_poll_interval: float = Field(default=1.0, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    receipt_grace_hours: float = Field(default=1.0, ge=0)
    # a part sent this many seconds without a receipt is asked about with query_sm
    receipt_query_after: float = Field(default=600.0, gt=0)
    receipt_queries_per_second: float = Field(default=5.0, gt=0)  # per node, every connector
    demo_units: int = Field(default=1000, ge=0)

    # IoT SIMs' messages (device messaging)
    device_validity_hours: float = Field(default=72.0, gt=0, le=24 * 14)
    sim_queue_limit: int = Field(default=60, ge=1)
    sim_carrier: str = "safaricom"

    # webhooks
    webhook_timeout: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_concurrency: int = Field(default=20, ge=1, le=1000)  # per receiver
    webhook_retry_base: float = Field(default=10.0, gt=0)  # first retry; doubles up to an hour
    callbacks_allow_private: bool = False  # loopback, private, link-local targets

    # security
    auth_failures_per_minute: int = Field(default=30, ge=1)
    # a token found valid is believed this long before the database is asked again: on
    # a cluster, how long a token revoked on one node still works on the others
    token_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    http_max_body: int = Field(default=64 * 1024, ge=1024)  # bytes, every route but uploads
    http_max_upload: int = Field(default=256 * 1024 * 1024, ge=1024)  # bytes, CSV imports
    http_header_timeout: float = Field(default=10.0, gt=0)  # seconds for a request's head
    http_body_timeout: float = Field(default=30.0, gt=0)  # for a body; an upload's longest pause
    # reverse proxies whose forwarded header is believed (addresses or CIDR ranges);
    # in the environment a comma-separated list: JUMBE_TRUSTED_PROXIES=10.0.0.5,10.1.0.0/16
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    forwarded_header: Literal["x-forwarded-for", "forwarded", "x-real-ip"] = "x-forwarded-for"

    # sign-up, sign-in and mail
    # where the links in mail point: the URL people reach this server at
    # (default: the HTTP listener's own URL)
    public_url: str = ""
    # mail goes out over SMTP when set, else stays in the local outbox (jumbe mail list)
    smtp_url: str = Field(default="", repr=False)
    mail_from: str = "Jumbe <no-reply@jumbe.invalid>"
    session_minutes: float = Field(default=15.0, gt=0, le=24 * 60)  # a sign-in JWT's lifetime

    # the IMSI / SIM-swap check
    imsi_price_kes: Decimal = Field(default=Decimal("20"), ge=0, decimal_places=2)
    imsi_checks_per_minute: int = Field(default=60, ge=1)
    imsi_hash_secret: str = Field(default="", repr=False)

    # M-Pesa Express (STK push) for top-ups: Daraja when JUMBE_MPESA_BASE_URL is set
    # (e.g. https://api.safaricom.co.ke), else the embedded simulator
    mpesa_base_url: str = ""
    mpesa_consumer_key: str = Field(default="", repr=False)
    mpesa_consumer_secret: str = Field(default="", repr=False)
    mpesa_shortcode: str = "174379"
    mpesa_passkey: str = Field(default="", repr=False)
    # the public base URL M-Pesa calls back at (default: JUMBE_PUBLIC_URL, else the listener)
    mpesa_callback_url: str = ""
    mpesa_query_after: float = Field(default=90.0, gt=0)  # seconds without a callback
    mpesa_query_every: float = Field(default=30.0, gt=0)  # between two queries of one payment
    mpesa_give_up_after: float = Field(default=600.0, gt=0)  # still unconfirmed: failed
    mpesa_worker_interval: float = Field(default=2.0, gt=0)
    mpesa_simulator_delay: float = Field(default=2.0, ge=0)  # the simulated customer's answer

    # contacts: imports and opt-outs
    # an XLSX upload whose parts unpack to more than this is refused (a "zip bomb")
    contacts_max_unpacked: int = Field(default=1024 * 1024 * 1024, ge=1024 * 1024)
    # an MO message that is one of these words opts its sender out of the account's
    # promotional traffic; one of ``optin_keywords`` opts back in (any case)
    optout_keywords: Annotated[tuple[str, ...], NoDecode] = ("STOP", "STOPALL", "UNSUBSCRIBE")
    optin_keywords: Annotated[tuple[str, ...], NoDecode] = ("START", "UNSTOP", "SUBSCRIBE")

    # carriers and routes (TOML only for lists and tables)
    connectors: list[ConnectorSettings] = Field(default_factory=list)
    routes: dict[str, list[str]] = Field(default_factory=dict)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)

    @field_validator("routes", mode="before")
    @classmethod
    def _route_lists(cls, value: Any) -> Any:
        """A route may name one connector or a failover list of them."""
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("optout_keywords", "optin_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> Any:
        """A comma- or space-separated string (the environment) or a list (TOML), upper-cased."""
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        return tuple(str(item).strip().upper() for item in items if str(item).strip())

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        """A comma- or space-separated string (the environment) or a list (TOML)."""
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        try:
            return parse_networks(str(item) for item in items)
        except ValueError as exc:
            raise ValueError(f"JUMBE_TRUSTED_PROXIES: {exc}") from None

    @field_validator("forwarded_header", mode="before")
    @classmethod
    def _header_name(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in HEADERS:
            return value.strip().lower()
        return value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'jumbe.db').resolve()}"
        if self.upstream_smpp:
            SmppEndpoint.parse(self.upstream_smpp)  # fail fast on a typo
        if self.smtp_url:
            SmtpEndpoint.parse(self.smtp_url)
        if self.public_url and urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ValueError("JUMBE_PUBLIC_URL must start with http:// or https://")
        if self.mpesa_base_url:
            if urlsplit(self.mpesa_base_url).scheme not in ("http", "https"):
                raise ValueError("JUMBE_MPESA_BASE_URL must start with http:// or https://")
            missing = [
                name
                for name in ("consumer_key", "consumer_secret", "passkey")
                if not getattr(self, f"mpesa_{name}")
            ]
            if missing:
                raise ValueError(
                    "JUMBE_MPESA_BASE_URL needs "
                    + ", ".join(f"JUMBE_MPESA_{m.upper()}" for m in missing)
                )
        if self.mpesa_callback_url and urlsplit(self.mpesa_callback_url).scheme not in (
            "http",
            "https",
        ):
            raise ValueError("JUMBE_MPESA_CALLBACK_URL must start with http:// or https://")
        if (self.smpp_tls_cert is None) != (self.smpp_tls_key is None):
            raise ValueError("SMPP over TLS needs both JUMBE_SMPP_TLS_CERT and JUMBE_SMPP_TLS_KEY")
        if self.node_dead_after < 2 * self.node_heartbeat:
            raise ValueError(
                "JUMBE_NODE_DEAD_AFTER must be at least twice JUMBE_NODE_HEARTBEAT,"
                " or a live node that misses one beat is taken for dead"
            )
        names = {c.name for c in self.all_connectors}
        for carrier, targets in self.routes.items():
            missing = [t for t in targets if t not in names]
            if missing:
                raise ValueError(f"route {carrier!r} names unknown connector(s) {missing}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the TOML file; nested tables merge."""
        path = _CONFIG_FILE.get()
        if path is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path)

    @property
    def all_connectors(self) -> list[ConnectorSettings]:
        """Configured connectors, with JUMBE_UPSTREAM_SMPP as the connector named 'upstream'."""
        extra = []
        if self.upstream_smpp and not any(c.name == "upstream" for c in self.connectors):
            extra.append(ConnectorSettings(name="upstream", url=self.upstream_smpp))
        return [*self.connectors, *extra]

    @property
    def uses_simulator(self) -> bool:
        """Without real carrier connectors the embedded simulator plays every carrier."""
        return not self.all_connectors

    @property
    def uses_mpesa_simulator(self) -> bool:
        """Without a Daraja endpoint, top-ups are paid to the embedded M-Pesa simulator."""
        return not self.mpesa_base_url

    @property
    def smtp(self) -> SmtpEndpoint | None:
        """Where mail goes; None: into the local outbox only."""
        return SmtpEndpoint.parse(self.smtp_url) if self.smtp_url else None

    @property
    def listener_url(self) -> str:
        """The HTTP listener's URL as configured (the running server knows its real port)."""
        return local_http_url(self.http_host, self.http_port)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def local_http_url(host: str, port: int) -> str:
    """The URL this machine reaches a listener at, whichever addresses it listens on."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def cannot_listen(exc: OSError, host: str, port: int, setting: str) -> OSError:
    """A listener that could not start, saying which setting moves it (a port in use)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio words it at length
    return OSError(f"cannot listen on {host}:{port}: {reason} (set {setting} to another port)")


_CONFIG_FILE: ContextVar[Path | None] = ContextVar("jumbe_config_file", default=None)


def load_settings(**overrides: Any) -> Settings:
    """Build settings; ``overrides`` win over everything (used by tests and the CLI)."""
    named = os.environ.get("JUMBE_CONFIG")
    data_dir = Path(overrides.get("data_dir") or os.environ.get("JUMBE_DATA_DIR") or "./var")
    path = Path(named) if named else data_dir / "jumbe.toml"
    if named and not path.is_file():
        raise FileNotFoundError(f"JUMBE_CONFIG names {path}, which does not exist")
    token = _CONFIG_FILE.set(path if path.is_file() else None)
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE.reset(token)
