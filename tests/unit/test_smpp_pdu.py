import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.smpp.constants import CommandId, CommandStatus, Tag
from jumbe.smpp.errors import FrameLengthError
from jumbe.smpp.framing import FrameReader
from jumbe.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    PduError,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode,
    encode,
    response_for,
    set_tlv_int,
    set_tlv_str,
    tlv_int,
    tlv_str,
)

EVERY_PDU: list[Pdu] = [
    BindTransmitter(
        sequence_number=1,
        system_id="acme",
        password="pw",
        system_type="VMA",
        addr_ton=1,
        addr_npi=1,
        address_range="2547",
    ),
    BindReceiver(sequence_number=2, system_id="acme", password="pw"),
    BindTransceiver(sequence_number=3, system_id="acme", password="pw", interface_version=0x33),
    BindTransmitterResp(sequence_number=1, system_id="SMSC"),
    BindReceiverResp(sequence_number=2, system_id="SMSC", tlvs={Tag.SC_INTERFACE_VERSION: b"4"}),
    BindTransceiverResp(sequence_number=3, system_id="SMSC"),
    Outbind(sequence_number=4, system_id="SMSC", password="pw"),
    Unbind(sequence_number=5),
    UnbindResp(sequence_number=5),
    EnquireLink(sequence_number=6),
    EnquireLinkResp(sequence_number=6),
    GenericNack(command_status=CommandStatus.ESME_RINVCMDID, sequence_number=7),
    SubmitSm(
        sequence_number=8,
        service_type="CMT",
        source_addr_ton=5,
        source_addr="JUMBE",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="254712345678",
        esm_class=0x40,
        protocol_id=0,
        priority_flag=1,
        schedule_delivery_time="250101120000000+",
        validity_period="000001000000000R",
        registered_delivery=1,
        replace_if_present_flag=0,
        data_coding=8,
        sm_default_msg_id=0,
        short_message=b"\x05\x00\x03\x01\x02\x01\x00h\x00i",
        tlvs={Tag.USER_MESSAGE_REFERENCE: b"\x00\x2a"},
    ),
    SubmitSmResp(sequence_number=8, message_id="a1b2c3d4e5"),
    DeliverSm(sequence_number=9, source_addr="254712345678", destination_addr="20880", esm_class=4),
    DeliverSmResp(sequence_number=9),
    SubmitMulti(
        sequence_number=10,
        source_addr="JUMBE",
        dest_addresses=[SmeAddress(1, 1, "254712345678"), "friends", SmeAddress(0, 0, "2547")],
        short_message=b"hello",
    ),
    SubmitMultiResp(
        sequence_number=10,
        message_id="m1",
        unsuccess_smes=[UnsuccessSme(1, 1, "2547", CommandStatus.ESME_RINVDSTADR)],
    ),
    DataSm(
        sequence_number=11,
        source_addr="1",
        destination_addr="2",
        data_coding=4,
        tlvs={Tag.MESSAGE_PAYLOAD: b"x" * 1000},
    ),
    DataSmResp(sequence_number=11, message_id="d1"),
    QuerySm(sequence_number=12, message_id="q1", source_addr="JUMBE"),
    QuerySmResp(sequence_number=12, message_id="q1", final_date="", message_state=2, error_code=0),
    CancelSm(sequence_number=13, message_id="c1", source_addr="JUMBE", destination_addr="2547"),
    CancelSmResp(sequence_number=13),
    ReplaceSm(sequence_number=14, message_id="r1", source_addr="JUMBE", short_message=b"new"),
    ReplaceSmResp(sequence_number=14),
    AlertNotification(
        sequence_number=15,
        source_addr="254712345678",
        esme_addr="JUMBE",
        tlvs={Tag.MS_AVAILABILITY_STATUS: b"\x00"},
    ),
]


@pytest.mark.parametrize("pdu", EVERY_PDU, ids=lambda p: type(p).__name__)
def test_round_trip_every_pdu_type(pdu: Pdu) -> None:
    frame = encode(pdu)
    assert struct.unpack(">I", frame[:4])[0] == len(frame)
    assert decode(frame) == pdu


def test_every_command_id_has_a_pdu_class() -> None:
    covered = {type(p).command_id for p in EVERY_PDU}
    assert covered == set(CommandId)


def test_bind_transceiver_known_bytes() -> None:
    pdu = BindTransceiver(sequence_number=1, system_id="jumbe", password="secret")
    expected = bytes.fromhex(
        "00000022"  # command_length 34
        "00000009"  # bind_transceiver
        "00000000"  # command_status
        "00000001"  # sequence_number
        "6a756d626500"  # system_id "jumbe"
        "73656372657400"  # password "secret"
        "00"  # system_type ""
        "34"  # interface_version 3.4
        "00"  # addr_ton
        "00"  # addr_npi
        "00"  # address_range ""
    )
    assert encode(pdu) == expected
    assert decode(expected) == pdu


def test_submit_sm_known_bytes() -> None:
    pdu = SubmitSm(
        sequence_number=7,
        source_addr_ton=5,
        source_addr="JUMBE",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="254712345678",
        registered_delivery=1,
        short_message=b"hi",
    )
    expected = bytes.fromhex(
        "00000034"  # command_length 52
        "00000004"  # submit_sm
        "00000000"
        "00000007"
        "00"  # service_type ""
        "05"
        "00"
        "4a554d424500"  # source ton, npi, "JUMBE"
        "01"
        "01"
        "32353437313233343536373800"  # dest ton, npi, "254712345678"
        "00"
        "00"
        "00"  # esm_class, protocol_id, priority_flag
        "00"
        "00"  # schedule_delivery_time, validity_period
        "01"
        "00"
        "00"
        "00"  # registered_delivery, replace_if_present, data_coding, default id
        "02"
        "6869"  # sm_length 2, "hi"
    )
    assert encode(pdu) == expected
    assert decode(expected) == pdu


def test_tlvs_follow_the_body_and_unknown_tags_are_kept() -> None:
    pdu = SubmitSm(destination_addr="1", short_message=b"")
    pdu.tlvs[Tag.MESSAGE_PAYLOAD] = b"long text"
    pdu.tlvs[0x1400] = b"\x01\x02"  # vendor-specific
    frame = encode(pdu)
    assert frame.endswith(b"\x04\x24\x00\x09long text\x14\x00\x00\x02\x01\x02")
    decoded = decode(frame)
    assert list(decoded.tlvs) == [Tag.MESSAGE_PAYLOAD, 0x1400]
    assert decoded.tlvs[0x1400] == b"\x01\x02"


def test_defaults_make_a_minimal_submit() -> None:
    pdu = SubmitSm(destination_addr="254712345678", short_message=b"hi")
    assert decode(encode(pdu)) == pdu


def test_long_password_and_system_id_decode() -> None:
    pdu = BindTransmitter(system_id="a-very-long-system-identifier", password="p" * 40)
    decoded = decode(encode(pdu))
    assert isinstance(decoded, BindTransmitter)
    assert decoded.password == "p" * 40
    assert decoded.system_id == "a-very-long-system-identifier"


def test_latin1_strings_are_tolerated() -> None:
    frame = encode(BindTransmitter(system_id="caf\u00e9", password="x"))
    assert decode(frame).system_id == "caf\u00e9"  # type: ignore[attr-defined]


def test_error_responses_without_body_decode() -> None:
    header = struct.pack(
        ">IIII", 16, CommandId.BIND_TRANSMITTER_RESP, CommandStatus.ESME_RBINDFAIL, 3
    )
    pdu = decode(header)
    assert isinstance(pdu, BindTransmitterResp)
    assert pdu.command_status == CommandStatus.ESME_RBINDFAIL
    assert pdu.system_id == ""
    header = struct.pack(">IIII", 16, CommandId.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED, 9)
    resp = decode(header)
    assert isinstance(resp, SubmitSmResp)
    assert resp.message_id == ""
    assert resp.sequence_number == 9


def test_sloppy_responses_are_tolerated() -> None:
    no_nul = struct.pack(">IIII", 19, CommandId.SUBMIT_SM_RESP, 0, 4) + b"abc"
    resp = decode(no_nul)
    assert isinstance(resp, SubmitSmResp)
    assert resp.message_id == "abc"
    fail = CommandStatus.ESME_RBINDFAIL
    junk = struct.pack(">IIII", 18, CommandId.BIND_TRANSCEIVER_RESP, fail, 1) + b"\xff\xfe"
    resp = decode(junk)
    assert isinstance(resp, BindTransceiverResp)
    assert resp.command_status == fail


def _frame(command_id: int, body: bytes, seq: int = 42) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body


def _error(frame: bytes) -> PduError:
    with pytest.raises(PduError) as info:
        decode(frame)
    return info.value


def test_missing_nul_is_a_pdu_error() -> None:
    err = _error(_frame(CommandId.BIND_TRANSMITTER, b"system-id-without-nul"))
    assert err.command_status == CommandStatus.ESME_RINVCMDLEN
    assert err.command_id == CommandId.BIND_TRANSMITTER
    assert err.sequence_number == 42


def test_truncated_mandatory_body_is_a_pdu_error() -> None:
    body = encode(SubmitSm(destination_addr="1", short_message=b"abc"))[16:]
    err = _error(_frame(CommandId.SUBMIT_SM, body[:-6]))
    assert err.command_status in (CommandStatus.ESME_RINVCMDLEN, CommandStatus.ESME_RINVMSGLEN)


def test_sm_length_beyond_body_is_rinvmsglen() -> None:
    body = bytearray(encode(SubmitSm(destination_addr="1", short_message=b"abc"))[16:])
    body[-4] = 200  # sm_length says 200, only 3 octets follow
    err = _error(_frame(CommandId.SUBMIT_SM, bytes(body)))
    assert err.command_status == CommandStatus.ESME_RINVMSGLEN


def test_truncated_tlv_is_rinvoptparstream() -> None:
    body = encode(SubmitSm(destination_addr="1", short_message=b"abc"))[16:]
    for tail in (b"\x04", b"\x04\x24\x00", b"\x04\x24\x00\x09short"):
        err = _error(_frame(CommandId.SUBMIT_SM, body + tail))
        assert err.command_status == CommandStatus.ESME_RINVOPTPARSTREAM


def test_unknown_command_id_is_rinvcmdid() -> None:
    err = _error(_frame(0x00000099, b""))
    assert err.command_status == CommandStatus.ESME_RINVCMDID
    assert err.command_id == 0x99


def test_length_mismatch_is_rinvcmdlen() -> None:
    frame = _frame(CommandId.ENQUIRE_LINK, b"")
    assert _error(frame + b"\x00").command_status == CommandStatus.ESME_RINVCMDLEN
    assert _error(frame[:10]).command_status == CommandStatus.ESME_RINVCMDLEN


def test_bad_dest_flag_is_rinvdestflag() -> None:
    body = b"\x00\x00\x00JUMBE\x00\x01\x07"
    err = _error(_frame(CommandId.SUBMIT_MULTI, body))
    assert err.command_status == CommandStatus.ESME_RINVDESTFLAG


def test_short_message_over_255_octets_does_not_encode() -> None:
    with pytest.raises(ValueError):
        encode(SubmitSm(short_message=b"x" * 256))


def test_nul_inside_a_string_does_not_encode() -> None:
    with pytest.raises(ValueError):
        encode(SubmitSm(destination_addr="25\x00471"))


def test_response_for() -> None:
    submit = SubmitSm(sequence_number=77)
    resp = response_for(submit, CommandStatus.ESME_RTHROTTLED)
    assert isinstance(resp, SubmitSmResp)
    assert (resp.sequence_number, resp.command_status) == (77, CommandStatus.ESME_RTHROTTLED)
    assert isinstance(response_for(BindReceiver(sequence_number=1)), BindReceiverResp)
    assert isinstance(response_for(EnquireLink()), EnquireLinkResp)
    assert isinstance(response_for(Unbind()), UnbindResp)
    assert isinstance(response_for(DataSm()), DataSmResp)
    assert isinstance(response_for(DeliverSm()), DeliverSmResp)
    nack = response_for(AlertNotification(sequence_number=5), CommandStatus.ESME_RINVCMDID)
    assert isinstance(nack, GenericNack)
    assert nack.sequence_number == 5
    assert isinstance(response_for(Outbind()), GenericNack)


def test_tlv_helpers() -> None:
    pdu = DeliverSm()
    set_tlv_int(pdu, Tag.MESSAGE_STATE, 2, 1)
    set_tlv_int(pdu, Tag.USER_MESSAGE_REFERENCE, 0x1234, 2)
    set_tlv_int(pdu, Tag.SOURCE_PORT, 70000, 4)
    set_tlv_str(pdu, Tag.RECEIPTED_MESSAGE_ID, "abc123")
    decoded = decode(encode(pdu))
    assert tlv_int(decoded, Tag.MESSAGE_STATE) == 2
    assert tlv_int(decoded, Tag.USER_MESSAGE_REFERENCE) == 0x1234
    assert tlv_int(decoded, Tag.SOURCE_PORT) == 70000
    assert tlv_int(decoded, Tag.NETWORK_ERROR_CODE) is None
    assert decoded.tlvs[Tag.RECEIPTED_MESSAGE_ID] == b"abc123\x00"
    assert tlv_str(decoded, Tag.RECEIPTED_MESSAGE_ID) == "abc123"
    decoded.tlvs[Tag.RECEIPTED_MESSAGE_ID] = b"plain"  # some SMSCs omit the NUL
    assert tlv_str(decoded, Tag.RECEIPTED_MESSAGE_ID) == "plain"
    assert tlv_str(decoded, Tag.CALLBACK_NUM) is None


# --- framing --------------------------------------------------------------------------------------


def test_frame_reader_cuts_frames_across_chunks() -> None:
    frames = [encode(EnquireLink(sequence_number=i)) for i in range(1, 4)]
    frames.append(encode(SubmitSm(sequence_number=4, short_message=b"x" * 200)))
    stream = b"".join(frames)
    reader = FrameReader()
    got: list[bytes] = []
    for i in range(0, len(stream), 7):
        reader.feed(stream[i : i + 7])
        while (frame := reader.next_frame()) is not None:
            got.append(frame)
    assert got == frames
    assert len(reader) == 0


@pytest.mark.parametrize("length", [0, 15, 65537, 0xFFFFFFFF])
def test_frame_reader_rejects_impossible_lengths(length: int) -> None:
    reader = FrameReader()
    reader.feed(struct.pack(">IIII", length, CommandId.SUBMIT_SM, 0, 99))
    with pytest.raises(FrameLengthError) as info:
        reader.next_frame()
    assert info.value.command_length == length
    assert info.value.sequence_number == 99


def test_frame_reader_max_is_configurable() -> None:
    reader = FrameReader(max_pdu_length=100)
    reader.feed(struct.pack(">I", 101))
    with pytest.raises(FrameLengthError):
        reader.next_frame()


# --- property tests -------------------------------------------------------------------------------

c_strings = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=70)
octets = st.integers(min_value=0, max_value=255)
tlv_dicts = st.dictionaries(
    st.integers(min_value=0, max_value=0xFFFF), st.binary(max_size=300), max_size=5
)


@st.composite
def short_message_pdus(draw: st.DrawFn) -> Pdu:
    cls = draw(st.sampled_from([SubmitSm, DeliverSm]))
    return cls(
        command_status=draw(st.integers(min_value=0, max_value=0xFFFFFFFF)),
        sequence_number=draw(st.integers(min_value=0, max_value=0x7FFFFFFF)),
        tlvs=draw(tlv_dicts),
        service_type=draw(c_strings),
        source_addr_ton=draw(octets),
        source_addr_npi=draw(octets),
        source_addr=draw(c_strings),
        dest_addr_ton=draw(octets),
        dest_addr_npi=draw(octets),
        destination_addr=draw(c_strings),
        esm_class=draw(octets),
        protocol_id=draw(octets),
        priority_flag=draw(octets),
        schedule_delivery_time=draw(c_strings),
        validity_period=draw(c_strings),
        registered_delivery=draw(octets),
        replace_if_present_flag=draw(octets),
        data_coding=draw(octets),
        sm_default_msg_id=draw(octets),
        short_message=draw(st.binary(max_size=255)),
    )


@given(short_message_pdus())
def test_submit_and_deliver_round_trip(pdu: Pdu) -> None:
    assert decode(encode(pdu)) == pdu


@given(st.binary(max_size=400))
def test_decode_random_bytes_only_raises_pdu_error(data: bytes) -> None:
    with contextlib.suppress(PduError):
        decode(data)


@given(
    st.sampled_from(sorted(CommandId)) | st.integers(min_value=0, max_value=0xFFFFFFFF),
    st.integers(min_value=0, max_value=0xFFFFFFFF),
    st.binary(max_size=400),
)
def test_decode_random_bodies_only_raises_pdu_error(
    command_id: int, status: int, body: bytes
) -> None:
    frame = struct.pack(">IIII", 16 + len(body), command_id, status, 1) + body
    try:
        pdu = decode(frame)
    except PduError as exc:
        assert exc.command_status != 0
    else:
        assert pdu.command_id == command_id
