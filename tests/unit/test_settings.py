"""Settings: environment over TOML over defaults; connectors and routes from TOML."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jumbe.settings import SmppEndpoint, load_settings

TOML = """
http_port = 9000
log_level = "DEBUG"

[[connectors]]
name = "safaricom"
url = "smpp://sfc:s3cr%40t@10.0.0.5:2775"
tps = 50
window = 20

[[connectors]]
name = "airtel"
url = "smpps://atl:pw@10.0.0.6"

[routes]
safaricom = "safaricom"
airtel = ["airtel", "safaricom"]

[simulator]
receipt_delay = 0.5
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("JUMBE_"):
            monkeypatch.delenv(name)


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert (s.http_host, s.http_port, s.smpp_port) == ("127.0.0.1", 8000, 2775)
    assert s.database_url == f"sqlite:///{(tmp_path / 'jumbe.db').resolve()}"
    assert s.uses_simulator and s.all_connectors == []


def test_toml_file_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "jumbe.toml").write_text(TOML)
    s = load_settings(data_dir=tmp_path)
    assert (s.http_port, s.log_level, s.simulator.receipt_delay) == (9000, "DEBUG", 0.5)
    assert [c.name for c in s.all_connectors] == ["safaricom", "airtel"]
    assert s.routes == {"safaricom": ["safaricom"], "airtel": ["airtel", "safaricom"]}
    sfc = s.all_connectors[0].endpoint
    assert (sfc.host, sfc.port, sfc.system_id, sfc.password, sfc.tls) == (
        "10.0.0.5",
        2775,
        "sfc",
        "s3cr@t",
        False,
    )
    assert s.all_connectors[1].endpoint.tls and s.all_connectors[1].endpoint.port == 2775
    assert not s.uses_simulator
    assert "s3cr" not in repr(sfc)


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jumbe.toml").write_text(TOML)
    monkeypatch.setenv("JUMBE_HTTP_PORT", "9100")
    monkeypatch.setenv("JUMBE_SIMULATOR__RECEIPT_DELAY", "2.5")
    monkeypatch.setenv("JUMBE_SIMULATOR__UNDELIVERABLE_SUFFIXES", '["99", "98"]')
    (tmp_path / "jumbe.toml").write_text(TOML + "failure_ratio = 0.25\n")
    s = load_settings(data_dir=tmp_path)
    assert s.http_port == 9100 and s.simulator.receipt_delay == 2.5
    assert s.simulator.undeliverable_suffixes == ["99", "98"]
    assert s.simulator.failure_ratio == 0.25  # the file's other nested values stay
    assert s.log_level == "DEBUG"


def test_config_file_named_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("http_port = 9200\n")
    monkeypatch.setenv("JUMBE_CONFIG", str(path))
    assert load_settings(data_dir=tmp_path / "d").http_port == 9200
    monkeypatch.setenv("JUMBE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError):
        load_settings(data_dir=tmp_path)


def test_upstream_smpp_is_one_default_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUMBE_UPSTREAM_SMPP", "smpp://id:pw@10.1.1.1:2775")
    s = load_settings(data_dir=tmp_path)
    assert [c.name for c in s.all_connectors] == ["upstream"] and not s.uses_simulator


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[routes]\nsafaricom = "nowhere"\n', "unknown connector"),
        ('[[connectors]]\nname = "x"\nurl = "http://a:b@h"\n', "smpp://"),
        ('[[connectors]]\nname = "x"\nurl = "smpp://h"\ntps = 0\n', "greater than 0"),
    ],
)
def test_mistakes_are_reported(tmp_path: Path, toml: str, words: str) -> None:
    (tmp_path / "jumbe.toml").write_text(toml)
    with pytest.raises((ValidationError, ValueError)) as raised:
        load_settings(data_dir=tmp_path)
    assert words in str(raised.value)


def test_endpoint_needs_a_system_id() -> None:
    with pytest.raises(ValueError, match="system_id@host"):
        SmppEndpoint.parse("smpp://10.0.0.5:2775")


def test_trusted_proxies_from_the_environment_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(data_dir=tmp_path).trusted_proxies == ()
    monkeypatch.setenv("JUMBE_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16 fd00::/8")
    monkeypatch.setenv("JUMBE_FORWARDED_HEADER", "X-Real-IP")
    s = load_settings(data_dir=tmp_path)
    assert [str(n) for n in s.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16", "fd00::/8"]
    assert s.forwarded_header == "x-real-ip"
    monkeypatch.delenv("JUMBE_TRUSTED_PROXIES")
    monkeypatch.delenv("JUMBE_FORWARDED_HEADER")
    (tmp_path / "jumbe.toml").write_text('trusted_proxies = ["192.168.0.0/24"]\n')
    assert [str(n) for n in load_settings(data_dir=tmp_path).trusted_proxies] == ["192.168.0.0/24"]
    for name, value in (("TRUSTED_PROXIES", "10.0.0.300"), ("FORWARDED_HEADER", "X-Client")):
        monkeypatch.setenv(f"JUMBE_{name}", value)
        with pytest.raises(ValidationError):
            load_settings(data_dir=tmp_path)
        monkeypatch.delenv(f"JUMBE_{name}")


def test_smtp_urls_and_the_public_url(tmp_path: Path) -> None:
    plain = load_settings(data_dir=tmp_path, smtp_url="smtp://jumbe:p%40ss%3Aword@mail.example.com")
    assert plain.smtp is not None
    assert (plain.smtp.host, plain.smtp.port, plain.smtp.tls) == ("mail.example.com", 587, False)
    assert (plain.smtp.username, plain.smtp.password) == ("jumbe", "p@ss:word")
    assert "p@ss" not in repr(plain.smtp) and "p@ss" not in repr(plain)
    implicit = load_settings(data_dir=tmp_path, smtp_url="smtps://mail.example.com").smtp
    assert implicit is not None and (implicit.port, implicit.tls, implicit.username) == (
        465,
        True,
        None,
    )
    assert load_settings(data_dir=tmp_path).smtp is None
    with pytest.raises(ValidationError, match="JUMBE_SMTP_URL looks like"):
        load_settings(data_dir=tmp_path, smtp_url="mail.example.com:25")
    with pytest.raises(ValidationError, match="JUMBE_PUBLIC_URL must start with"):
        load_settings(data_dir=tmp_path, public_url="sms.example.co.ke")
    assert load_settings(data_dir=tmp_path, http_host="0.0.0.0").listener_url == (
        "http://127.0.0.1:8000"
    )
