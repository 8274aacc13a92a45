"""Delivery receipts: the de-facto text format of SMPP 3.4 Appendix B, and its TLV form.

The text format is not normative, so parsing is deliberately tolerant of what real SMSCs send
(case, spacing, missing fields, seconds in dates). Dates carry no zone on the wire: they are read
and written as UTC, and parsed dates are aware UTC datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from jumbe.smpp.constants import ESM_DELIVERY_RECEIPT, MessageState, Tag
from jumbe.smpp.pdu import DataSm, DeliverSm, set_tlv_int, set_tlv_str, tlv_int, tlv_str

__all__ = [
    "STAT_BY_STATE",
    "DeliveryReceipt",
    "format_receipt",
    "parse_receipt",
    "receipt_from_pdu",
    "receipt_pdu",
]

STAT_BY_STATE: dict[int, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

_KEY = re.compile(r"(?<![a-z])(id|sub|dlvrd|submit\s*date|done\s*date|stat|err)\s*:\s*", re.I)
_TEXT = re.compile(r"(?<![a-z])text\s*:", re.I)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """A receipt's fields; submit_date/done_date are UTC (aware when parsed, naive accepted)."""

    message_id: str
    submitted: int = 1
    delivered: int = 0
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str = ""
    err: str = "000"
    text: str = ""


def _fmt_date(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%y%m%d%H%M}"


def format_receipt(r: DeliveryReceipt) -> str:
    return (
        f"id:{r.message_id} sub:{r.submitted:03d} dlvrd:{r.delivered:03d}"
        f" submit date:{_fmt_date(r.submit_date)} done date:{_fmt_date(r.done_date)}"
        f" stat:{r.stat} err:{r.err} text:{r.text[:20]}"
    )


def _parse_date(value: str) -> datetime | None:
    digits = value.strip()
    if len(digits) not in (10, 12) or not digits.isdigit():
        return None
    pattern = "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(digits, pattern).replace(tzinfo=UTC)
    except ValueError:
        return None


def _parse_count(value: str) -> int:
    value = value.strip()
    return int(value) if value.isdigit() else 0


def parse_receipt(text: str) -> DeliveryReceipt | None:
    """Read receipt text; None when it has neither an id nor a stat (not a receipt at all)."""
    body, tail = text, ""
    text_key = _TEXT.search(text)
    if text_key is not None:
        body, tail = text[: text_key.start()], text[text_key.end() :]
    values: dict[str, str] = {}
    keys = list(_KEY.finditer(body))
    for i, key in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        name = re.sub(r"\s+", " ", key.group(1).lower())
        values.setdefault(name, body[key.end() : end].strip())
    message_id = values.get("id", "")
    stat = values.get("stat", "").upper()
    if not message_id and not stat:
        return None
    return DeliveryReceipt(
        message_id=message_id,
        submitted=_parse_count(values.get("sub", "")),
        delivered=_parse_count(values.get("dlvrd", "")),
        submit_date=_parse_date(values.get("submit date", "")),
        done_date=_parse_date(values.get("done date", "")),
        stat=stat,
        err=values.get("err", ""),
        text=tail.strip(),
    )


def receipt_from_pdu(pdu: DeliverSm | DataSm) -> DeliveryReceipt | None:
    """The receipt carried by a deliver_sm/data_sm, or None when it is an ordinary MO.

    The receipted_message_id and message_state TLVs win over the text when present: they are
    normative, the text is only customary (and some SMSCs put a different id format there).
    """
    if not pdu.esm_class & ESM_DELIVERY_RECEIPT:
        return None
    raw = pdu.short_message if isinstance(pdu, DeliverSm) else b""
    if not raw:
        raw = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    receipt = parse_receipt(raw.decode("latin-1"))
    message_id = tlv_str(pdu, Tag.RECEIPTED_MESSAGE_ID)
    state = tlv_int(pdu, Tag.MESSAGE_STATE)
    if receipt is None:
        if not message_id:
            return None
        receipt = DeliveryReceipt(message_id=message_id, err="")
    if message_id:
        receipt = replace(receipt, message_id=message_id)
    if state is not None:
        receipt = replace(receipt, stat=STAT_BY_STATE.get(state, receipt.stat))
    return receipt


def receipt_pdu(
    r: DeliveryReceipt, *, source_addr: str, destination_addr: str, message_state: MessageState
) -> DeliverSm:
    """A deliver_sm carrying the receipt both as text and as the 3.4 TLVs, like most SMSCs."""
    pdu = DeliverSm(
        source_addr=source_addr,
        destination_addr=destination_addr,
        esm_class=ESM_DELIVERY_RECEIPT,
        short_message=format_receipt(r).encode("ascii", "replace"),
    )
    set_tlv_str(pdu, Tag.RECEIPTED_MESSAGE_ID, r.message_id)
    set_tlv_int(pdu, Tag.MESSAGE_STATE, int(message_state), 1)
    return pdu
