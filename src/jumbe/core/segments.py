"""Encoding choice, splitting into SMS parts, billing units and the concatenation UDH.

Customers are billed per part, so the split here must match what the SMSC and handset do:
limits are counted in septets (GSM7) or UTF-16 code units (UCS2), and a part boundary never
falls inside an extension character or a surrogate pair, since either would garble the text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from jumbe.core.gsm import decode_gsm7, encode_gsm7, gsm7_length, gsm7_septets, is_gsm7

__all__ = [
    "Concat",
    "Encoding",
    "Segmentation",
    "billable_units",
    "choose_encoding",
    "concat_udh",
    "decode_text",
    "encode_text",
    "segment",
    "split_udh",
]


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


GSM7_SINGLE = 160
GSM7_PART = 153  # 160 minus the 6-octet concatenation UDH (7 septets with fill bits)
UCS2_SINGLE = 70
UCS2_PART = 67  # 70 minus the 6-octet UDH (3 code units)

_ESC = "\x1b"
_IE_CONCAT_8 = 0x00
_IE_CONCAT_16 = 0x08


@dataclass(frozen=True, slots=True)
class Segmentation:
    encoding: Encoding
    parts: tuple[str, ...]
    length: int  # total septets (GSM7) or UTF-16 code units (UCS2)

    @property
    def count(self) -> int:
        return len(self.parts)


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    sequence: int


def choose_encoding(text: str) -> Encoding:
    """GSM7 whenever possible: a UCS2 part holds fewer than half the characters."""
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def segment(text: str, encoding: Encoding | None = None) -> Segmentation:
    """Split ``text`` into the parts that will be sent, choosing the encoding if not given.

    Raises ValueError when GSM7 is forced on text outside the GSM alphabet.
    """
    if encoding is not Encoding.UCS2:
        length = gsm7_length(text)
        if length is not None:
            return _segment_gsm7(text, length)
        if encoding is Encoding.GSM7:
            encode_gsm7(text)  # raises ValueError naming the offending characters
    return _segment_ucs2(text)


def _segment_gsm7(text: str, length: int) -> Segmentation:
    if length <= GSM7_SINGLE:
        return Segmentation(Encoding.GSM7, (text,), length)
    if length == len(text):  # no extension characters: septets and characters line up
        parts = tuple(text[i : i + GSM7_PART] for i in range(0, length, GSM7_PART))
        return Segmentation(Encoding.GSM7, parts, length)
    septets = gsm7_septets(text)
    assert septets is not None  # gsm7_length already accepted the text
    out: list[str] = []
    start_s = start_t = 0
    while start_s < length:
        end_s = min(start_s + GSM7_PART, length)
        # 0x1B only ever appears as the first septet of an extension pair, so a part ending on
        # it would split the pair: leave it for the next part.
        if septets[end_s - 1] == _ESC:
            end_s -= 1
        chars = end_s - start_s - septets.count(_ESC, start_s, end_s)
        out.append(text[start_t : start_t + chars])
        start_t += chars
        start_s = end_s
    return Segmentation(Encoding.GSM7, tuple(out), length)


def _segment_ucs2(text: str) -> Segmentation:
    # surrogatepass so lone surrogates (possible in str, e.g. from JSON) are still counted.
    data = text.encode("utf-16-be", "surrogatepass")
    length = len(data) // 2
    if length <= UCS2_SINGLE:
        return Segmentation(Encoding.UCS2, (text,), length)
    if length == len(text):  # no surrogate pairs: one code unit per character
        parts = tuple(text[i : i + UCS2_PART] for i in range(0, length, UCS2_PART))
        return Segmentation(Encoding.UCS2, parts, length)
    out: list[str] = []
    start = 0
    size = len(data)
    while start < size:
        end = min(start + 2 * UCS2_PART, size)
        if end < size and 0xD8 <= data[end - 2] <= 0xDB:  # high surrogate: keep the pair whole
            end -= 2
        out.append(data[start:end].decode("utf-16-be", "surrogatepass"))
        start = end
    return Segmentation(Encoding.UCS2, tuple(out), length)


def billable_units(text: str) -> int:
    """One unit per part, so a customer is charged exactly for what goes on the air."""
    return len(segment(text).parts)


def encode_text(text: str, encoding: Encoding) -> bytes:
    """GSM7 as unpacked septets, UCS2 as UTF-16-BE, which is what SMSCs and handsets use."""
    if encoding is Encoding.GSM7:
        return encode_gsm7(text)
    return text.encode("utf-16-be")


def decode_text(data: bytes, encoding: Encoding) -> str:
    """Raises ValueError on malformed data. Decode a reassembled multi-part UCS2 message as one
    byte string, not part by part: some handsets split a surrogate pair across parts."""
    if encoding is Encoding.GSM7:
        return decode_gsm7(data)
    return data.decode("utf-16-be")


def concat_udh(reference: int, total: int, sequence: int) -> bytes:
    """The 6-octet UDH with the 8-bit reference IE; the 16-bit form costs a septet per part
    and 256 references in flight per destination is plenty."""
    if not 0 <= reference <= 255:
        raise ValueError(f"concatenation reference must be 0..255, got {reference}")
    if not 1 <= total <= 255:
        raise ValueError(f"concatenation total must be 1..255, got {total}")
    if not 1 <= sequence <= total:
        raise ValueError(f"concatenation sequence must be 1..{total}, got {sequence}")
    return bytes((0x05, _IE_CONCAT_8, 0x03, reference, total, sequence))


def split_udh(payload: bytes) -> tuple[Concat | None, bytes]:
    """Parse a UDH-prefixed payload into its concatenation info and the text octets.

    Unknown IEs are skipped so that, e.g., port addressing does not break reassembly. A
    concatenation IE whose values are impossible (total 0, sequence 0 or beyond total) is
    ignored, as 3GPP 23.040 tells receivers to do; a header whose lengths do not add up
    raises ValueError because the text boundary itself is then unknown.
    """
    if not payload:
        raise ValueError("empty payload: no UDH length octet")
    end = 1 + payload[0]
    if end > len(payload):
        raise ValueError(f"UDH length {payload[0]} exceeds payload of {len(payload)} octets")
    concat: Concat | None = None
    i = 1
    while i < end:
        if i + 2 > end:
            raise ValueError("truncated information element in UDH")
        iei, iel = payload[i], payload[i + 1]
        body = payload[i + 2 : i + 2 + iel]
        i += 2 + iel
        if i > end:
            raise ValueError(f"information element 0x{iei:02x} runs past the end of the UDH")
        if iei in (_IE_CONCAT_8, _IE_CONCAT_16):
            concat = _concat_ie(iei, body)  # a repeated IE: the last one wins (23.040)
    return concat, payload[end:]


def _concat_ie(iei: int, body: Sequence[int]) -> Concat | None:
    if iei == _IE_CONCAT_8:
        if len(body) != 3:
            raise ValueError(f"8-bit concatenation IE must be 3 octets, got {len(body)}")
        reference, total, sequence = body
    else:
        if len(body) != 4:
            raise ValueError(f"16-bit concatenation IE must be 4 octets, got {len(body)}")
        reference = body[0] << 8 | body[1]
        total, sequence = body[2], body[3]
    if total == 0 or not 1 <= sequence <= total:
        return None
    return Concat(reference, total, sequence)
