"""SMPP 3.4 over plain asyncio, knowing nothing of the rest of Jumbe (bytes in, PDUs out)."""

from jumbe.smpp.client import connect
from jumbe.smpp.errors import (
    BindFailed,
    FrameLengthError,
    PduError,
    ResponseTimeout,
    SessionClosed,
    SmppError,
)
from jumbe.smpp.server import serve
from jumbe.smpp.session import BindState, Session, SessionHandler

__all__ = [
    "BindFailed",
    "BindState",
    "FrameLengthError",
    "PduError",
    "ResponseTimeout",
    "Session",
    "SessionClosed",
    "SessionHandler",
    "SmppError",
    "connect",
    "serve",
]
