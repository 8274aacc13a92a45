"""Whether a password people choose is strong enough, and if not, why.

Length alone lets "Password123!" through, and composition rules ("a digit
and a symbol") push people to exactly such passwords. zxcvbn (Dropbox's
estimator) instead estimates how many guesses a password takes, knowing
common passwords, dictionary words, names, keyboard patterns, dates,
repeats and l33t substitutions, and what the person told us about
themselves (their email, name, organisation). We ask for its score 3 of 4
("safely unguessable": about 10^8 guesses or more) and at least
``MIN_LENGTH`` characters, and pass its own explanation on.

Two rules come before it: a password that contains the person's whole
email, name or organisation's name is refused outright, and so is one made
mostly of the pieces of them (zxcvbn would score "janedoe2024!" 3 for Jane
Doe: enough guesses for a stranger, not for someone who knows her).

zxcvbn's time grows fast with the length it is given (a random 64 characters
can take 0.4 s), so it looks at the first ``JUDGED_LENGTH`` characters: a
password strong there is strong. It keeps the personal words in a module
global, so calls are serialised; callers on an event loop run ``weakness``
in a thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 128
JUDGED_LENGTH = 40
MIN_SCORE = 3
PERSONAL = "password is too weak: it is built on your email, name or organisation's name"
_zxcvbn_turn = threading.Lock()


def weakness(password: str, personal: Iterable[str] = ()) -> str | None:
    """Why ``password`` will not do, in a sentence for the person choosing it; None if it will.

    ``personal`` is what the person typed about themselves; a password built
    on it is refused by name.
    """
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if not password.strip():
        return "password must not be only spaces"
    details = [_squeezed(p) for p in personal]
    if any(len(d) >= 4 and d in _squeezed(password) for d in details):
        return PERSONAL
    judged = password[:JUDGED_LENGTH]
    with _zxcvbn_turn:
        result = zxcvbn(judged, user_inputs=sorted(_fragments(personal)))
    mine = sum(
        len(m["token"]) for m in result["sequence"] if m.get("dictionary_name") == "user_inputs"
    )
    if mine * 2 >= len(judged):
        return PERSONAL
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    reasons = [feedback["warning"], *feedback["suggestions"]]
    said = " ".join(r for r in reasons if r)
    return "password is too weak" + (f": {said}" if said else "")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def _fragments(personal: Iterable[str]) -> set[str]:
    """The words someone's details are made of: jane.doe@acme.co.ke gives jane, doe, acme."""
    found = set()
    for value in personal:
        value = value.strip().lower()
        if not value:
            continue
        found.add(value)
        found.update(w for w in re.split(r"[^a-z0-9]+", value.split("@")[0]) if len(w) >= 3)
        if "@" in value:
            domain = value.rsplit("@", 1)[1]
            found.update(w for w in domain.split(".")[:-1] if len(w) >= 3)
        found.update(w for w in re.split(r"[^a-z0-9]+", value) if len(w) >= 3)
    return found
