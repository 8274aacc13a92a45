"""On-air payloads: Jumbe's own splitting, binary data, and sender-headed segments."""

from __future__ import annotations

import pytest

from jumbe.core.data_coding import data_coding_for, decode_short_message
from jumbe.core.segments import concat_udh, split_udh
from jumbe.core.user_data import BINARY, capacity, part_count, payloads


def test_capacity_after_a_udh() -> None:
    assert capacity("gsm7", 0) == 160 and capacity("gsm7", 6) == 153 and capacity("gsm7", 7) == 152
    assert capacity("ucs2", 0) == 70 and capacity("ucs2", 6) == 67
    assert capacity(BINARY, 0) == 140 and capacity(BINARY, 6) == 134
    with pytest.raises(ValueError):
        capacity("latin1", 0)


def test_short_text_is_one_bare_payload() -> None:
    assert payloads("hello", "gsm7", 0, None) == [b"hello"]
    assert payloads("Ω", "ucs2", 0, None) == ["Ω".encode("utf-16-be")]


def test_long_text_gets_jumbes_concatenation_header() -> None:
    parts = payloads("a" * 200, "gsm7", 77, None)
    headers = [split_udh(p) for p in parts]
    assert [(h.reference, h.total, h.sequence) for h, _ in headers] == [(77, 2, 1), (77, 2, 2)]
    assert b"".join(rest for _, rest in headers) == b"a" * 200


def test_binary_is_split_by_octets() -> None:
    data = bytes(range(256)) + bytes(44)  # 300 octets: three parts of at most 134
    parts = payloads(data.hex(), BINARY, 5, None)
    assert len(parts) == 3 == part_count(data.hex(), BINARY, None)
    assert b"".join(split_udh(p)[1] for p in parts) == data
    assert payloads(bytes(140).hex(), BINARY, 5, None) == [bytes(140)]


def test_a_senders_own_header_is_kept_verbatim() -> None:
    udh = concat_udh(9, 3, 2)
    assert payloads("middle part", "gsm7", 0, udh) == [udh + b"middle part"]
    port_udh = bytes.fromhex("060504158A0000")  # application port addressing
    assert payloads("00ff", BINARY, 0, port_udh) == [port_udh + b"\x00\xff"]
    assert part_count("x" * 150, "gsm7", udh) == 1


def test_data_coding_round_trip() -> None:
    assert [data_coding_for(e) for e in ("gsm7", "ucs2", BINARY)] == [0, 8, 4]
    assert decode_short_message(8, "Habari 😀".encode("utf-16-be")) == ("Habari 😀", "ucs2")
    assert decode_short_message(4, b"\x01\x02") == ("0102", "binary")
    assert decode_short_message(3, "café".encode("latin-1")) == ("café", "latin1")
    assert decode_short_message(8, b"\x00") == ("00", "binary")  # odd UCS-2: kept as data
