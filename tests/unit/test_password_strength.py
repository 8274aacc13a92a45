"""Which passwords people may choose, and the reason they are told when not."""

from __future__ import annotations

import pytest

from jumbe.core.password_strength import MAX_LENGTH, PERSONAL, weakness

ME = ("Duka Letu Ltd", "Wanjiku Kamau", "wanjiku.kamau@duka.co.ke")


@pytest.mark.parametrize(
    "password",
    [
        "Kettle-Mango-Rhino-42",
        "correct horse battery staple",
        "kq8#Lm2!zPw&",
        "x" * 3 + "Ylq7!vB9qZ",
    ],
)
def test_strong_passwords_pass(password: str) -> None:
    assert weakness(password, ME) is None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "password must be at least 10 characters"),
        ("x" * (MAX_LENGTH + 1), f"password must be at most {MAX_LENGTH} characters"),
        (" " * 12, "password must not be only spaces"),
        ("password1234", "password is too weak: This is a very common password."),
        ("aaaaaaaaaaaa", 'password is too weak: Repeats like "aaa" are easy to guess.'),
        ("DukaLetuLtd#1", PERSONAL),
        ("wanjiku.kamau@duka.co.ke", PERSONAL),
        ("kamauwanjiku99", PERSONAL),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    found = weakness(password, ME)
    assert found is not None and found.startswith(reason), found


def test_personal_details_only_count_for_the_person() -> None:
    assert weakness("kamauwanjiku99") is None  # a stranger's name is just letters to zxcvbn
