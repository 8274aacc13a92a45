"""argon2 for human-sized secrets, and the memory of the verdicts it already gave.

Passwords (users', the M2M API user's, SMPP passwords) are short enough to be
guessed offline from a leaked hash, so they are stored as argon2 hashes: each
guess costs ~50 ms of CPU and 64 MiB. API tokens and keys are long random
strings and are hashed with SHA-256 instead (see ``tokens``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jumbe.services.throttle import Attempt, AuthThrottle

VERIFIED_CACHE_SIZE = 10_000
_hasher = PasswordHasher()


def new_password() -> str:
    """A generated password for a user: 96 random bits, URL-safe characters."""
    return secrets.token_urlsafe(12)


class Passwords:
    """Hashes passwords and checks them, remembering the pairs argon2 accepted."""

    def __init__(self, throttle: AuthThrottle) -> None:
        self.throttle = throttle
        # keyed digests of (password hash, password) pairs argon2 accepted
        self._verified: set[bytes] = set()
        self._key = secrets.token_bytes(32)
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(_hasher.hash, password)

    async def matches(self, password_hash: str, password: str, attempt: Attempt) -> bool:
        """argon2's verdict, remembered for pairs it accepted.

        A verification costs ~50 ms of CPU by design, and an M2M integration sends
        its password with every message. The verdict for one (stored hash,
        password) pair never changes, so remembering the accepted pairs cannot
        go stale: a new password is a new hash. Pairs are kept as keyed digests
        (a per-process random key), never as passwords. An attempt past the
        throttle's limits waits for its turn before argon2 runs (``costly``).
        """
        digest = hmac.new(
            self._key, f"{password_hash}\0{password}".encode(), hashlib.sha256
        ).digest()
        if digest in self._verified:
            return True
        try:
            async with self.throttle.costly(attempt):
                ok = await asyncio.to_thread(_hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if ok:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified.add(digest)
        return ok

    async def sign_in(self, password_hash: str | None, password: str, attempt: Attempt) -> bool:
        """argon2's verdict on a sign-in; a name without a password takes as long to refuse.

        So that how long a refusal takes does not tell which emails have an
        account: for a name without one, argon2 runs against a hash of
        nothing anyone knows.
        """
        if password_hash is not None:
            return await self.matches(password_hash, password, attempt)
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(16))
        await self.matches(self._decoy, password, attempt)
        return False
