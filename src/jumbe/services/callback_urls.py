"""Callback URLs checked where they are given and again where they are used.

The rules are ``core.callback_url``'s; this service adds the I/O: a host name is
resolved (in the event loop's resolver threads, never blocking it; briefly
cached, since a busy account sends every message with the same URL) and every
address it resolves to must be allowed. Faces call ``check`` when they accept
a callback URL (a refusal is a 400 with the reason); the webhook sender calls
``addresses`` before each connection, because DNS can change in between.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from ipaddress import ip_address

from jumbe.core.callback_url import CallbackTarget, InvalidCallbackUrl, IPAddress, parse, refusal
from jumbe.services.errors import RefusedCallbackUrl

RESOLVE_TIMEOUT = 5.0
CACHE_SECONDS = 30.0  # a name's addresses
FAILURE_CACHE_SECONDS = 5.0  # a name that did not resolve
CACHE_SIZE = 10_000

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, through the system resolver, off the event loop."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ip_address(info[4][0]) for info in found))


class CallbackUrls:
    def __init__(self, *, allow_private: bool, resolver: Resolver = resolve) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._cache: dict[tuple[str, int], tuple[float, list[IPAddress] | str]] = {}

    async def check(self, url: str) -> CallbackTarget:
        """The URL's target if a callback may go there; RefusedCallbackUrl saying why if not."""
        try:
            target = parse(url)
            await self.addresses(target)
        except InvalidCallbackUrl as exc:
            raise RefusedCallbackUrl(str(exc)) from exc
        return target

    async def addresses(self, target: CallbackTarget) -> list[IPAddress]:
        """Where a callback to ``target`` may connect; InvalidCallbackUrl if nowhere."""
        if target.address is not None:
            found = [target.address]
        else:
            found = await self._resolve(target.host, target.port)
        for address in found:
            why = refusal(address, allow_private=self.allow_private)
            if why is not None:
                where = f"host {target.host} resolves to"
                if target.address is not None:
                    where = "points to"
                raise InvalidCallbackUrl(f"callback_url {where} {why}")
        return found

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        key = (host, port)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is None or cached[0] < now:
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    outcome: list[IPAddress] | str = await self._resolver(host, port)
            except TimeoutError:
                outcome = "timed out"
            except OSError as exc:  # socket.gaierror: no such name, no network
                outcome = exc.strerror or type(exc).__name__
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            keep = FAILURE_CACHE_SECONDS if isinstance(outcome, str) else CACHE_SECONDS
            cached = self._cache[key] = (now + keep, outcome)
        outcome = cached[1]
        if isinstance(outcome, str) or not outcome:
            raise InvalidCallbackUrl(
                f"callback_url host {host} could not be resolved ({outcome or 'no address'})"
            )
        return outcome
