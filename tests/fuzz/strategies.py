"""Hostile values and documents: what a school, a teacher, the ministry or a lycée serveur could send."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

#: values that meant something to a parser, a shell, Jinja, rich, Ansible or a file system
NASTY = [
    "all", "localhost", "postes", "ungrouped", "{{ lookup('pipe', 'id') }}", "$(id)", "`id`", "a\nvars: {x: 1}",
    "../../../etc/passwd", "/proc/version", "[/bold]", "[link=file:///etc/shadow]x", "*alias", "&anchor x",
    "0" * 300, "x" * 5000, "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "127.0.0.1", "255.255.255.255", "9999-12-31",
    "2025-13-45", "abcd-efgh", "-1", "1e309", "NaN", "yes", "no", "~", "null", "", " ", "\t", "\x00", "é" * 50,
    "<script>alert(1)</script>", "'; DROP TABLE x; --", "${env:PATH}", "-o ProxyCommand=id", "CAT005", "CAT007",
]  # fmt: skip

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.sampled_from(NASTY),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=12),
                                                                 inner, max_size=4),
    max_leaves=10,
)  # fmt: skip


def paths(doc: Any) -> list[tuple[Any, ...]]:
    """Every key path of a loaded document (iteratively)."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack:
        path, node = stack.pop()
        out.append(path)
        if isinstance(node, dict):
            stack += [((*path, k), v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [((*path, i), v) for i, v in enumerate(node)]
    return sorted(out, key=repr)


def mutate(doc: Any, data: st.DataObject, rounds: int = 3) -> Any:
    """``doc`` with a few of its values replaced, keys added or removed, by hostile ones."""
    for _ in range(data.draw(st.integers(1, rounds))):
        path = data.draw(st.sampled_from(paths(doc)))
        if not path:
            if data.draw(st.booleans()):
                doc = data.draw(values)
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from([*NASTY[:6], "vars", "ansible_host", "x"]))] = data.draw(values)
        else:
            parent.append(data.draw(values))
    return doc
