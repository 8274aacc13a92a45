"""smpplib, as shipped, cuts passwords to SMPP 3.4's 8 octets; Jumbe's passwords are API
tokens, far longer (the Mobile Sasa SMPP guide asks servers to accept them). Integrators
using smpplib raise the limit the same way; so do these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import smpplib.command


@pytest.fixture(autouse=True)
def long_passwords() -> Iterator[None]:
    params = smpplib.command.BindTransmitter.params  # shared by all three bind classes
    original = params["password"]
    params["password"] = smpplib.command.Param(type=str, max=65)
    yield
    params["password"] = original
