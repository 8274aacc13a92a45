"""Text from an SMS payload, by its data coding scheme (GSM 03.38 / SMPP data_coding).

Inbound traffic comes with whatever coding the handset or carrier chose; every
payload is stored, so anything that is not text we can read is kept as hex
with the encoding ``binary`` rather than rejected.
"""

from __future__ import annotations

from jumbe.core.segments import Encoding, decode_text

_GSM7 = Encoding.GSM7.value
_UCS2 = Encoding.UCS2.value


def alphabet(data_coding: int) -> str:
    """'gsm7', 'ascii', 'latin1', 'ucs2' or 'binary' for a data_coding octet."""
    if data_coding == 0x00:
        return _GSM7
    if data_coding == 0x01:
        return "ascii"
    if data_coding == 0x03:
        return "latin1"
    if data_coding == 0x08:
        return _UCS2
    if data_coding & 0xF0 == 0xF0:  # message class group: bit 2 picks 8-bit data
        return "binary" if data_coding & 0x04 else _GSM7
    if data_coding & 0xC0 == 0x00:  # general data coding group: bits 3-2 name the alphabet
        return {0x00: _GSM7, 0x04: "binary", 0x08: _UCS2}.get(data_coding & 0x0C, "binary")
    return "binary"


def decode_short_message(data_coding: int, payload: bytes) -> tuple[str, str]:
    """(text, encoding); payloads that do not decode as their coding claims are kept as hex."""
    name = alphabet(data_coding)
    try:
        if name == _GSM7:
            return decode_text(payload, Encoding.GSM7), name
        if name == _UCS2:
            return decode_text(payload, Encoding.UCS2), name
        if name == "ascii":
            return payload.decode("ascii"), name
        if name == "latin1":
            return payload.decode("latin-1"), name
    except (ValueError, UnicodeDecodeError):
        pass
    return payload.hex(), "binary"


_DATA_CODING = {_GSM7: 0x00, _UCS2: 0x08, "binary": 0x04}


def data_coding_for(encoding: str) -> int:
    """The data_coding octet Jumbe sends a stored message with."""
    return _DATA_CODING[encoding]
