"""The Daraja faces: OAuth, the IoT SIM portal and the IMSI check, as Safaricom serves them."""

from fastapi import APIRouter

from jumbe.faces.daraja import imsi, oauth, simportal
from jumbe.faces.daraja.gateway import refuse

PREFIXES = ("/oauth/", "/simportal/", "/imsi/")  # the paths these faces serve
router = APIRouter()
router.include_router(oauth.router)
router.include_router(simportal.router)
router.include_router(imsi.router)

__all__ = ["PREFIXES", "refuse", "router"]
