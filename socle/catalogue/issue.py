"""A teacher's request written in a forge's issue form (in French), read into ``catalogue.request``'s
values. The issue body is hostile input (anyone may open an issue): it is parsed, never pasted. Only
the form's own headings are read, each value is one bounded line (the rationale a paragraph), and
``catalogue.request`` then checks every value as it checks a command-line option.

GitHub renders an issue form as ``### <label>`` followed by the answer (``_No response_`` when left
empty); the GitLab issue template uses the same headings, so one reader serves both forges.
"""

from __future__ import annotations

import re

from socle.core.errors import SocleError

#: the form's headings (.github/ISSUE_TEMPLATE/demande-logiciel.yml, .gitlab/issue_templates/) -> value
FIELDS = {
    "Logiciel (identifiant)": "software",
    "Discipline": "discipline",
    "Fonction (usage pédagogique)": "function",
    "Niveaux": "levels",
    "Justification pédagogique": "rationale",
    "Votre nom": "requester",
    "UAI de votre établissement": "uai",
    "Nom du logiciel": "name",
    "Éditeur": "publisher",
    "Site officiel": "homepage",
    "Résumé en une phrase": "summary",
    "Paquet Debian": "debian_package",
    "Licence": "licence",
}
#: what a form says for a field left empty
EMPTY = {"", "_no response_", "_pas de réponse_", "none"}
MAX_BODY = 20_000
HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*$")


def fields(body: str, *, source: str = "issue") -> dict[str, str]:
    """The request's values from an issue body; an unknown heading is ignored, a repeated one refused."""
    if len(body) > MAX_BODY:
        raise SocleError(f"{source}: the issue is longer than {MAX_BODY} characters", hint="keep to the form")
    values: dict[str, str] = {}
    current: str | None = None
    lines: dict[str, list[str]] = {}
    for number, line in enumerate(body.replace("\r\n", "\n").split("\n"), start=1):
        heading = HEADING.match(line)
        if heading:
            label = heading.group(1).strip().rstrip(" *")
            current = FIELDS.get(label)
            if current in lines:
                raise SocleError(f"{source}:{number}: the field « {label} » appears twice",
                                 hint="fill in each field of the form once")  # fmt: skip
            if current:
                lines[current] = []
            continue
        if current and not line.strip().startswith(("<!--", "/")):  # a comment, a GitLab quick action
            lines[current].append(line.strip())
    for key, text in lines.items():
        value = " ".join(part for part in text if part).strip()
        if value.lower() in EMPTY:
            continue
        if key == "levels":  # "lycee-gt, college"
            value = ",".join(part.strip() for part in value.split(",") if part.strip())
        values[key] = value
    if not values:
        raise SocleError(f"{source}: no field of the request form was found",
                         hint="open the issue with the « Demande de logiciel » form")  # fmt: skip
    return values
