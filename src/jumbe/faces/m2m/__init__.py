"""The M2M XML face: an M2M SIM portal's ``send_sms`` and ``query_sms_mt_details``."""

from jumbe.faces.m2m.api import router

__all__ = ["router"]
