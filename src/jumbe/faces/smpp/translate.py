"""SMPP wire shapes to and from Jumbe's services: no rules here, only translation.

The command_status values Jumbe answers with are documented in the README
(section "SMPP server"); this module is the one place that decides them.
"""

from __future__ import annotations

from datetime import datetime

from jumbe.core.data_coding import alphabet, data_coding_for
from jumbe.core.segments import Encoding, choose_encoding, decode_text, split_udh
from jumbe.core.status import FINAL, MessageStatus
from jumbe.core.user_data import BINARY, payloads
from jumbe.services import errors
from jumbe.services.messaging import SendRequest
from jumbe.services.smpp_outbox import OwedDelivery
from jumbe.services.views import MessageView
from jumbe.smpp.constants import ESM_DELIVERY_RECEIPT, ESM_UDHI, CommandStatus, MessageState, Tag
from jumbe.smpp.pdu import DeliverSm, SubmitSm, tlv_int
from jumbe.smpp.receipt import STAT_BY_STATE, DeliveryReceipt, receipt_pdu
from jumbe.smpp.timefmt import format_smpp_time, parse_smpp_time

_STATUS_FOR_ERROR: dict[type[errors.ServiceError], int] = {
    errors.InvalidRecipient: CommandStatus.ESME_RINVDSTADR,
    errors.UnknownSender: CommandStatus.ESME_RINVSRCADR,
    errors.MessageTooLong: CommandStatus.ESME_RINVMSGLEN,
    errors.InsufficientBalance: CommandStatus.ESME_RSUBMITFAIL,
    errors.TooManyAttempts: CommandStatus.ESME_RTHROTTLED,
    errors.NotFound: CommandStatus.ESME_RINVMSGID,
    errors.Conflict: CommandStatus.ESME_RSUBMITFAIL,
    errors.InvalidRequest: CommandStatus.ESME_RSUBMITFAIL,
}

MESSAGE_STATE = {
    MessageStatus.ACCEPTED: MessageState.ENROUTE,
    MessageStatus.SENT: MessageState.ENROUTE,
    MessageStatus.DELIVERED: MessageState.DELIVERED,
    MessageStatus.FAILED: MessageState.UNDELIVERABLE,
    MessageStatus.EXPIRED: MessageState.EXPIRED,
    MessageStatus.CANCELLED: MessageState.DELETED,
}


class Refusal(Exception):
    """A submit_sm refused before it reaches the services, with the status to answer."""

    def __init__(self, command_status: int, why: str) -> None:
        super().__init__(why)
        self.command_status = command_status


def status_for(exc: errors.ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS_FOR_ERROR:
            return _STATUS_FOR_ERROR[cls]
    return CommandStatus.ESME_RSUBMITFAIL


def send_request(pdu: SubmitSm, now: datetime) -> SendRequest:
    """The message a submit_sm asks for; Refusal for what SMPP itself rules out."""
    payload = pdu.short_message
    long_payload = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD)
    if long_payload is not None:
        if payload:
            raise Refusal(
                CommandStatus.ESME_RINVMSGLEN, "short_message and message_payload both set"
            )
        payload = long_payload
    udh: bytes | None = None
    if pdu.esm_class & ESM_UDHI:
        try:
            _concat, rest = split_udh(payload)
        except ValueError as exc:
            raise Refusal(CommandStatus.ESME_RINVMSGLEN, f"bad user data header: {exc}") from exc
        udh, payload = payload[: len(payload) - len(rest)], rest
    elif Tag.SAR_MSG_REF_NUM in pdu.tlvs:
        udh = _sar_header(pdu)
    text, binary, encoding = _content(pdu.data_coding, payload)
    try:
        deliver_at = parse_smpp_time(pdu.schedule_delivery_time, now)
    except ValueError as exc:
        raise Refusal(CommandStatus.ESME_RINVSCHED, str(exc)) from exc
    try:
        valid_until = parse_smpp_time(pdu.validity_period, now)
    except ValueError as exc:
        raise Refusal(CommandStatus.ESME_RINVEXPIRY, str(exc)) from exc
    if valid_until is not None and valid_until <= now:
        raise Refusal(CommandStatus.ESME_RINVEXPIRY, "validity period already over")
    return SendRequest(
        to=pdu.destination_addr,
        text=text,
        binary=binary,
        udh=udh,
        encoding=encoding,
        sender=pdu.source_addr or None,
        source="smpp",
        registered_delivery=pdu.registered_delivery & 0x03,
        deliver_at=deliver_at,
        valid_until=valid_until,
    )


def _content(data_coding: int, payload: bytes) -> tuple[str, bytes | None, Encoding | None]:
    """(text, binary, forced encoding): GSM-7 and UCS-2 stay as the client chose them."""
    kind = alphabet(data_coding)
    try:
        if kind == BINARY:
            return "", payload, None
        if kind in (Encoding.GSM7, Encoding.UCS2):
            chosen = Encoding(kind)
            return decode_text(payload, chosen), None, chosen
        return payload.decode("ascii" if kind == "ascii" else "latin-1"), None, None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(
            CommandStatus.ESME_RSUBMITFAIL,
            f"short_message is not valid for data_coding {data_coding}",
        ) from exc


def _sar_header(pdu: SubmitSm) -> bytes:
    """SAR TLVs become the equivalent concatenation UDH (16-bit reference when needed)."""
    ref = tlv_int(pdu, Tag.SAR_MSG_REF_NUM)
    total = tlv_int(pdu, Tag.SAR_TOTAL_SEGMENTS)
    seq = tlv_int(pdu, Tag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None or not 1 <= seq <= total <= 255:
        raise Refusal(CommandStatus.ESME_RINVOPTPARAMVAL, "incomplete or impossible SAR segment")
    if ref < 256:
        return bytes([5, 0x00, 3, ref, total, seq])
    return bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq])


def receipt(m: OwedDelivery) -> DeliverSm:
    """The standard receipt deliver_sm for a final message, from its recipient to its sender."""
    state = MESSAGE_STATE[m.status]
    rejected = m.status is MessageStatus.FAILED and (m.error_code or "").startswith("ESME_")
    stat = "REJECTD" if rejected else STAT_BY_STATE[state]
    r = DeliveryReceipt(
        message_id=m.uuid,
        submitted=1,
        delivered=1 if m.status is MessageStatus.DELIVERED else 0,
        submit_date=m.created_at,
        done_date=m.status_at,
        stat=stat,
        err=receipt_error(m),
        text=m.body[:20] if m.encoding != BINARY else "",
    )
    pdu = receipt_pdu(
        r,
        source_addr=m.recipient,
        destination_addr=m.sender,
        message_state=MessageState.REJECTED if rejected else state,
    )
    pdu.esm_class = ESM_DELIVERY_RECEIPT
    return pdu


def receipt_error(m: MessageView | OwedDelivery) -> str:
    """Three digits, as receipts carry them: the carrier's code, or 0 when delivered."""
    code = m.error_code or ""
    if m.status is MessageStatus.DELIVERED or not code:
        return "000"
    if code.isdigit():
        return code[-3:].zfill(3)
    try:
        return f"{CommandStatus[code].value % 1000:03d}"
    except KeyError:
        return "999"


def inbound(m: OwedDelivery, reference: int) -> list[DeliverSm]:
    """An MO message as deliver_sm PDUs: one, or UDH-concatenated parts when long."""
    encoding = m.encoding
    if encoding not in (Encoding.GSM7, Encoding.UCS2, BINARY):  # latin1 or ascii as received
        encoding = choose_encoding(m.body).value
    pdus = []
    parts = payloads(m.body, encoding, reference, None)
    for part in parts:
        pdus.append(
            DeliverSm(
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=m.sender,
                dest_addr_ton=0 if len(m.recipient) <= 8 else 1,
                dest_addr_npi=1,
                destination_addr=m.recipient,
                esm_class=ESM_UDHI if len(parts) > 1 else 0,
                data_coding=data_coding_for(encoding),
                short_message=part,
            )
        )
    return pdus


def final_date(m: MessageView | OwedDelivery) -> str:
    return format_smpp_time(m.status_at) if m.status in FINAL else ""
