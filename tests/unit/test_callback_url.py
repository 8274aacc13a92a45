"""Callback URL rules: parsing, address judgement, and the resolving service (no network)."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

import pytest

from jumbe.core.callback_url import InvalidCallbackUrl, parse, refusal
from jumbe.services import callback_urls
from jumbe.services.callback_urls import CallbackUrls
from jumbe.services.errors import InvalidRequest


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("http://example.com/hook", "http", "example.com", 80),
        ("https://EXAMPLE.com:8443/h?x=1", "https", "example.com", 8443),
        ("https://bücher.de/h", "https", "xn--bcher-kva.de", 443),
        ("http://1.2.3.4:8080/x", "http", "1.2.3.4", 8080),
        ("http://[2001:db8::1]/x", "http", "2001:db8::1", 80),
        ("http://user:pw@hooks.example.com/x", "http", "hooks.example.com", 80),
    ],
)
def test_good_urls(url: str, scheme: str, host: str, port: int) -> None:
    target = parse(url)
    assert (target.scheme, target.host, target.port) == (scheme, host, port)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://[zz]/", "not a valid URL"),
        ("http://]/", "not a valid URL"),
        ("http://example.com:abc/", "not a valid URL"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com:0/", "port 0"),
        ("ftp://example.com/", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http:///x", "must name a host"),
        ("http://a b/", "spaces"),
        ("http://example.com/\n", "spaces"),
        ("http://-a.com/", "not a valid name"),
        ("http://a..b/", "not a valid name"),
        ("http://2130706433/", "not a valid name or address"),
        ("http://0x7f.1/", "not a valid name or address"),
        ("http://127.1/", "not a valid name or address"),
        ("http://[fe80::1%25eth0]/", "zone"),
        ("http://" + "a" * 2000 + ".com/", "at most"),
    ],
)
def test_bad_urls_say_why(url: str, words: str) -> None:
    with pytest.raises(InvalidCallbackUrl, match=words):
        parse(url)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.1.2.3", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not public"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "no callback can go to"),
        ("::", "no callback can go to"),
        ("255.255.255.255", "no callback can go to"),
    ],
)
def test_addresses_that_are_refused(address: str, kind: str) -> None:
    why = refusal(ip_address(address), allow_private=False)
    assert why is not None and kind in why


def test_public_addresses_pass_and_the_operator_may_allow_private_ones() -> None:
    for public in ("93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34"):
        assert refusal(ip_address(public), allow_private=False) is None
    for private in ("127.0.0.1", "10.0.0.5", "fd00::1", "169.254.1.1"):
        assert refusal(ip_address(private), allow_private=True) is None
    for never in ("0.0.0.0", "224.0.0.1"):  # not even then
        assert refusal(ip_address(never), allow_private=True) is not None


def resolver(table: dict[str, list[str]]) -> callback_urls.Resolver:
    async def resolve(host: str, _port: int) -> list[callback_urls.IPAddress]:
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return [ip_address(a) for a in table[host]]

    return resolve


async def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    urls = CallbackUrls(
        allow_private=False,
        resolver=resolver(
            {"good.test": ["93.184.216.34"], "sneaky.test": ["93.184.216.34", "10.0.0.1"]}
        ),
    )
    assert (await urls.check("https://good.test/h")).host == "good.test"
    with pytest.raises(InvalidRequest, match=r"sneaky.test resolves to a private address"):
        await urls.check("https://sneaky.test/h")
    with pytest.raises(InvalidRequest, match=r"could not be resolved \(Name or service"):
        await urls.check("https://nowhere.test/h")
    with pytest.raises(InvalidRequest, match="points to a loopback address"):
        await urls.check("http://127.0.0.1:8000/h")


async def test_resolution_is_cached_and_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    async def slow(host: str, _port: int) -> list[callback_urls.IPAddress]:
        calls.append(host)
        if host == "hang.test":
            await asyncio.sleep(10)
        return [ip_address("93.184.216.34")]

    monkeypatch.setattr(callback_urls, "RESOLVE_TIMEOUT", 0.05)
    urls = CallbackUrls(allow_private=False, resolver=slow)
    for _ in range(3):
        await urls.check("https://fine.test/h")
    assert calls == ["fine.test"]
    with pytest.raises(InvalidRequest, match="timed out"):
        await urls.check("https://hang.test/h")
