"""CAT002: YAML hygiene: valid UTF-8 YAML, no duplicate keys, no tabs, no YAML 1.1 traps."""

from __future__ import annotations

import re

from socle.catalogue.checks.base import Check
from socle.core.yamlio import value_at


class YamlHygiene(Check):
    """The loader refuses duplicate keys (PyYAML keeps the last one silently), tabs and non-UTF-8
    files, and reports YAML 1.1 traps: `3.10` read as 3.1, `no` as false, `0123` as 83. Fix: quote
    the value.
    """

    id = "CAT002"
    summary = "YAML hygiene: valid UTF-8 YAML, no duplicate keys, no tabs, no YAML 1.1 traps"

    def run(self) -> None:
        for source in self.cat.files:
            if source.error is not None:
                m = re.search(r":(\d+)", source.error.where or "")
                self.report_at(source.path, int(m.group(1)) if m else 1, message=source.error.message,
                               fix=source.error.hint or "")  # fmt: skip
                continue
            doc = source.doc
            assert doc is not None
            for kp, raw in sorted(doc.coerced.items(), key=lambda kv: doc.line(kv[0]) or 0):
                value = value_at(doc.data, kp)
                self.report(doc, kp, message=f"'{raw}' is read by YAML 1.1 as {type(value).__name__} {value!r}",
                            fix=f'quote it: "{raw}"')  # fmt: skip
