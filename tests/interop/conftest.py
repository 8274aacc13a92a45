"""smpplib, as shipped, cuts passwords to SMPP 3.4's 8 octets; API tokens are far longer
(the Mobile Sasa SMPP guide asks servers to accept them). Integrators binding with a token
through smpplib raise the limit the same way; so do these tests, except those marked
``stock_smpplib``, which bind with an unpatched smpplib (and the account's SMPP password)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import smpplib.command


@pytest.fixture(autouse=True)
def long_passwords(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("stock_smpplib") is not None:
        yield
        return
    params = smpplib.command.BindTransmitter.params  # shared by all three bind classes
    original = params["password"]
    params["password"] = smpplib.command.Param(type=str, max=65)
    yield
    params["password"] = original
