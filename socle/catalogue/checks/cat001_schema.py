"""CAT001: schema: required keys, types, enums, no unknown keys."""

from __future__ import annotations

from socle.catalogue.checks.base import Check
from socle.core.paths import rel
from socle.core.schema import validate
from socle.core.yamlio import format_keypath


class Schema(Check):
    """JSON Schema (draft 2020-12) with `additionalProperties: false`, enums and required-if rules
    (an `msi-url`/`exe-url` source needs an `installer`, an `apt` source needs `apt.packages`).
    The schemas are in `socle/schemas/`; editors use them through the `yaml-language-server`
    line at the top of each file.
    """

    id = "CAT001"
    summary = "schema: required keys, types, enums, no unknown keys"

    def run(self) -> None:
        if self.cat.taxonomy is None and not self.cat.taxonomy_path.exists():
            self.report_at(rel(self.cat.taxonomy_path), 1, message="taxonomy.yaml is missing",
                           fix="restore it: it defines the disciplines and functions")  # fmt: skip
        for source in self.cat.files:
            if source.doc is None:
                continue
            # a coerced scalar is reported by CAT002, with the better message
            coerced = {format_keypath(kp) for kp in source.doc.coerced}
            self.ctx.findings += [f for f in validate(source.doc, source.schema, self.id) if f.keypath not in coerced]
