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
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    log_level: str = "INFO"

    # messaging
    validity_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    max_parts: int = Field(default=10, ge=1, le=255)
    dispatch_batch: int = Field(default=500, ge=1)
    dispatch_poll_interval: float = Field(default=1.0, gt=0)
    sweep_interval: float = Field(default=5.0, gt=0)
    receipt_grace_hours: float = Field(default=1.0, ge=0)
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

    # the IMSI / SIM-swap check
    imsi_price_kes: Decimal = Field(default=Decimal("20"), ge=0, decimal_places=2)
    imsi_checks_per_minute: int = Field(default=60, ge=1)
    imsi_hash_secret: str = Field(default="", repr=False)

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

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'jumbe.db').resolve()}"
        if self.upstream_smpp:
            SmppEndpoint.parse(self.upstream_smpp)  # fail fast on a typo
        if (self.smpp_tls_cert is None) != (self.smpp_tls_key is None):
            raise ValueError("SMPP over TLS needs both JUMBE_SMPP_TLS_CERT and JUMBE_SMPP_TLS_KEY")
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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


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
