"""French for the people who read it, English still there: a string table (``socle/locale/fr.yaml``).

The table maps an English message template to its French one. A template is the text of an f-string
with its values numbered, ``"level '{0}' is not taught in {1}"``; :func:`translate` recognises a
finished English message by its template and writes the French one with the same values. So the code
keeps writing plain f-strings, and ``tests/unit/test_i18n.py`` checks that every message of the
catalogue checks and of the CMIL's operations has its French line, with the same values.

The language: ``SOCLE_LANG`` (``fr`` or ``en``), else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``):
French when it starts with ``fr``.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import yaml

TABLE = Path(__file__).resolve().parent.parent / "locale" / "fr.yaml"
LANGUAGES = ("en", "fr")
PLACEHOLDER = re.compile(r"\{(\d+)\}")


def language() -> str:
    """``fr`` or ``en``, from SOCLE_LANG or the locale."""
    chosen = os.environ.get("SOCLE_LANG", "").strip().lower()[:2]
    if chosen in LANGUAGES:
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


@cache
def table() -> dict[str, str]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each English template as a pattern whose groups are its values, longest templates first (the
    most specific wins)."""
    out = []
    for english, french in sorted(table().items(), key=lambda kv: -len(kv[0])):
        parts = PLACEHOLDER.split(english)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<v{p}>.*?)" for i, p in enumerate(parts))
        out.append((re.compile(regex, re.DOTALL), french))
    return out


def translate(text: str, lang: str | None = None) -> str:
    """``text`` in ``lang`` (default :func:`language`): the French of its template, or ``text`` as it is."""
    if not text or (lang or language()) != "fr":
        return text
    for pattern, french in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return _fill(french, {k[1:]: v for k, v in match.groupdict().items()})
    return text


def _fill(french: str, values: dict[str, str]) -> str:
    """The French template with its values, each one translated too (a reason inside a message)."""

    def value(m: re.Match[str]) -> str:
        return translate(values[m.group(1)], "fr") if m.group(1) in values else m.group(0)

    return PLACEHOLDER.sub(value, french)
