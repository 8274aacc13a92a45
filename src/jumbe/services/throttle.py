"""When failed authentications get 429: one throttle for every face.

REST tokens, SMPP binds, Daraja OAuth and M2M logins all report here, so an
address guessing at one face gets no fresh allowance at another.

**A credential that verifies is never refused.** Each credential is checked
first; only a failed check is counted, and only a failed check is refused
(429 with Retry-After, instead of 401) once its address or its credential
has failed ``per_minute`` times in the last minute. So a neighbour behind the
same NAT who failed 30 times is told to wait, while the office's valid token,
OAuth secret or M2M password still gets in.

Failures are counted twice, because each count stops a different attack:

- per client address (an IPv6 /64 counting as one): one machine trying many
  credentials, each wrong token being a new credential;
- per credential, by a key that is not secret (an API token's first ten
  characters, the prefix shown in token lists; a username; an SMPP
  ``system_id``; an OAuth consumer key): many machines trying one.

The address is the direct peer's, or the one a trusted proxy forwarded (see
``core.client_address``): a forwarded header from anyone else is ignored, so
changing it buys nothing.

Some checks are costly: argon2 spends ~50 ms of CPU on each password by
design. Past a limit such checks still run (a right password must pass) but
one at a time, through a single turn shared by all throttled attempts, and
at most ``MAX_WAITING`` wait for it, further ones being refused: a flood of
wrong passwords cannot take the CPU. Passwords proven right before are
recognised without argon2 at all (``passwords.Passwords``), so a working
integration does not queue.

Counts are kept in memory per node: a cluster of N nodes allows N times the
failures until a later change shares them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from jumbe.core.client_address import counting_key
from jumbe.services.errors import ServiceError, TooManyAttempts
from jumbe.services.limits import AttemptLimiter

MAX_WAITING = 32
CREDENTIAL_KEY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Attempt:
    """One authentication: from where, and with which credential (by its non-secret key)."""

    address: str
    credential: str

    @classmethod
    def of(cls, address: str, kind: str, key: str) -> Attempt:
        """``kind`` names the credential's namespace (token, user, smpp, oauth, access)."""
        return cls(counting_key(address), f"{kind}:{key[:CREDENTIAL_KEY_LENGTH]}")


class AuthThrottle:
    def __init__(self, failures_per_minute: int) -> None:
        self.by_address = AttemptLimiter(failures_per_minute)
        self.by_credential = AttemptLimiter(failures_per_minute)
        self._turn = asyncio.Lock()
        self._waiting = 0

    def refusal(self, attempt: Attempt) -> TooManyAttempts | None:
        """The 429 owed to a failed attempt past a limit; None while under both."""
        by_address = self.by_address.retry_after(attempt.address)
        by_credential = self.by_credential.retry_after(attempt.credential)
        if by_address is None and by_credential is None:
            return None
        wait = max(by_address or 0, by_credential or 0)
        whose = "from this address" if by_address else "with this credential"
        return TooManyAttempts(
            f"Too many attempts: too many failures {whose}; try again in {wait} s",
            retry_after=wait,
        )

    def failed(self, attempt: Attempt, error: ServiceError) -> ServiceError:
        """Count a failed attempt; what to raise: ``error``, or the 429 past a limit."""
        refusal = self.refusal(attempt)
        if refusal is not None:
            return refusal
        self.by_address.record(attempt.address)
        self.by_credential.record(attempt.credential)
        return error

    @asynccontextmanager
    async def costly(self, attempt: Attempt) -> AsyncIterator[None]:
        """Around a costly check: under the limits at once, past them one at a time."""
        refusal = self.refusal(attempt)
        if refusal is None:
            yield
            return
        if self._waiting >= MAX_WAITING:
            raise refusal
        self._waiting += 1
        try:
            async with self._turn:
                yield
        finally:
            self._waiting -= 1
