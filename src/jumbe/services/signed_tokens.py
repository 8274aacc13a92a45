"""Signed tokens: sign-in sessions (JWTs) and the links mailed to people.

Both are JWTs (PyJWT, HS256) signed with keys derived from the cluster's
secret (``signing_keys``), one key per audience: a customer's session, a
staff session and each kind of link are signed with different keys and carry
different audiences, so none can pass for another.

**Sessions** carry the person's id and the *generation* of their sessions:
a new password moves the generation on, so every session issued before is
refused, although its signature and expiry are still good.

**Links** (verify an email, reset a password, accept an invitation, set a
staff password) expire, and are single-use without a table of used links:
each carries a fingerprint of the state it acts on (the password hash, the
verified flag). Using a link changes that state, so the same link, and every
other link issued against the old state, no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from jumbe.core.clock import utcnow
from jumbe.services.errors import InvalidRequest, Unauthenticated
from jumbe.services.signing_keys import SigningKeys

ISSUER = "jumbe"
ALGORITHM = "HS256"
LEEWAY = timedelta(seconds=5)  # clocks of nodes in a cluster differ a little
REQUIRED = ["exp", "iat", "sub", "aud", "iss"]


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    expires_at: datetime
    expires_in: int  # seconds


@dataclass(frozen=True, slots=True)
class SessionClaims:
    subject: int
    generation: int


class SessionTokens:
    """Sessions for one audience (``customer`` or ``staff``)."""

    def __init__(self, keys: SigningKeys, *, audience: str, lifetime: timedelta) -> None:
        self.keys = keys
        self.audience = f"{ISSUER}:{audience}"
        self.lifetime = lifetime

    async def issue(self, subject: int, generation: int) -> IssuedSession:
        now = utcnow().replace(microsecond=0)
        expires_at = now + self.lifetime
        claims = {
            "iss": ISSUER,
            "aud": self.audience,
            "sub": str(subject),
            "gen": generation,
            "iat": now,
            "exp": expires_at,
        }
        token = jwt.encode(claims, await self._key(), algorithm=ALGORITHM)
        return IssuedSession(token, expires_at, int(self.lifetime.total_seconds()))

    async def read(self, raw: str) -> SessionClaims:
        """The claims of a session that is signed for this audience and not expired."""
        try:
            claims = jwt.decode(
                raw,
                await self._key(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=ISSUER,
                leeway=LEEWAY,
                options={"require": [*REQUIRED, "gen"]},
            )
            return SessionClaims(int(claims["sub"]), int(claims["gen"]))
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("session has expired: sign in again") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise Unauthenticated("Invalid session token") from None

    async def _key(self) -> bytes:
        return await self.keys.key(f"session:{self.audience}")


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """A link's subject, and a check of the state it was signed against (for transactions)."""

    subject: int
    fingerprint: str
    expires_at: datetime
    key: bytes = field(repr=False)

    def check(self, state: str | None) -> None:
        """InvalidRequest unless the subject is still in the state the link was made for.

        A used link, a link superseded by a newer password and a link for a
        subject that is gone are refused alike.
        """
        if state is None or not hmac.compare_digest(
            self.fingerprint, _fingerprint(self.key, state)
        ):
            raise InvalidRequest("this link has already been used or is no longer valid")


class LinkTokens:
    """Expiring links for one purpose, bound to the state they act on."""

    def __init__(self, keys: SigningKeys, *, purpose: str, lifetime: timedelta) -> None:
        self.keys = keys
        self.audience = f"{ISSUER}:link:{purpose}"
        self.lifetime = lifetime

    async def signer(self) -> Callable[[int, str], str]:
        """``sign(subject, state)``, synchronous: for the transaction that makes the state."""
        key = await self._key()

        def sign(subject: int, state: str) -> str:
            now = utcnow().replace(microsecond=0)
            claims = {
                "iss": ISSUER,
                "aud": self.audience,
                "sub": str(subject),
                "st": _fingerprint(key, state),
                "iat": now,
                "exp": now + self.lifetime,
            }
            return jwt.encode(claims, key, algorithm=ALGORITHM)

        return sign

    async def read(self, raw: str) -> LinkClaims:
        """The claims of a link signed for this purpose and not expired; its state is checked
        by the transaction that uses it (``LinkClaims.check``)."""
        key = await self._key()
        try:
            claims = jwt.decode(
                raw,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=ISSUER,
                leeway=LEEWAY,
                options={"require": [*REQUIRED, "st"]},
            )
            expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
            return LinkClaims(int(claims["sub"]), str(claims["st"]), expires_at, key)
        except jwt.ExpiredSignatureError:
            raise InvalidRequest("this link has expired: ask for a new one") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise InvalidRequest("this link is not valid") from None

    async def _key(self) -> bytes:
        return await self.keys.key(self.audience)


def _fingerprint(key: bytes, state: str) -> str:
    return hmac.new(key, state.encode(), hashlib.sha256).hexdigest()[:32]
