"""The client address behind proxies: believed only from trusted ones, right-most untrusted hop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.core.client_address import client_address, counting_key, parse_networks

TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1", "fd00::/8"])


def resolve(peer: str, *values: str, header: str = "x-forwarded-for") -> str:
    return client_address(peer, list(values), header=header, trusted=TRUSTED)


@pytest.mark.parametrize(
    ("peer", "values", "expected"),
    [
        ("198.51.100.7", ["203.0.113.5"], "198.51.100.7"),  # untrusted peer: header ignored
        ("10.0.0.2", [], "10.0.0.2"),  # a trusted peer that forwards nothing
        ("10.0.0.2", ["203.0.113.5"], "203.0.113.5"),
        ("10.0.0.2", ["192.0.2.1, 203.0.113.5"], "203.0.113.5"),  # made-up left part
        ("10.0.0.2", ["203.0.113.5, 10.9.9.9"], "203.0.113.5"),  # two trusted proxies
        ("10.0.0.2", ["192.0.2.1", "203.0.113.5, 10.9.9.9"], "203.0.113.5"),  # two lines
        ("10.0.0.2", ["10.1.1.1, 10.2.2.2"], "10.1.1.1"),  # all trusted: the farthest
        ("10.0.0.2", ["203.0.113.5:4711"], "203.0.113.5"),
        ("10.0.0.2", ["[2001:db8::1]:80"], "2001:db8::1"),
        ("10.0.0.2", ["192.0.2.1, nonsense"], "10.0.0.2"),  # unreadable: last known hop
        ("::ffff:10.0.0.2", ["203.0.113.5"], "203.0.113.5"),  # IPv4-mapped peer
        ("fd00::1", ["::ffff:203.0.113.5"], "203.0.113.5"),
        ("unknown", ["203.0.113.5"], "unknown"),
    ],
)
def test_x_forwarded_for(peer: str, values: list[str], expected: str) -> None:
    assert resolve(peer, *values) == expected


def test_forwarded_and_x_real_ip() -> None:
    forwarded = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    assert resolve("10.0.0.2", forwarded, header="forwarded") == "2001:db8:cafe::17"
    assert resolve("10.0.0.2", "For=198.51.100.3", header="forwarded") == "198.51.100.3"
    assert resolve("10.0.0.2", "for=unknown", header="forwarded") == "10.0.0.2"
    assert resolve("10.0.0.2", "proto=https", header="forwarded") == "10.0.0.2"
    assert resolve("10.0.0.2", "203.0.113.5", header="x-real-ip") == "203.0.113.5"
    assert resolve("198.51.100.7", "203.0.113.5", header="x-real-ip") == "198.51.100.7"


def test_nothing_is_trusted_by_default() -> None:
    assert client_address("127.0.0.1", ["203.0.113.5"], header="x-forwarded-for", trusted=()) == (
        "127.0.0.1"
    )


@given(st.lists(st.text(max_size=40), max_size=5))
def test_an_untrusted_peer_is_never_replaced(values: list[str]) -> None:
    assert resolve("198.51.100.7", *values) == "198.51.100.7"


@given(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=6))
def test_what_the_client_prepends_never_matters(made_up: list[str]) -> None:
    real = ", ".join([*made_up, "203.0.113.5"])
    assert resolve("10.0.0.2", real) == "203.0.113.5"


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert counting_key("2001:db8:1:2:aaaa::1") == counting_key("2001:db8:1:2:bbbb::9")
    assert counting_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert counting_key("2001:db8:1:3::1") != counting_key("2001:db8:1:2::1")
    assert counting_key("203.0.113.5") == "203.0.113.5"
    assert counting_key("unknown") == "unknown"


def test_parse_networks() -> None:
    assert [str(n) for n in parse_networks(["10.0.0.7", " 10.1.2.3/16 ", "", "::1"])] == [
        "10.0.0.7/32",
        "10.1.0.0/16",
        "::1/128",
    ]
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.300"])
