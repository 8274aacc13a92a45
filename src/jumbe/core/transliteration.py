"""Typographic punctuation to its plain GSM 03.38 equivalent, for APIs that take GSM text only.

Word processors and phones turn ``'`` into ``’``, ``"`` into ``“ ”`` and ``-``
into ``–``; none of those is in the GSM 7-bit alphabet. An API that accepts
only that alphabet (the M2M XML API, whose own example message is "let’s meet
at the station") would otherwise refuse text its author cannot see anything
wrong with. Only characters whose plain form means the same are replaced;
letters are never touched, so a message in another script is still refused
rather than silently garbled.
"""

__all__ = ["gsm_transliterate"]

_PLAIN: dict[int, str] = {
    **dict.fromkeys(map(ord, "‘’‚‛′ʼ"), "'"),
    **dict.fromkeys(map(ord, "“”„‟″"), '"'),
    **dict.fromkeys(map(ord, "‐‑‒–—―−"), "-"),
    **dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f"), " "),  # no-break and thin spaces
    ord("…"): "...",
}


def gsm_transliterate(text: str) -> str:
    """``text`` with typographic quotes, dashes, spaces and the ellipsis made plain.

    The result can be longer than the input (``…`` becomes three characters):
    count after transliterating, not before.
    """
    return text if text.isascii() else text.translate(_PLAIN)
