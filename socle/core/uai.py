"""UAI (Unité Administrative Immatriculée): 7 digits + a check letter.

The letter is ``ALPHABET[int(first seven digits) % 23]`` over 23 letters without I, O and Q.
Corsica's départements 2A/2B use the prefixes 620 and 720, so the rule is the same there.
"""

from __future__ import annotations

import re

ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"
_FORM = re.compile(r"^[0-9]{7}[A-Z]$")


def check_letter(digits: str) -> str:
    return ALPHABET[int(digits) % 23]


def problem(value: object) -> str | None:
    """None when ``value`` is a valid UAI, else a sentence saying what is wrong and the fix."""
    if not isinstance(value, str):
        return f"UAI must be a string of 7 digits and a letter, got {type(value).__name__} {value!r} (quote it)"
    text = value.strip()
    if not _FORM.match(text):
        if re.fullmatch(r"[0-9]{7}", text):
            return f"UAI '{text}' has no check letter: it should be '{text}{check_letter(text)}'"
        if re.fullmatch(r"[0-9]{7}[a-z]", text):
            return f"UAI '{text}' must use an upper-case letter: '{text.upper()}'"
        return f"UAI '{text}' is not 7 digits followed by a letter"
    expected = check_letter(text[:7])
    if text[7] != expected:
        return f"UAI '{text}' has the wrong check letter '{text[7]}': expected '{text[:7]}{expected}'"
    return None


def is_valid(value: object) -> bool:
    return problem(value) is None
