"""Callback URL rules, as pure parsing: what a URL must look like and where it may point.

Callbacks are requests Jumbe makes on a customer's behalf, so a URL must not
turn Jumbe into a way into the operator's own network (SSRF): only http and
https to a host on the public internet, unless the operator allows private
targets (an on-premise install whose receivers live next to it). Resolving a
name to its addresses is I/O and lives in ``services.callback_urls``; this
module decides on a URL and on each address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

MAX_LENGTH = 2000
SCHEMES = {"http": 80, "https": 443}

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NAT64 = IPv6Network("64:ff9b::/96")  # an IPv6-only network's view of an IPv4 address
_NEVER = (IPv4Network("0.0.0.0/8"), IPv4Network("255.255.255.255/32"))

IPAddress = IPv4Address | IPv6Address


class InvalidCallbackUrl(ValueError):
    """The reason a callback URL is refused, in words for the API caller."""


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Where a callback URL points: ``address`` is set when the host is an IP literal."""

    scheme: str
    host: str  # lowercase; an IDN in its ASCII form; an IPv6 literal without brackets
    port: int
    address: IPAddress | None


def parse(url: str) -> CallbackTarget:
    """The target of ``url``; InvalidCallbackUrl, with the reason, if it is not a usable one."""
    if len(url) > MAX_LENGTH:
        raise InvalidCallbackUrl(f"callback_url must be at most {MAX_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidCallbackUrl("callback_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", a port that is not a number or too big
        raise InvalidCallbackUrl(f"callback_url is not a valid URL: {exc}") from exc
    default_port = SCHEMES.get(parts.scheme)
    if default_port is None:
        raise InvalidCallbackUrl("callback_url must be an http:// or https:// URL")
    if not parts.hostname:
        raise InvalidCallbackUrl("callback_url must name a host")
    if port == 0:
        raise InvalidCallbackUrl("callback_url has port 0, which cannot be connected to")
    host, address = _host(parts.hostname, bracketed="[" in parts.netloc)
    return CallbackTarget(parts.scheme, host, port or default_port, address)


def _host(hostname: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:  # urlsplit has checked that it is an IPv6 address
        if "%" in hostname:
            raise InvalidCallbackUrl("callback_url must not name an IPv6 zone")
        return hostname, ip_address(hostname)
    try:
        return hostname, IPv4Address(hostname)
    except ValueError:
        pass
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidCallbackUrl(f"callback_url host {hostname!r} is not a valid name") from exc
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidCallbackUrl(f"callback_url host {hostname!r} is not a valid name")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # 2130706433 or 0x7f.1 are not names: resolvers read them as IPv4 addresses
        raise InvalidCallbackUrl(f"callback_url host {hostname!r} is not a valid name or address")
    return ascii_host, None


@lru_cache(maxsize=4096)  # checked before every callback: the range tests are not free
def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a callback may not go to ``address`` ("a private address (10.0.0.5)"), or None.

    An address embedding an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by that.
    Unspecified, broadcast and multicast addresses are never targets; the others
    that are not globally reachable (loopback, link-local, private, reserved,
    shared and documentation ranges) only when the operator allows private targets.
    """
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded, allow_private=allow_private)
    if address.is_unspecified or any(address in net for net in _NEVER):
        return f"an address no callback can go to ({address})"
    if address.is_multicast:
        return f"a multicast address ({address})"
    if allow_private:
        return None
    for kind, matches in (
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
    ):
        if matches:
            return f"{kind} address ({address})"
    if not address.is_global:  # shared (100.64/10), documentation and benchmarking ranges
        return f"an address that is not public ({address})"
    return None
