"""SMPP 3.4 PDUs as slots dataclasses, and their wire encoding.

The body layout of every PDU is derived once from its dataclass fields (``str`` is a C-octet
string, ``int`` a 1-octet integer, ``bytes`` an sm_length-prefixed short_message), so adding a PDU
means declaring its fields in spec order and nothing else. Decoding walks the frame in place
without slicing the body, because the SMPP server decodes every submit_sm on the hot path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import ClassVar, overload

from jumbe.smpp.constants import (
    INTERFACE_VERSION,
    RESPONSE_BIT,
    CommandId,
    CommandStatus,
)
from jumbe.smpp.errors import PduError

__all__ = [
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "PduError",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "decode",
    "encode",
    "response_for",
    "response_for_id",
    "set_tlv_int",
    "set_tlv_str",
    "tlv_int",
    "tlv_str",
]

HEADER = struct.Struct(">IIII")
HEADER_LENGTH = HEADER.size
_TLV_HEAD = struct.Struct(">HH")
_U32 = struct.Struct(">I")


@dataclass(slots=True)
class Pdu:
    command_status: int = 0
    sequence_number: int = 0
    # Optional parameters, raw values, in arrival order; unknown tags are kept so that relaying
    # a PDU does not silently lose what a peer sent.
    tlvs: dict[int, bytes] = field(default_factory=dict)
    command_id: ClassVar[int]


@dataclass(frozen=True, slots=True)
class SmeAddress:
    """One submit_multi destination given as an address (dest_flag 1)."""

    ton: int = 0
    npi: int = 0
    address: str = ""


@dataclass(frozen=True, slots=True)
class UnsuccessSme:
    """One destination submit_multi_resp reports as failed."""

    ton: int = 0
    npi: int = 0
    address: str = ""
    error_status_code: int = 0


# --- session management -------------------------------------------------------------------------


@dataclass(slots=True)
class _Bind(Pdu):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(slots=True)
class BindTransmitter(_Bind):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@dataclass(slots=True)
class BindReceiver(_Bind):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@dataclass(slots=True)
class BindTransceiver(_Bind):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True)
class _BindResp(Pdu):
    system_id: str = ""


@dataclass(slots=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True)
class BindReceiverResp(_BindResp):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True)
class Outbind(Pdu):
    command_id: ClassVar[int] = CommandId.OUTBIND
    system_id: str = ""
    password: str = ""


@dataclass(slots=True)
class Unbind(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND


@dataclass(slots=True)
class UnbindResp(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@dataclass(slots=True)
class EnquireLink(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@dataclass(slots=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True)
class GenericNack(Pdu):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK


# --- message submission and delivery ------------------------------------------------------------


@dataclass(slots=True)
class _ShortMessage(Pdu):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(slots=True)
class SubmitSm(_ShortMessage):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@dataclass(slots=True)
class DeliverSm(_ShortMessage):
    command_id: ClassVar[int] = CommandId.DELIVER_SM


@dataclass(slots=True)
class SubmitSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    message_id: str = ""


@dataclass(slots=True)
class DeliverSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    message_id: str = ""


@dataclass(slots=True)
class SubmitMulti(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    # number_of_dests is derived; a str entry is a distribution list name (dest_flag 2).
    dest_addresses: list[SmeAddress | str] = field(default_factory=list)
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(slots=True)
class SubmitMultiResp(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = ""
    unsuccess_smes: list[UnsuccessSme] = field(default_factory=list)


@dataclass(slots=True)
class DataSm(Pdu):
    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0


@dataclass(slots=True)
class DataSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = ""


# --- message management -------------------------------------------------------------------------


@dataclass(slots=True)
class QuerySm(Pdu):
    command_id: ClassVar[int] = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(slots=True)
class QuerySmResp(Pdu):
    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@dataclass(slots=True)
class CancelSm(Pdu):
    command_id: ClassVar[int] = CommandId.CANCEL_SM
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(slots=True)
class CancelSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.CANCEL_SM_RESP


@dataclass(slots=True)
class ReplaceSm(Pdu):
    command_id: ClassVar[int] = CommandId.REPLACE_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(slots=True)
class ReplaceSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.REPLACE_SM_RESP


@dataclass(slots=True)
class AlertNotification(Pdu):
    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""


# --- body layouts -------------------------------------------------------------------------------

_CSTR, _U8, _SM, _DESTS, _UNSUCCESS = range(5)
_KIND_BY_TYPE = {"str": _CSTR, "int": _U8, "bytes": _SM}
_KIND_BY_NAME = {"dest_addresses": _DESTS, "unsuccess_smes": _UNSUCCESS}
_BASE_FIELDS = frozenset(f.name for f in fields(Pdu))

# command_id -> (class, body field names, body field kinds)
_REGISTRY: dict[int, tuple[type[Pdu], tuple[str, ...], tuple[int, ...]]] = {}


def _register(*classes: type[Pdu]) -> None:
    for cls in classes:
        body = [f for f in fields(cls) if f.name not in _BASE_FIELDS]
        names = tuple(f.name for f in body)
        kinds = tuple(_KIND_BY_NAME.get(f.name, _KIND_BY_TYPE.get(str(f.type), -1)) for f in body)
        if -1 in kinds:
            raise TypeError(f"{cls.__name__}: a field type has no SMPP encoding")
        _REGISTRY[cls.command_id] = (cls, names, kinds)


_register(
    BindTransmitter,
    BindTransmitterResp,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    SubmitMulti,
    SubmitMultiResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    CancelSm,
    CancelSmResp,
    ReplaceSm,
    ReplaceSmResp,
    AlertNotification,
)


# --- encoding -----------------------------------------------------------------------------------


def _cstr(value: str) -> bytes:
    if "\0" in value:
        raise ValueError(f"C-octet string contains NUL: {value!r}")
    return value.encode("latin-1") + b"\0"


def encode(pdu: Pdu) -> bytes:
    """The complete frame, header included; command_length and sm_length are computed here."""
    _, names, kinds = _REGISTRY[pdu.command_id]
    out = bytearray(HEADER_LENGTH)
    for name, kind in zip(names, kinds, strict=True):
        value = getattr(pdu, name)
        if kind == _CSTR:
            out += _cstr(value)
        elif kind == _U8:
            out.append(value)  # ValueError outside 0..255, like the wire
        elif kind == _SM:
            if len(value) > 255:
                raise ValueError("short_message longer than 255 octets: use message_payload")
            out.append(len(value))
            out += value
        elif kind == _DESTS:
            out.append(len(value))
            for dest in value:
                if isinstance(dest, str):
                    out.append(2)
                    out += _cstr(dest)
                else:
                    out += bytes((1, dest.ton, dest.npi))
                    out += _cstr(dest.address)
        else:  # _UNSUCCESS
            out.append(len(value))
            for sme in value:
                out += bytes((sme.ton, sme.npi))
                out += _cstr(sme.address)
                out += _U32.pack(sme.error_status_code)
    for tag, raw in pdu.tlvs.items():
        out += _TLV_HEAD.pack(tag, len(raw))
        out += raw
    HEADER.pack_into(out, 0, len(out), pdu.command_id, pdu.command_status, pdu.sequence_number)
    return bytes(out)


# --- decoding -----------------------------------------------------------------------------------


def decode(frame: bytes) -> Pdu:
    """Decode one complete frame (as cut by FrameReader).

    C-octet strings are read as latin-1 and their 3.4 maximum lengths are deliberately not
    enforced: real clients send longer passwords and system_ids and refusing them helps nobody.
    """
    end = len(frame)
    if end < HEADER_LENGTH:
        raise PduError(
            "frame shorter than the header",
            command_id=0,
            sequence_number=0,
            command_status=CommandStatus.ESME_RINVCMDLEN,
        )
    length, command_id, status, seq = HEADER.unpack_from(frame)
    if length != end:
        raise PduError(
            "command_length does not match the frame",
            command_id=command_id,
            sequence_number=seq,
            command_status=CommandStatus.ESME_RINVCMDLEN,
        )
    entry = _REGISTRY.get(command_id)
    if entry is None:
        raise PduError(
            f"unknown command_id 0x{command_id:08X}",
            command_id=command_id,
            sequence_number=seq,
            command_status=CommandStatus.ESME_RINVCMDID,
        )
    cls, _, kinds = entry
    if end == HEADER_LENGTH and command_id & RESPONSE_BIT:
        # Error responses (and some sloppy OK ones) omit the body entirely.
        return cls(status, seq)
    values: list[object] = []
    append = values.append
    pos = HEADER_LENGTH
    try:
        for kind in kinds:
            if kind == _CSTR:
                nul = frame.index(0, pos)
                append(frame[pos:nul].decode("latin-1"))
                pos = nul + 1
            elif kind == _U8:
                append(frame[pos])
                pos += 1
            elif kind == _SM:
                size = frame[pos]
                pos += 1
                if pos + size > end:
                    raise PduError(
                        "sm_length runs past the end of the body",
                        command_id=command_id,
                        sequence_number=seq,
                        command_status=CommandStatus.ESME_RINVMSGLEN,
                    )
                append(frame[pos : pos + size])
                pos += size
            elif kind == _DESTS:
                dests, pos = _decode_dests(frame, pos, command_id, seq)
                append(dests)
            else:
                smes, pos = _decode_unsuccess(frame, pos)
                append(smes)
    except (ValueError, IndexError, struct.error):
        # index() found no NUL, or the body ended inside a mandatory parameter.
        if command_id & RESPONSE_BIT:
            # Real SMSCs send error responses with junk bodies and message_ids without their
            # NUL; refusing those would turn a readable answer into a timeout.
            if status:
                return cls(status, seq)
            if kinds == (_CSTR,):
                whole_body = [frame[HEADER_LENGTH:].decode("latin-1")]
                return cls(status, seq, {}, *whole_body)
        raise PduError(
            "body ends inside a mandatory parameter",
            command_id=command_id,
            sequence_number=seq,
            command_status=CommandStatus.ESME_RINVCMDLEN,
        ) from None
    tlvs = _decode_tlvs(frame, pos, end, command_id, seq) if pos < end else {}
    return cls(status, seq, tlvs, *values)


def _decode_tlvs(frame: bytes, pos: int, end: int, command_id: int, seq: int) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    while pos < end:
        if pos + 4 > end:
            break
        tag, size = _TLV_HEAD.unpack_from(frame, pos)
        pos += 4
        if pos + size > end:
            break
        tlvs[tag] = frame[pos : pos + size]
        pos += size
    else:
        return tlvs
    raise PduError(
        "truncated optional parameter",
        command_id=command_id,
        sequence_number=seq,
        command_status=CommandStatus.ESME_RINVOPTPARSTREAM,
    )


def _decode_dests(
    frame: bytes, pos: int, command_id: int, seq: int
) -> tuple[list[SmeAddress | str], int]:
    count = frame[pos]
    pos += 1
    dests: list[SmeAddress | str] = []
    for _ in range(count):
        flag = frame[pos]
        if flag == 1:
            ton, npi = frame[pos + 1], frame[pos + 2]
            nul = frame.index(0, pos + 3)
            dests.append(SmeAddress(ton, npi, frame[pos + 3 : nul].decode("latin-1")))
        elif flag == 2:
            nul = frame.index(0, pos + 1)
            dests.append(frame[pos + 1 : nul].decode("latin-1"))
        else:
            raise PduError(
                f"dest_flag {flag} is neither 1 nor 2",
                command_id=command_id,
                sequence_number=seq,
                command_status=CommandStatus.ESME_RINVDESTFLAG,
            )
        pos = nul + 1
    return dests, pos


def _decode_unsuccess(frame: bytes, pos: int) -> tuple[list[UnsuccessSme], int]:
    count = frame[pos]
    pos += 1
    smes: list[UnsuccessSme] = []
    for _ in range(count):
        ton, npi = frame[pos], frame[pos + 1]
        nul = frame.index(0, pos + 2)
        address = frame[pos + 2 : nul].decode("latin-1")
        (code,) = _U32.unpack_from(frame, nul + 1)
        smes.append(UnsuccessSme(ton, npi, address, code))
        pos = nul + 5
    return smes, pos


# --- responses ----------------------------------------------------------------------------------


def response_for_id(command_id: int, sequence_number: int, command_status: int = 0) -> Pdu:
    """The response to a request known only by its header (e.g. one whose body failed to decode).

    Requests without a response PDU of their own (outbind, alert_notification, unknown ids,
    responses) are answered with generic_nack, as section 3.3 prescribes.
    """
    entry = None if command_id & RESPONSE_BIT else _REGISTRY.get(command_id | RESPONSE_BIT)
    cls = entry[0] if entry else GenericNack
    return cls(command_status, sequence_number)


# What response_for gives each request, for the type checker: the runtime finds it by
# command id, so a request whose response has fields of its own is named here.
@overload
def response_for(request: BindTransmitter, command_status: int = 0) -> BindTransmitterResp: ...
@overload
def response_for(request: BindReceiver, command_status: int = 0) -> BindReceiverResp: ...
@overload
def response_for(request: BindTransceiver, command_status: int = 0) -> BindTransceiverResp: ...
@overload
def response_for(request: _Bind, command_status: int = 0) -> _BindResp: ...
@overload
def response_for(request: SubmitSm, command_status: int = 0) -> SubmitSmResp: ...
@overload
def response_for(request: DeliverSm, command_status: int = 0) -> DeliverSmResp: ...
@overload
def response_for(request: SubmitMulti, command_status: int = 0) -> SubmitMultiResp: ...
@overload
def response_for(request: DataSm, command_status: int = 0) -> DataSmResp: ...
@overload
def response_for(request: QuerySm, command_status: int = 0) -> QuerySmResp: ...
@overload
def response_for(request: Pdu, command_status: int = 0) -> Pdu: ...
def response_for(request: Pdu, command_status: int = 0) -> Pdu:
    return response_for_id(request.command_id, request.sequence_number, command_status)


# --- optional parameter helpers -----------------------------------------------------------------


def tlv_int(pdu: Pdu, tag: int) -> int | None:
    """Big-endian integer value of a TLV (1, 2 or 4 octets in the spec; any width is read)."""
    raw = pdu.tlvs.get(tag)
    if not raw:
        return None
    return int.from_bytes(raw, "big")


def tlv_str(pdu: Pdu, tag: int) -> str | None:
    """Text of a TLV whether the peer sent it as a C-octet string or as plain octets."""
    raw = pdu.tlvs.get(tag)
    if raw is None:
        return None
    nul = raw.find(0)
    return (raw if nul < 0 else raw[:nul]).decode("latin-1")


def set_tlv_int(pdu: Pdu, tag: int, value: int, size: int) -> None:
    pdu.tlvs[tag] = value.to_bytes(size, "big")


def set_tlv_str(pdu: Pdu, tag: int, value: str) -> None:
    """Store ``value`` as a C-octet string, the form the spec uses for textual TLVs."""
    pdu.tlvs[tag] = _cstr(value)
