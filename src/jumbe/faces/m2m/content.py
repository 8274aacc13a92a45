"""What ``send_sms`` accepts as a message: the document's content rules.

``message_text`` is at most 160 characters of the GSM 7-bit default alphabet,
characters of the extension table counting two; anything else is "invalid
content". Typographic quotes, dashes and the like are first made plain (the
document's own example, "let’s meet at the station", has a typographic
apostrophe). With ``data_coding`` ``binary``, ``message_text`` is the base64
form, still at most 160 characters, of at most 120 bytes.

Whether the SIM takes binary at all is the SIM type's rule, checked by the
device messaging service.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from jumbe.core.gsm import GSM_CHARACTERS, gsm7_length
from jumbe.core.transliteration import gsm_transliterate
from jumbe.faces.m2m.xml import Refused

MAX_CHARACTERS = 160
MAX_BINARY_OCTETS = 120
DATA_CODINGS = ("default", "binary")


class InvalidContent(Refused):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid content: {reason}")


@dataclass(frozen=True, slots=True)
class Content:
    """Exactly one of ``text`` and ``binary`` is set."""

    text: str = ""
    binary: bytes | None = None


def content(message_text: str, data_coding: str | None) -> Content:
    """The message ``message_text`` stands for under ``data_coding`` (default: ``default``)."""
    coding = (data_coding or "default").lower()
    if coding == "binary":
        return Content(binary=binary_content(message_text))
    if coding == "default":
        return Content(text=text_content(message_text))
    raise Refused(f"invalid parameter: data_coding must be one of {', '.join(DATA_CODINGS)}")


def text_content(message_text: str) -> str:
    """The text as it will be sent: plain punctuation, GSM 7-bit, 160 characters at most."""
    text = gsm_transliterate(message_text)
    length = gsm7_length(text)
    if length is None:
        outside = "".join(dict.fromkeys(ch for ch in text if ch not in GSM_CHARACTERS))
        raise InvalidContent(f"characters outside the GSM 7-bit default alphabet: {outside!r}")
    if length > MAX_CHARACTERS:
        raise InvalidContent(
            f"message_text counts {length} characters (extension characters count two);"
            f" at most {MAX_CHARACTERS}"
        )
    return text


def binary_content(message_text: str) -> bytes:
    """The bytes of base64 ``message_text``: strict, canonical base64, 120 bytes at most."""
    encoded = message_text.strip()
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        data = None
    # canonical only: no surplus padding or stray bits, so the bytes are what was meant
    if data is None or base64.b64encode(data).decode("ascii") != encoded:
        raise InvalidContent("binary message_text must be base64")
    # strict base64 is 4 characters per 3 bytes, so 120 bytes are exactly 160 characters
    if len(data) > MAX_BINARY_OCTETS:
        raise InvalidContent(
            f"binary payload is {len(data)} bytes; at most {MAX_BINARY_OCTETS}"
            f" ({MAX_CHARACTERS} characters of base64)"
        )
    return data
