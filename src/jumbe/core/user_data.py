"""The user data of each segment as it goes on the air: encoded text or octets, and a UDH.

A message reaches this point in one of three shapes: text Jumbe splits itself
(with its own concatenation header), 8-bit binary data (split the same way), or
one segment the sender already cut and headed (an SMPP client's UDH or SAR
segment), whose header is passed on verbatim so the handset reassembles it
exactly as the sender meant.
"""

from __future__ import annotations

import math

from jumbe.core.segments import Encoding, concat_udh, encode_text, segment

BINARY = "binary"
BINARY_SINGLE = 140
BINARY_PART = 134  # 140 octets minus the 6-octet concatenation UDH
_SMS_OCTETS = 140


def capacity(encoding: str, udh_octets: int) -> int:
    """Room left in one segment after a UDH: septets (GSM7), UTF-16 units (UCS2) or octets."""
    if encoding == Encoding.GSM7:
        return 160 - math.ceil(udh_octets * 8 / 7) if udh_octets else 160
    if encoding == Encoding.UCS2:
        return (_SMS_OCTETS - udh_octets) // 2
    if encoding == BINARY:
        return _SMS_OCTETS - udh_octets
    raise ValueError(f"unknown encoding {encoding!r}")


def binary_parts(data: bytes) -> list[bytes]:
    if len(data) <= BINARY_SINGLE:
        return [data]
    return [data[i : i + BINARY_PART] for i in range(0, len(data), BINARY_PART)]


def part_count(body: str, encoding: str, udh: bytes | None) -> int:
    """How many segments a stored message body makes (a sender-headed segment is one)."""
    if udh is not None:
        return 1
    if encoding == BINARY:
        return len(binary_parts(bytes.fromhex(body)))
    return segment(body, Encoding(encoding)).count


def payloads(body: str, encoding: str, concat_ref: int, udh: bytes | None) -> list[bytes]:
    """The user data of every segment, UDH included where there is one.

    ``body`` is text, or hex for binary messages (as stored). Jumbe's own
    concatenation uses the 8-bit reference ``concat_ref``.
    """
    if udh is not None:
        data = bytes.fromhex(body) if encoding == BINARY else encode_text(body, Encoding(encoding))
        return [udh + data]
    if encoding == BINARY:
        chunks = binary_parts(bytes.fromhex(body))
    else:
        layout = segment(body, Encoding(encoding))
        chunks = [encode_text(part, layout.encoding) for part in layout.parts]
    if len(chunks) == 1:
        return chunks
    return [concat_udh(concat_ref, len(chunks), n) + c for n, c in enumerate(chunks, start=1)]
