"""Console side of the inventory tasks."""

from __future__ import annotations

from pathlib import Path

from socle.core.findings import present
from socle.inventory import checks, generator, importer


def check(*, path: str, fmt: str, output: str) -> None:
    findings = checks.check(Path(path) if path else None)
    present(findings, fmt=fmt, output=output or None, suite="inventory", checks=checks.CHECKS)


def generate(*, etabs: int, postes: int, seed: int, out: str) -> None:
    n = generator.generate(Path(out), etabs=etabs, postes=postes, seed=seed)
    print(f"wrote {etabs} établissements, {n} postes in {out} (ansible-inventory -i {out} --graph)")


def import_csv(*, csv: str, uai: str, apply: bool, path: str) -> None:
    diff = importer.import_csv(Path(csv), uai, region=Path(path) if path else None, apply=apply)
    print(diff or "no change", end="\n" if not diff else "")
    if diff and not apply:
        print("(dry run: nothing written; add --apply to write)")
