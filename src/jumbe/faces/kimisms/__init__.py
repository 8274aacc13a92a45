"""The Kimisms API: OAuth client credentials, single sends, delivery callbacks.

As ../shared/specs/kimisms-bulk-sms.txt documents it: ``POST /api/generate-token``
and ``POST /api/send-sms``, errors as ``{"error", "description"}``, callbacks in
its own shape (``callbacks.py``).
"""

from fastapi import APIRouter

from jumbe.faces.kimisms import send, tokens
from jumbe.faces.kimisms.send import SOURCE
from jumbe.faces.kimisms.wire import refuse

PATHS = ("/api/generate-token", "/api/send-sms")  # the paths this face serves
router = APIRouter(tags=["kimisms"])
router.include_router(tokens.router)
router.include_router(send.router)

__all__ = ["PATHS", "SOURCE", "refuse", "router"]
