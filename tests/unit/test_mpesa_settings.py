"""JUMBE_MPESA_*: Daraja when a base URL is given (with its credentials), else the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jumbe.settings import load_settings


def test_the_simulator_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path)
    assert settings.uses_mpesa_simulator and settings.mpesa_shortcode == "174379"


def test_daraja_needs_its_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUMBE_MPESA_BASE_URL", "https://sandbox.safaricom.co.ke")
    monkeypatch.setenv("JUMBE_MPESA_CONSUMER_KEY", "key")
    with pytest.raises(ValidationError, match="JUMBE_MPESA_CONSUMER_SECRET, JUMBE_MPESA_PASSKEY"):
        load_settings(data_dir=tmp_path)
    monkeypatch.setenv("JUMBE_MPESA_CONSUMER_SECRET", "secret")
    monkeypatch.setenv("JUMBE_MPESA_PASSKEY", "passkey")
    settings = load_settings(data_dir=tmp_path)
    assert not settings.uses_mpesa_simulator
    assert "secret" not in repr(settings) and "passkey" not in repr(settings)
    monkeypatch.setenv("JUMBE_MPESA_CALLBACK_URL", "sms.example.co.ke")
    with pytest.raises(ValidationError, match="JUMBE_MPESA_CALLBACK_URL must start with"):
        load_settings(data_dir=tmp_path)
    monkeypatch.setenv("JUMBE_MPESA_BASE_URL", "sandbox.safaricom.co.ke")
    with pytest.raises(ValidationError, match="JUMBE_MPESA_BASE_URL must start with"):
        load_settings(data_dir=tmp_path)
