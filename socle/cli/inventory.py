"""Console side of the inventory tasks."""

from __future__ import annotations

from pathlib import Path

from socle.cli import whole_number
from socle.core.findings import present
from socle.inventory import checks, generator, importer


def check(*, path: str, fmt: str, output: str) -> None:
    findings = checks.check(Path(path) if path else None)
    present(findings, fmt=fmt, output=output or None, suite="inventory", checks=checks.CHECKS)


def generate(*, etabs: str, postes: str, seed: str, out: str) -> None:
    count = whole_number(etabs, "--etabs", low=1, high=9000)
    n = generator.generate(Path(out), etabs=count, postes=whole_number(postes, "--postes", low=1, high=10**6),
                           seed=whole_number(seed, "--seed"))  # fmt: skip
    print(f"wrote {count} établissements, {n} postes in {out} (ansible-inventory -i {out} --graph)")


def import_csv(*, csv: str, uai: str, apply: bool, path: str, mapping: str = "") -> None:
    diff = importer.import_csv(Path(csv), uai, region=Path(path) if path else None, apply=apply,
                               mapping=Path(mapping) if mapping else None)  # fmt: skip
    print(diff or "no change", end="\n" if not diff else "")
    if diff and not apply:
        print("(dry run: nothing written; add --apply to write)")
