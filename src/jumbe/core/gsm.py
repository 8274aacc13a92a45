"""GSM 03.38 default alphabet, unpacked (one septet per octet, as SMPP data_coding 0 carries it).

Every function runs on the per-message hot path, so all work is done by C-level primitives
(bytes/str translate, precompiled regexes) over tables built at import; a per-character Python
loop is left only for decoding text that contains escapes.
"""

import re

__all__ = ["decode_gsm7", "encode_gsm7", "gsm7_length", "gsm7_septets", "is_gsm7"]

ESCAPE = 0x1B

# Index = septet value. 0x1B is the escape to the extension table, not a character.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
assert len(BASIC) == 128

# Maps each character to its septet(s) as a str of code points < 0x80, so that the result of a
# translate is ASCII exactly when every character was encodable.
_NOT_GSM = "\x80"
_ENCODE: dict[int, str] = {c: _NOT_GSM for c in range(0x80)}
_ENCODE.update({ord(ch): chr(code) for code, ch in enumerate(BASIC) if code != ESCAPE})
_ENCODE.update({ord(ch): chr(ESCAPE) + chr(code) for code, ch in EXTENSION.items()})

_DECODE: dict[int, str] = {code: ch for code, ch in enumerate(BASIC) if code != ESCAPE}
# 03.38: an escape the receiver does not understand shows the basic-table character, and
# 0x1B 0x1B (reserved for a further table) shows a space.
_DECODE_ESCAPED: dict[int, str] = {**_DECODE, **EXTENSION, ESCAPE: " "}

GSM_CHARACTERS = frozenset(ch for code, ch in enumerate(BASIC) if code != ESCAPE) | frozenset(
    EXTENSION.values()
)

# Most traffic is plain ASCII, where bytes.translate with a 256-byte table is several times
# cheaper than str.translate with a dict. These sets drive that path.
_ASCII_BASIC = bytes(ord(ch) for ch in GSM_CHARACTERS if ch.isascii() and ch in BASIC)
_ASCII_GSM = bytes(ord(ch) for ch in GSM_CHARACTERS if ch.isascii())
_ASCII_EXTENSION = bytes(ord(ch) for ch in EXTENSION.values() if ch.isascii())
_ASCII_TO_SEPTET = bytes(ord(_ENCODE[b]) if b in _ASCII_BASIC else 0 for b in range(256))

# For non-ASCII text a C-level regex scan beats str.translate's per-character dict lookups.
_find_non_gsm = re.compile(
    "[^" + "".join(re.escape(ch) for ch in sorted(GSM_CHARACTERS)) + "]"
).search
_find_extension = re.compile(
    "[" + "".join(re.escape(ch) for ch in sorted(EXTENSION.values())) + "]"
).findall


def gsm7_septets(text: str) -> str | None:
    """The unpacked septets as a str (one code point per septet), or None if not encodable.

    Public so segmentation can find where extension pairs sit when it has to split them.
    """
    if not text.isascii() and _find_non_gsm(text) is not None:
        return None
    septets = text.translate(_ENCODE)
    return septets if septets.isascii() else None


def gsm7_length(text: str) -> int | None:
    """Septets needed for ``text`` (extension characters take two), or None if any character
    is outside the alphabet; segmentation and billing both hinge on this count."""
    if text.isascii():
        data = text.encode("ascii")
        if data.translate(None, _ASCII_GSM):
            return None  # something survived deleting every GSM character
        return 2 * len(data) - len(data.translate(None, _ASCII_EXTENSION))
    if _find_non_gsm(text) is not None:
        return None
    return len(text) + len(_find_extension(text))


def is_gsm7(text: str) -> bool:
    """True when the text can go out in the 7-bit alphabet instead of more expensive UCS2."""
    return gsm7_length(text) is not None


def encode_gsm7(text: str) -> bytes:
    """Encode to unpacked septets; raises ValueError rather than substituting look-alikes,
    because silently changing a customer's text is worse than switching encoding."""
    if text.isascii():
        data = text.encode("ascii")
        if not data.translate(None, _ASCII_BASIC):  # one octet per character: a table lookup
            return data.translate(_ASCII_TO_SEPTET)
    septets = gsm7_septets(text)
    if septets is None:
        bad = "".join(dict.fromkeys(ch for ch in text if ch not in GSM_CHARACTERS))
        raise ValueError(f"not in the GSM 7-bit alphabet: {bad!r}")
    return septets.encode("ascii")


def decode_gsm7(data: bytes) -> str:
    """Decode unpacked septets, forgiving odd escapes since handsets and SMSCs send them."""
    if not data.isascii():
        raise ValueError("GSM 7-bit data has an octet >= 0x80; is it packed or 8-bit data?")
    text = data.decode("ascii")
    if "\x1b" not in text:
        return text.translate(_DECODE)
    out: list[str] = []
    escaped = False
    for ch in text:
        code = ord(ch)
        if escaped:
            out.append(_DECODE_ESCAPED[code])
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            out.append(_DECODE[code])
    if escaped:
        out.append(" ")  # a trailing escape with nothing after it: treat like 0x1B 0x1B
    return "".join(out)
