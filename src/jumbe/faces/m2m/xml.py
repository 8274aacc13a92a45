"""Reading and writing the M2M API's XML documents, safely.

Requests come from the internet, so they are parsed with ``defusedxml`` and
no document type declaration is accepted at all: no entity can expand (the
"billion laughs") and none can name an outside resource (XXE). The body is
capped (``MAX_DOCUMENT``) before the parser sees it, so even a well-formed
document cannot make the parser work hard. Answers are built with the
standard library's ElementTree, which escapes every value it writes.

The vendor's documents carry no namespace; one given anyway is ignored, so
``<m:send_sms xmlns:m="…">`` reads as ``send_sms``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml.ElementTree import fromstring

MAX_DOCUMENT = 16 * 1024  # bytes; the largest valid request is well under 1 KiB
SUCCESS = "success"
FAILURE = "failure"


class Refused(ValueError):
    """The request cannot be served as it is; ``str()`` is the error description."""


class Malformed(Refused):
    """The body is not a document this API can read at all."""


class TooLarge(Malformed):
    def __init__(self) -> None:
        super().__init__(f"the document is larger than {MAX_DOCUMENT} bytes")


def parse(raw: bytes) -> Element:
    """The root element of a request body; Malformed if it is not acceptable XML."""
    if len(raw) > MAX_DOCUMENT:
        raise TooLarge()
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        raise Malformed(f"malformed xml: {exc}") from None
    except LookupError as exc:  # an encoding declaration Python does not know
        raise Malformed(f"malformed xml: {exc}") from None
    except ValueError:  # defusedxml's DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        raise Malformed("document type declarations and entities are not accepted") from None
    return cast(Element, root)


def local_name(element: Element) -> str:
    """The tag without any ``{namespace}``."""
    return element.tag.rpartition("}")[2]


def child(parent: Element, name: str) -> Element | None:
    """The one child element called ``name``; None if absent, Refused if repeated."""
    found = [e for e in parent if local_name(e) == name]
    if len(found) > 1:
        raise Refused(f"invalid parameter: {name} is given more than once")
    return found[0] if found else None


def text(parent: Element, name: str, *, strip: bool = True) -> str | None:
    """The text of the child ``name``; None when it is absent or empty.

    Empty optional elements (``<origin/>``) are treated as absent, as generators
    that always write every element produce them. ``strip=False`` keeps the
    text exactly as sent (message text, passwords).
    """
    element = child(parent, name)
    if element is None:
        return None
    if len(element):
        raise Refused(f"invalid parameter: {name} must hold text, not elements")
    value = element.text or ""
    if strip:
        value = value.strip()
    return value if value.strip() else None


def response(
    call: str,
    api_id: str | None,
    *,
    error: str | None = None,
    items: Iterable[Element] = (),
) -> bytes:
    """``<{call}_response api_id="…">`` with the outcome: success, or failure and why."""
    root = Element(f"{call}_response", {"api_id": api_id} if api_id is not None else {})
    SubElement(root, "api_outcome").text = FAILURE if error is not None else SUCCESS
    if error is not None:
        SubElement(root, "error_description").text = error
    root.extend(items)
    return cast(bytes, tostring(root, encoding="utf-8", xml_declaration=False))


def element(name: str, fields: Iterable[tuple[str, str]] = ()) -> Element:
    """``<name>`` holding one text child per field, in order."""
    parent = Element(name)
    for field, value in fields:
        SubElement(parent, field).text = value
    return parent
