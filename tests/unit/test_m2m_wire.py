"""The M2M face's pure parts: safe parsing, reading elements, content rules, answers."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring

from jumbe.faces.m2m.content import Content, content
from jumbe.faces.m2m.xml import (
    MAX_DOCUMENT,
    Malformed,
    Refused,
    TooLarge,
    element,
    local_name,
    parse,
    response,
    text,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE send_sms [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<send_sms><message_text>&lol3;</message_text></send_sms>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE send_sms [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<send_sms><message_text>&secret;</message_text></send_sms>"""
EXTERNAL_DTD = b'<!DOCTYPE send_sms SYSTEM "http://attacker.example/m2m.dtd"><send_sms/>'


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_no_dtd_and_so_no_entity_is_accepted(body: bytes) -> None:
    with pytest.raises(Malformed, match="document type declarations"):
        parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<send_sms>",
        b"send_sms",
        b"<send_sms>&undeclared;</send_sms>",
        b'<?xml version="1.0" encoding="no-such-encoding"?><send_sms/>',
        b"\xff\xfe\x00<",
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(Malformed, match="malformed xml"):
        parse(body)


def test_size_is_capped_before_parsing() -> None:
    padding = b" " * (MAX_DOCUMENT - len(b"<send_sms></send_sms>"))
    assert local_name(parse(b"<send_sms>" + padding + b"</send_sms>")) == "send_sms"
    with pytest.raises(TooLarge, match=str(MAX_DOCUMENT)):
        parse(b"<send_sms>" + padding + b" </send_sms>")


def test_declared_encodings_and_namespaces() -> None:
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><send_sms><x>café</x></send_sms>'
    assert text(parse(latin.encode("latin-1")), "x") == "café"
    root = parse(b'<m:send_sms xmlns:m="urn:vendor"><m:iccid> 89 </m:iccid></m:send_sms>')
    assert (local_name(root), text(root, "iccid")) == ("send_sms", "89")


def test_reading_elements() -> None:
    root = parse(
        b"<send_sms><origin/><sms_uid>  </sms_uid><message_text> hi </message_text>"
        b"<iccid><b>1</b></iccid><lastx>1</lastx><lastx>2</lastx></send_sms>"
    )
    assert text(root, "origin") is None  # empty optional elements count as absent
    assert text(root, "sms_uid") is None
    assert text(root, "absent") is None
    assert text(root, "message_text") == "hi"
    assert text(root, "message_text", strip=False) == " hi "
    with pytest.raises(Refused, match="iccid must hold text"):
        text(root, "iccid")
    with pytest.raises(Refused, match="lastx is given more than once"):
        text(root, "lastx")


def test_answers_have_the_documented_shape() -> None:
    assert response("send_sms", "123456") == (
        b'<send_sms_response api_id="123456"><api_outcome>success</api_outcome></send_sms_response>'
    )
    failed = fromstring(response("send_sms", None, error='bad <"&> input'))
    assert failed.attrib == {}
    assert [(e.tag, e.text) for e in failed] == [
        ("api_outcome", "failure"),
        ("error_description", 'bad <"&> input'),
    ]
    listed = fromstring(
        response("query_sms_mt_details", "7", items=[element("sms", [("status", "pending")])])
    )
    assert [e.tag for e in listed] == ["api_outcome", "sms"]
    assert listed.find("sms/status").text == "pending"  # type: ignore[union-attr]


def test_text_content() -> None:
    assert content("let’s meet at the station", None) == Content(text="let's meet at the station")
    assert content("x" * 160, "default") == Content(text="x" * 160)
    assert content("€" * 80, "DEFAULT").text == "€" * 80  # extension characters count two
    with pytest.raises(Refused, match="invalid content: message_text counts 161"):
        content("x" * 161, None)
    with pytest.raises(Refused, match="invalid content: message_text counts 162"):
        content("€" * 81, None)
    with pytest.raises(Refused, match=r"invalid content: .*outside the GSM.*'日本'"):
        content("日本 ok 日", None)
    with pytest.raises(Refused, match="invalid parameter: data_coding"):
        content("hi", "ucs2")


def test_binary_content() -> None:
    # the document's example values 00 01 ff fe 80 7f (its copy lost the upper case)
    assert content("AAH//oB/", "binary") == Content(binary=bytes.fromhex("0001fffe807f"))
    assert content(" " + "A" * 160 + "\n", "binary").binary == bytes(120)
    with pytest.raises(Refused, match="binary payload is 123 bytes; at most 120"):
        content("A" * 164, "binary")
    for not_base64 in ("AAH", "AA H//oB/", "AAH//oB/=", "AAF=", "€€€€"):
        with pytest.raises(Refused, match="invalid content: binary message_text must be base64"):
            content(not_base64, "binary")
