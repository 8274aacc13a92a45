"""The client's address behind reverse proxies, believed only from proxies the operator trusts.

Anyone can send ``X-Forwarded-For``; only a proxy the operator configured
(``JUMBE_TRUSTED_PROXIES``) is believed about the hop before it. The chain is
read from the right, the nearest hop first: the client is the right-most
address that is not a trusted proxy, since every hop to its right was written
by a trusted proxy and anything to its left may be made up by the client.

Only one header is read, the one the operator's proxy writes
(``JUMBE_FORWARDED_HEADER``): a proxy that appends to ``X-Forwarded-For``
passes a client's own ``Forwarded`` header on untouched, so reading both
would let the client choose its address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

IPNetwork = IPv4Network | IPv6Network
HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
IPV6_PREFIX = 64  # one subscriber's share of IPv6 space: counted as one address


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR ranges (``10.0.0.7``, ``10.1.0.0/16``, ``fd00::/8``)."""
    return tuple(ip_network(v.strip(), strict=False) for v in values if v.strip())


def client_address(
    peer: str, header_values: Sequence[str], *, header: str, trusted: Sequence[IPNetwork]
) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy."""
    address = _address(peer)
    if address is None or not _trusted(address, trusted):
        return peer
    for hop in reversed(_hops(header, header_values)):
        if hop is None:
            break  # unreadable: the trusted proxy that wrote it is the last hop known
        address = hop
        if not _trusted(hop, trusted):
            break
    return str(address)


def counting_key(address: str) -> str:
    """The address failures are counted under: an IPv6 client's whole /64 counts as one.

    An IPv6 subscriber is routinely given a /64 and can pick a new address in it
    for every request; counting per address would count nothing.
    """
    parsed = _address(address)
    if isinstance(parsed, IPv6Address):
        return str(IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed) if parsed is not None else address


def _hops(header: str, values: Sequence[str]) -> list[IPv4Address | IPv6Address | None]:
    """The header's addresses, left (farthest) to right (nearest); None for unreadable ones."""
    if header == "x-real-ip":
        return [_address(values[-1])] if values else []
    items = [item for value in values for item in value.split(",")]
    if header == "forwarded":
        return [_address(_forwarded_for(item)) for item in items]
    return [_address(item) for item in items]


def _forwarded_for(element: str) -> str:
    """The ``for=`` of one RFC 7239 element: ``for=192.0.2.60;proto=http``."""
    for pair in element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "for":
            return value
    return ""


def _address(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: bare, "quoted", with a port, or [IPv6]:port."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        found = ip_address(text)
    except ValueError:
        return None  # "unknown", an obfuscated "_name", garbage
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)
