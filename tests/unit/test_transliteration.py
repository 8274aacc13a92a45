from hypothesis import given
from hypothesis import strategies as st

from jumbe.core.gsm import is_gsm7
from jumbe.core.transliteration import gsm_transliterate


def test_the_m2m_documents_example_becomes_gsm() -> None:
    assert gsm_transliterate("let’s meet at the station") == "let's meet at the station"
    assert is_gsm7(gsm_transliterate("let’s meet at the station"))


def test_quotes_dashes_spaces_and_the_ellipsis() -> None:
    assert gsm_transliterate("‘a’ “b” „c‟ 5′ 6″") == '\'a\' "b" "c" 5\' 6"'
    assert gsm_transliterate("9–5 — yes − no ‐ ‑") == "9-5 - yes - no - -"
    assert gsm_transliterate("10\u00a0km\u202fh\u2009x\u2007y") == "10 km h x y"
    assert gsm_transliterate("wait…") == "wait..."


def test_letters_and_gsm_text_are_left_alone() -> None:
    for text in ("Habari yako", "Ünïcødé", "日本語", "€ {} [x]", "ça", ""):
        assert gsm_transliterate(text) == text


TYPOGRAPHIC = "‘’‚‛′ʼ“”„‟″‐‑‒–—―−\u00a0\u2007\u2009\u202f…"


@given(st.text(alphabet=st.sampled_from("aZ'\"-. €é日\n") | st.sampled_from(TYPOGRAPHIC)))
def test_typography_is_all_that_changes(text: str) -> None:
    changed = gsm_transliterate(text)
    assert not any(ch in TYPOGRAPHIC for ch in changed)
    without = "".join(ch for ch in text if ch not in TYPOGRAPHIC)
    assert is_gsm7(changed) == is_gsm7(without)
    assert "".join(ch for ch in changed if ch not in "'\"-. ") == "".join(
        ch for ch in without if ch not in "'\"-. "
    )
