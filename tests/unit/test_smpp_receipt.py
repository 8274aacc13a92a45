from datetime import UTC, datetime

from jumbe.smpp.constants import MessageState, Tag
from jumbe.smpp.pdu import DataSm, DeliverSm, decode, encode, set_tlv_int, set_tlv_str, tlv_int
from jumbe.smpp.receipt import (
    DeliveryReceipt,
    format_receipt,
    parse_receipt,
    receipt_from_pdu,
    receipt_pdu,
)

RECEIPT = DeliveryReceipt(
    message_id="0a1b2c3d4e",
    submitted=1,
    delivered=1,
    submit_date=datetime(2025, 3, 15, 14, 30, tzinfo=UTC),
    done_date=datetime(2025, 3, 15, 14, 31, tzinfo=UTC),
    stat="DELIVRD",
    err="000",
    text="Hello there, this is a long message",
)


def test_format() -> None:
    assert format_receipt(RECEIPT) == (
        "id:0a1b2c3d4e sub:001 dlvrd:001 submit date:2503151430 done date:2503151431"
        " stat:DELIVRD err:000 text:Hello there, this is"
    )


def test_format_naive_dates_are_utc() -> None:
    naive = DeliveryReceipt(
        message_id="1", submit_date=datetime(2025, 3, 15, 14, 30), stat="UNDELIV", err="001"
    )
    assert "submit date:2503151430 done date: stat:UNDELIV" in format_receipt(naive)


def test_parse_round_trip() -> None:
    parsed = parse_receipt(format_receipt(RECEIPT))
    assert parsed is not None
    assert parsed.message_id == RECEIPT.message_id
    assert (parsed.submitted, parsed.delivered) == (1, 1)
    assert parsed.submit_date == RECEIPT.submit_date
    assert parsed.done_date == RECEIPT.done_date
    assert parsed.stat == "DELIVRD"
    assert parsed.err == "000"
    assert parsed.text == "Hello there, this is"


def test_parse_is_tolerant() -> None:
    parsed = parse_receipt(
        "ID:  98765   Sub:1 DLVRD:0  Submit Date:250315143012  done  date:2503151431"
        " STAT:undeliv ERR:034 Text:caf\u00e9 id:not-a-key"
    )
    assert parsed is not None
    assert parsed.message_id == "98765"
    assert (parsed.submitted, parsed.delivered) == (1, 0)
    assert parsed.submit_date == datetime(2025, 3, 15, 14, 30, 12, tzinfo=UTC)
    assert parsed.done_date == datetime(2025, 3, 15, 14, 31, tzinfo=UTC)
    assert parsed.stat == "UNDELIV"
    assert parsed.err == "034"
    assert parsed.text == "caf\u00e9 id:not-a-key"


def test_parse_missing_fields() -> None:
    parsed = parse_receipt("id:abc stat:DELIVRD")
    assert parsed == DeliveryReceipt(
        message_id="abc", submitted=0, delivered=0, stat="DELIVRD", err="", text=""
    )
    only_stat = parse_receipt("stat:EXPIRED err:")
    assert only_stat is not None
    assert only_stat.message_id == ""
    assert only_stat.stat == "EXPIRED"
    bad_date = parse_receipt("id:1 submit date:99999 done date:2513451431 stat:DELIVRD")
    assert bad_date is not None
    assert bad_date.submit_date is None
    assert bad_date.done_date is None


def test_parse_not_a_receipt() -> None:
    assert parse_receipt("Hello, are you coming tonight?") is None
    assert parse_receipt("") is None


def test_receipt_pdu_and_back() -> None:
    pdu = receipt_pdu(
        RECEIPT,
        source_addr="254712345678",
        destination_addr="JUMBE",
        message_state=MessageState.DELIVERED,
    )
    assert pdu.esm_class == 0x04
    assert pdu.source_addr == "254712345678"
    assert pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] == b"0a1b2c3d4e\x00"
    assert pdu.tlvs[Tag.MESSAGE_STATE] == b"\x02"
    assert pdu.short_message.decode("ascii") == format_receipt(RECEIPT)
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DeliverSm)
    receipt = receipt_from_pdu(decoded)
    assert receipt is not None
    assert receipt.message_id == "0a1b2c3d4e"
    assert receipt.stat == "DELIVRD"
    assert tlv_int(decoded, Tag.MESSAGE_STATE) == MessageState.DELIVERED


def test_receipt_pdu_text_is_ascii() -> None:
    pdu = receipt_pdu(
        DeliveryReceipt(message_id="1", stat="DELIVRD", text="\u0645\u0631\u062d\u0628\u0627"),
        source_addr="1",
        destination_addr="2",
        message_state=MessageState.DELIVERED,
    )
    assert pdu.short_message.endswith(b"text:?????")


def test_tlvs_win_over_text() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=b"id:12345 stat:DELIVRD err:000")
    set_tlv_str(pdu, Tag.RECEIPTED_MESSAGE_ID, "00003039")
    set_tlv_int(pdu, Tag.MESSAGE_STATE, MessageState.UNDELIVERABLE, 1)
    receipt = receipt_from_pdu(pdu)
    assert receipt is not None
    assert receipt.message_id == "00003039"
    assert receipt.stat == "UNDELIV"


def test_tlv_only_receipt() -> None:
    pdu = DeliverSm(esm_class=0x04)
    set_tlv_str(pdu, Tag.RECEIPTED_MESSAGE_ID, "abc")
    set_tlv_int(pdu, Tag.MESSAGE_STATE, MessageState.EXPIRED, 1)
    receipt = receipt_from_pdu(pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat) == ("abc", "EXPIRED")


def test_data_sm_receipt_in_message_payload() -> None:
    pdu = DataSm(esm_class=0x04, tlvs={Tag.MESSAGE_PAYLOAD: b"id:77 stat:REJECTD err:002"})
    receipt = receipt_from_pdu(pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == ("77", "REJECTD", "002")


def test_ordinary_mo_is_not_a_receipt() -> None:
    assert receipt_from_pdu(DeliverSm(short_message=b"id:1 stat:DELIVRD")) is None
    assert receipt_from_pdu(DeliverSm(esm_class=0x04, short_message=b"garbage")) is None
