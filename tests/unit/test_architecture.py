"""socle's packages depend one way: core -> registry -> catalogue -> inventory -> build | conformity |
operations -> review -> cli. These tests read the imports of every module (no import is executed) and fail on
an import from a layer above, between the three operation packages, between the two build
platforms, on a cycle, or on a socle import hidden inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from socle.core.paths import ROOT

PACKAGE = ROOT / "socle"
#: package -> layer; a module may import from its own package and from lower layers only
LAYERS = {
    "socle": 0,
    "socle.core": 0,
    "socle.registry": 1,
    "socle.catalogue": 2,
    "socle.inventory": 3,
    "socle.build": 4,
    "socle.conformity": 4,
    "socle.operations": 4,
    "socle.review": 5,
    "socle.cli": 6,
}
#: sub-packages that must not know each other (a second platform is a driver, not a caller of the first)
SIBLINGS = [("socle.build.linux", "socle.build.windows")]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    return next(pkg for pkg in sorted(LAYERS, key=len, reverse=True) if module == pkg or module.startswith(pkg + "."))


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported socle module, line, inside a function) for every socle import of ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from socle.core import junit` imports the module socle.core.junit
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names]  # fmt: skip
        found += [(t, node.lineno, id(node) in nested) for t in targets if t == "socle" or t.startswith("socle.")]
    return found


def test_the_layers_cover_every_module():
    assert all(package_of(m) for m in MODULES)
    assert "socle.build.linux" in MODULES and "socle.catalogue.checks" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    own = package_of(module)
    problems = []
    for target, line, _ in imports(module):
        other = package_of(target)
        if other != own and LAYERS[other] >= LAYERS[own]:
            problems.append(f"{MODULES[module].name}:{line} imports {target} (layer {LAYERS[other]} ≥ {LAYERS[own]})")
        for a, b in SIBLINGS:
            for this, that in ((a, b), (b, a)):
                if (module == this or module.startswith(this + ".")) and (target == that or target.startswith(that)):
                    problems.append(f"{MODULES[module].name}:{line} imports {target}: {this} never imports {that}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_socle_import_is_hidden_in_a_function(module):
    hidden = [f"line {line}: {target}" for target, line, inside in imports(module) if inside]
    assert not hidden, f"{module} imports inside a function (an import cycle in disguise?): {hidden}"


def test_no_import_cycle():
    graph = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_rules_catch_what_they_forbid(tmp_path, monkeypatch):
    """The checks above can fail: a core module importing the command line is refused."""
    bad = tmp_path / "socle" / "core" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from socle.cli import guarded\n\n\ndef f():\n    from socle.registry import specs\n")
    monkeypatch.setitem(MODULES, "socle.core.bad", bad)
    assert [(t, inside) for t, _, inside in imports("socle.core.bad")] == [("socle.cli", False),
                                                                           ("socle.registry.specs", True)]  # fmt: skip
    with pytest.raises(AssertionError, match="layer 6"):
        test_imports_point_down("socle.core.bad")
    with pytest.raises(AssertionError, match="inside a function"):
        test_no_socle_import_is_hidden_in_a_function("socle.core.bad")
