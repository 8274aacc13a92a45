"""The M2M XML face: an M2M SIM portal's ``send_sms`` and ``query_sms_mt_details``."""

from jumbe.faces.m2m.api import PATH, refuse, router
from jumbe.faces.m2m.xml import MAX_DOCUMENT

__all__ = ["MAX_DOCUMENT", "PATH", "refuse", "router"]
