from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.core.gsm import encode_gsm7, is_gsm7
from jumbe.core.segments import (
    Concat,
    Encoding,
    billable_units,
    choose_encoding,
    concat_udh,
    decode_text,
    encode_text,
    segment,
    split_udh,
)

GSM_ALPHABET = sorted(
    set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
        "\f^{}\\[~]|€"
    )
)


@pytest.mark.parametrize(
    ("length", "parts"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm7_boundaries(length: int, parts: int) -> None:
    text = "a" * length
    seg = segment(text)
    assert seg.encoding is Encoding.GSM7
    assert seg.count == parts
    assert seg.length == length
    assert billable_units(text) == parts


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_boundaries(length: int, parts: int) -> None:
    text = "ж" * length
    seg = segment(text)
    assert seg.encoding is Encoding.UCS2
    assert seg.count == parts
    assert seg.length == length
    assert billable_units(text) == parts


def test_empty_text_is_one_empty_part() -> None:
    seg = segment("")
    assert seg.parts == ("",)
    assert seg.length == 0
    assert seg.count == 1
    assert billable_units("") == 1


def test_concatenated_gsm7_parts_are_153() -> None:
    seg = segment("a" * 161)
    assert [len(p) for p in seg.parts] == [153, 8]


def test_extension_char_fitting_exactly_in_single_message() -> None:
    seg = segment("a" * 158 + "€")
    assert seg.count == 1
    assert seg.length == 160


def test_extension_char_one_over_single_message() -> None:
    seg = segment("a" * 159 + "€")
    assert seg.count == 2
    assert seg.length == 161


def test_extension_char_at_part_boundary_moves_whole() -> None:
    # 152 plain septets, then '{' would occupy septets 153 and 154: it must start part two.
    text = "a" * 152 + "{" + "b" * 20
    seg = segment(text)
    assert seg.parts == ("a" * 152, "{" + "b" * 20)
    assert seg.length == 152 + 2 + 20


def test_extension_char_ending_exactly_at_boundary_stays() -> None:
    text = "a" * 151 + "{" + "b" * 20
    seg = segment(text)
    assert seg.parts == ("a" * 151 + "{", "b" * 20)


def test_extension_chars_can_add_a_part() -> None:
    # 153 extension chars are 306 septets, but each part only holds 76 of them.
    text = "€" * 153
    seg = segment(text)
    assert seg.length == 306
    assert [len(p) for p in seg.parts] == [76, 76, 1]
    assert billable_units(text) == 3


def test_emoji_at_ucs2_boundary_is_not_split() -> None:
    # 66 units then a 2-unit emoji would straddle the 67-unit boundary.
    text = "ж" * 66 + "😀" + "ж" * 10
    seg = segment(text)
    assert seg.encoding is Encoding.UCS2
    assert seg.parts == ("ж" * 66, "😀" + "ж" * 10)
    assert seg.length == 78


def test_emoji_counts_two_units() -> None:
    assert segment("😀" * 35).count == 1
    assert segment("😀" * 35).length == 70
    assert segment("😀" * 35 + "a").count == 2


def test_one_non_gsm_char_switches_to_ucs2() -> None:
    text = "a" * 100 + "’"
    assert choose_encoding("a" * 100) is Encoding.GSM7
    assert choose_encoding(text) is Encoding.UCS2
    seg = segment(text)
    assert seg.encoding is Encoding.UCS2
    assert seg.count == 2


def test_forced_encoding() -> None:
    assert segment("hello", Encoding.UCS2).encoding is Encoding.UCS2
    assert segment("hello", Encoding.GSM7).encoding is Encoding.GSM7
    with pytest.raises(ValueError):
        segment("ç", Encoding.GSM7)


def test_encode_decode_text() -> None:
    assert encode_text("a€", Encoding.GSM7) == b"a\x1b\x65"
    assert encode_text("a😀", Encoding.UCS2) == b"\x00a\xd8\x3d\xde\x00"
    assert decode_text(b"\x00a\xd8\x3d\xde\x00", Encoding.UCS2) == "a😀"
    assert decode_text(b"a\x1b\x65", Encoding.GSM7) == "a€"


def _check(text: str, seg_limit: tuple[int, int], unit_len: Callable[[str], int]) -> None:
    seg = segment(text)
    single, part = seg_limit
    assert "".join(seg.parts) == text
    assert billable_units(text) == seg.count
    assert sum(unit_len(p) for p in seg.parts) == seg.length
    limit = single if seg.count == 1 else part
    assert all(unit_len(p) <= limit for p in seg.parts)
    if seg.count > 1:
        assert all(p for p in seg.parts)
    # parts are greedy: the next character would not have fitted, so nobody is over-billed
    for this, following in zip(seg.parts, seg.parts[1:], strict=False):
        assert unit_len(this + following[0]) > limit


def _septets(text: str) -> int:
    return len(encode_gsm7(text))


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be", "surrogatepass")) // 2


@given(st.text(alphabet=GSM_ALPHABET, max_size=700))
def test_gsm7_properties(text: str) -> None:
    assert choose_encoding(text) is Encoding.GSM7
    _check(text, (160, 153), _septets)


@given(st.text(alphabet=st.sampled_from(["a", "€", "{"]), min_size=150, max_size=700))
def test_gsm7_properties_dense_extension_chars(text: str) -> None:
    _check(text, (160, 153), _septets)


@given(st.text(max_size=400))
def test_any_text_properties(text: str) -> None:
    encoding = choose_encoding(text)
    assert (encoding is Encoding.GSM7) == is_gsm7(text)
    assert segment(text).encoding is encoding
    _check(
        text,
        (160, 153) if encoding is Encoding.GSM7 else (70, 67),
        (_septets if encoding is Encoding.GSM7 else _utf16_units),
    )


@given(st.text(alphabet=st.sampled_from(["a", "ж", "😀", "€"]), max_size=400))
def test_ucs2_properties_with_surrogates(text: str) -> None:
    seg = segment(text, Encoding.UCS2)
    if not is_gsm7(text):
        _check(text, (70, 67), _utf16_units)
    assert "".join(seg.parts) == text
    limit = 70 if seg.count == 1 else 67
    assert all(_utf16_units(p) <= limit for p in seg.parts)
    assert sum(_utf16_units(p) for p in seg.parts) == seg.length
    # every part is whole text, so every part encodes on its own
    for p in seg.parts:
        assert decode_text(encode_text(p, Encoding.UCS2), Encoding.UCS2) == p


def test_concat_udh_bytes() -> None:
    assert concat_udh(0x42, 3, 1) == b"\x05\x00\x03\x42\x03\x01"


@given(
    st.integers(0, 255),
    st.integers(1, 255).flatmap(lambda t: st.tuples(st.just(t), st.integers(1, t))),
    st.binary(max_size=150),
)
def test_udh_round_trip(reference: int, total_seq: tuple[int, int], body: bytes) -> None:
    total, sequence = total_seq
    concat, rest = split_udh(concat_udh(reference, total, sequence) + body)
    assert concat == Concat(reference, total, sequence)
    assert rest == body


@pytest.mark.parametrize(
    ("ref", "total", "seq"), [(-1, 1, 1), (256, 1, 1), (0, 0, 0), (0, 256, 1), (0, 2, 3), (0, 2, 0)]
)
def test_concat_udh_validates(ref: int, total: int, seq: int) -> None:
    with pytest.raises(ValueError):
        concat_udh(ref, total, seq)


def test_split_udh_16_bit_reference() -> None:
    concat, rest = split_udh(b"\x06\x08\x04\x12\x34\x02\x01hello")
    assert concat == Concat(0x1234, 2, 1)
    assert rest == b"hello"


def test_split_udh_skips_other_ies() -> None:
    # application port addressing (0x05) before the concatenation IE
    payload = b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x07\x02\x02body"
    concat, rest = split_udh(payload)
    assert concat == Concat(7, 2, 2)
    assert rest == b"body"


def test_split_udh_without_concat() -> None:
    assert split_udh(b"\x06\x05\x04\x0b\x84\x23\xf0xyz") == (None, b"xyz")
    assert split_udh(b"\x00abc") == (None, b"abc")


def test_split_udh_ignores_impossible_concat_values() -> None:
    assert split_udh(b"\x05\x00\x03\x01\x02\x03x") == (None, b"x")
    assert split_udh(b"\x05\x00\x03\x01\x00\x00x") == (None, b"x")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x05\x00\x03\x01",  # header longer than payload
        b"\x02\x00\x03",  # IE runs past header end
        b"\x01\x00",  # IE with no length octet
        b"\x04\x00\x02\x01\x02",  # 8-bit concat IE of the wrong size
        b"\x05\x08\x03\x01\x02\x01",  # 16-bit concat IE of the wrong size
    ],
)
def test_split_udh_rejects_truncated_or_inconsistent_headers(payload: bytes) -> None:
    with pytest.raises(ValueError):
        split_udh(payload)


def test_gsm7_text_after_udh_is_remaining_octets() -> None:
    body = encode_text("Habari {rafiki}", Encoding.GSM7)
    concat, rest = split_udh(concat_udh(1, 2, 1) + body)
    assert concat == Concat(1, 2, 1)
    assert decode_text(rest, Encoding.GSM7) == "Habari {rafiki}"
