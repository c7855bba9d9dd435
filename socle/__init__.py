"""socle: the Région's governed base for school computers (catalogue, inventories, masters, operations).

Packages, bottom to top; a package imports only from the ones below it
(``tests/unit/test_architecture.py`` keeps it so):

    core/        errors, findings, YAML, schemas, paths, clock, JUnit, processes, signing, vault, host
    registry/    master specs (and the platform of a profile) and the store of published masters
    catalogue/   the software catalogue: model, selection, checks (one per file), diff, request
    inventory/   établissement inventories: model, checks, CSV import, synthetic generator
    build/       the master build pipeline and its platforms (linux/, windows/)
    conformity/  the nightly conformity check: expected state, evaluation, history, reports
    operations/  reimage, patching, maintenance windows
    cli/         the glue behind tasks.py, one module per task family
"""

from __future__ import annotations

__version__ = "0.1.0"
