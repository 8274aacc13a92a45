import pytest
from hypothesis import given
from hypothesis import strategies as st

from jumbe.core.gsm import decode_gsm7, encode_gsm7, gsm7_length, gsm7_septets, is_gsm7

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"
GSM_ALPHABET = sorted(set(BASIC + EXTENSION))


def test_basic_table_codes() -> None:
    encoded = encode_gsm7(BASIC)
    assert encoded == bytes(c for c in range(128) if c != 0x1B)
    assert decode_gsm7(encoded) == BASIC
    assert gsm7_length(BASIC) == 127


def test_spot_codes() -> None:
    assert encode_gsm7("@") == b"\x00"
    assert encode_gsm7("$") == b"\x02"
    assert encode_gsm7("¤") == b"\x24"
    assert encode_gsm7("Δ") == b"\x10"
    assert encode_gsm7("à") == b"\x7f"


def test_extension_table_codes() -> None:
    encoded = encode_gsm7(EXTENSION)
    assert encoded == bytes(
        b
        for code in (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65)
        for b in (0x1B, code)
    )
    assert decode_gsm7(encoded) == EXTENSION
    assert gsm7_length(EXTENSION) == 20


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("", 0),
        ("hello", 5),
        ("a{b", 4),
        ("€", 2),
        ("Habari yako? Karibu!", 20),
        ("[x]", 5),
        ("£5 @ 10%", 8),
    ],
)
def test_lengths(text: str, septets: int) -> None:
    assert gsm7_length(text) == septets
    assert is_gsm7(text)
    assert len(encode_gsm7(text)) == septets


@pytest.mark.parametrize(
    "text",
    ["ç", "Karibu 😀", "你好", "it’s", "“quoted”", "`", "\x1b", "\t", "\x00", "Ω\u2126", "é\u0301"],
)
def test_non_gsm_characters(text: str) -> None:
    assert gsm7_length(text) is None
    assert gsm7_septets(text) is None
    assert not is_gsm7(text)
    with pytest.raises(ValueError):
        encode_gsm7(text)


def test_encode_error_names_the_character() -> None:
    with pytest.raises(ValueError, match="’"):
        encode_gsm7("it’s")


def test_no_look_alike_substitution() -> None:
    assert is_gsm7("Ç")
    assert not is_gsm7("ç")
    assert not is_gsm7("\u2126")  # OHM SIGN, not GREEK CAPITAL OMEGA


def test_decode_rejects_high_octets() -> None:
    with pytest.raises(ValueError):
        decode_gsm7(b"abc\x80")


def test_decode_unknown_escape_falls_back_to_basic_table() -> None:
    assert decode_gsm7(b"\x1bA") == "A"
    assert decode_gsm7(b"x\x1b\x00y") == "x@y"


def test_decode_double_escape_and_trailing_escape_are_spaces() -> None:
    assert decode_gsm7(b"a\x1b\x1bb") == "a b"
    assert decode_gsm7(b"ab\x1b") == "ab "


gsm_text = st.text(alphabet=GSM_ALPHABET)

# An independent, obviously-correct per-character encoder to check the table-driven fast paths.
REFERENCE = {ch: bytes([code]) for code, ch in enumerate(BASIC[:27] + "\x1b" + BASIC[27:])}
REFERENCE.update(
    zip(
        EXTENSION,
        (bytes([0x1B, c]) for c in (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65)),
        strict=True,
    )
)
del REFERENCE["\x1b"]


def reference_encode(text: str) -> bytes | None:
    try:
        return b"".join(REFERENCE[ch] for ch in text)
    except KeyError:
        return None


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_fast_path_matches_reference(text: str) -> None:
    _check_against_reference(text)


@given(st.text(alphabet=st.sampled_from([*GSM_ALPHABET, "ç", "’", "`", "\x1b", "😀", "ж"])))
def test_mixed_text_matches_reference(text: str) -> None:
    _check_against_reference(text)


def _check_against_reference(text: str) -> None:
    expected = reference_encode(text)
    if expected is None:
        assert gsm7_length(text) is None
        assert gsm7_septets(text) is None
        with pytest.raises(ValueError):
            encode_gsm7(text)
    else:
        assert encode_gsm7(text) == expected
        assert gsm7_length(text) == len(expected)
        assert gsm7_septets(text) == expected.decode("ascii")


@given(gsm_text)
def test_round_trip(text: str) -> None:
    encoded = encode_gsm7(text)
    assert decode_gsm7(encoded) == text
    assert len(encoded) == gsm7_length(text)


@given(st.text())
def test_is_gsm7_matches_alphabet(text: str) -> None:
    assert is_gsm7(text) == all(ch in GSM_ALPHABET for ch in text)


@given(st.binary().map(lambda b: bytes(x & 0x7F for x in b)))
def test_decode_never_fails_on_septets(data: bytes) -> None:
    assert is_gsm7(decode_gsm7(data))
