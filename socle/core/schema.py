"""JSON Schema validation of YAML documents, reported as located findings."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from socle.core.files import shorten
from socle.core.findings import Finding
from socle.core.yamlio import Document, format_keypath

if TYPE_CHECKING:
    import jsonschema


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("socle").joinpath("schemas", f"{name}.schema.json").read_text()
    return json.loads(text)


def _describe(err: jsonschema.ValidationError, doc: Document) -> tuple[str, str]:
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        why = f" ({err.schema['description']})" if "description" in err.schema else ""
        return f"unknown key(s): {shorten(', '.join(extra))}", f"remove or rename; allowed keys here: {allowed}{why}"
    if err.validator == "required":
        return err.message, "add the missing key (see the schema in socle/schemas/)"
    if err.validator == "type" and path in doc.coerced:
        raw = doc.coerced[path]
        return (
            f"'{raw}' is read by YAML as {type(err.instance).__name__} {err.instance!r}, not {err.validator_value}",
            f'quote it: "{raw}"',
        )
    value = shorten(repr(err.instance))
    if err.validator == "enum":
        return f"{value} is not allowed", f"use one of: {', '.join(map(str, err.validator_value))}"
    if err.validator == "pattern":
        return f"{value} does not match the expected form", f"expected pattern {err.validator_value}"
    return shorten(err.message, 200), ""


def validate(doc: Document, schema_name: str, check_id: str) -> list[Finding]:
    """Validate ``doc.data`` against a packaged schema; one finding per error, at its line."""
    import jsonschema  # here, not at import: with its optional format checkers it costs seconds per command

    schema = load_schema(schema_name)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    findings = []
    for err in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(err.absolute_path)
        message, fix = _describe(err, doc)
        findings.append(
            Finding(
                file=str(doc.path),
                line=doc.line(path) or 1,
                check=check_id,
                severity="error",
                keypath=format_keypath(path) if path else "",
                message=message,
                fix=fix,
            )
        )
    return findings
