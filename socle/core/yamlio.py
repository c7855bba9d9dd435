"""Strict YAML loading: duplicate keys rejected, every key located, YAML 1.1 traps remembered.

PyYAML silently keeps the last of two duplicate keys and turns ``3.10`` into ``3.1``, ``no``
into ``False`` and ``0123`` into ``83``. Catalogue and inventory files are governed data, so
the loader refuses the first and records the second so that checks can say "quote it".

They are also hostile input (a teacher's merge request, a school's file): the loader is bounded.
Anchors and aliases are refused (a "billion laughs" file is a few lines), nesting is limited to
:data:`MAX_DEPTH`, size to :data:`MAX_BYTES`, and every walk over the result is iterative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from socle.core.errors import SocleError
from socle.core.files import read_input

KeyPath = tuple[str | int, ...]

#: governed data files are small (the biggest établissement is ~300 KB)
MAX_BYTES = 4 * 1024 * 1024
#: the deepest governed structure is ~6 levels; anything deeper is not data
MAX_DEPTH = 32

_BOOL_WORDS = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
#: line breaks to YAML that git, diff views and the forges show as ordinary characters: a one-line
#: "comment" holding one of them hides keys from the reviewer (CRLF stays accepted)
_HIDDEN_BREAK = re.compile("[\u2028\u2029\u0085]|\r(?!\n)")
_BREAK_NAMES = {"\u2028": "U+2028 LINE SEPARATOR", "\u2029": "U+2029 PARAGRAPH SEPARATOR",
                "\u0085": "U+0085 NEXT LINE", "\r": "a carriage return without a line feed"}  # fmt: skip


def refuse_hidden_breaks(text: str, path: Path | str) -> None:
    """Refuse a line break git does not show (located as git and editors count lines)."""
    found = _HIDDEN_BREAK.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
        raise SocleError(f"{_BREAK_NAMES[found.group()]}: YAML reads a new line here, a review does not",
                         where=f"{path}:{line}:{column}",
                         hint="remove it (in a quoted text, write it as an escape: \"\\u2028\")")  # fmt: skip


@dataclass
class Document:
    """A loaded YAML file: the data plus the line of every key path and the scalars PyYAML coerced."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    #: key path -> original text of a plain scalar that YAML 1.1 turned into a non-string
    coerced: dict[KeyPath, str] = field(default_factory=dict)

    def line(self, keypath: KeyPath) -> int | None:
        """Line of ``keypath`` or of its nearest located parent."""
        kp = tuple(keypath)
        while kp:
            if kp in self.lines:
                return self.lines[kp]
            kp = kp[:-1]
        return self.lines.get((), 1)

    def where(self, keypath: KeyPath = ()) -> str:
        line = self.line(keypath)
        loc = f"{self.path}:{line}" if line else str(self.path)
        return f"{loc} [{format_keypath(keypath)}]" if keypath else loc


def value_at(data: Any, keypath: KeyPath) -> Any:
    """The value at ``keypath`` in loaded data (the key path must exist)."""
    for part in keypath:
        data = data[part]
    return data


def format_keypath(keypath: KeyPath) -> str:
    out = ""
    for part in keypath:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _is_trap(node: yaml.ScalarNode) -> bool:
    """A plain scalar whose YAML 1.1 reading differs from its text (3.10, no, 0123, 1:20)."""
    if node.style is not None:
        return False
    tag = node.tag
    text = node.value
    if tag == "tag:yaml.org,2002:bool":
        return bool(_BOOL_WORDS.match(text))
    if tag == "tag:yaml.org,2002:float":
        return True  # a version like 1.10 or 2.0 must be a string; floats are never wanted here
    if tag == "tag:yaml.org,2002:int":
        return (text.startswith(("0", "+")) and text != "0") or ":" in text or "_" in text
    return False


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses aliases and nesting deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused("YAML aliases (*name) are not accepted in governed data", event.start_mark,
                           "write the values out in full")  # fmt: skip
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise _Refused("YAML anchors (&name) are not accepted in governed data", event.start_mark,
                           "write the values out in full")  # fmt: skip
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark,
                               "governed data is a few levels deep; flatten this structure")  # fmt: skip
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark, hint: str) -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


def _walk(root: yaml.Node, doc: Document) -> None:
    """Record the line of every key path and the YAML 1.1 traps; refuse duplicate keys (iteratively)."""
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "(complex key)"
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise SocleError(
                        f"duplicate key '{key[:80]}' (first at line {seen[key]})",
                        where=f"{doc.path}:{line} [{format_keypath(path)}]",
                        hint="YAML keeps only the last value silently; merge the two entries or rename one",
                    )
                seen[key] = line
                doc.lines[(*path, key)] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                doc.lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
        elif isinstance(node, yaml.ScalarNode) and _is_trap(node):
            doc.coerced[path] = node.value


def loads(text: str, path: Path | str = "<string>") -> Document:
    """Parse ``text`` strictly; raise :class:`SocleError` located at the offending line."""
    path = Path(path)
    if len(text) > MAX_BYTES:
        raise SocleError(f"file too large ({len(text) // 1024} KB, at most {MAX_BYTES // 1024} KB)", where=str(path),
                         hint="governed data files are small; split it or remove what is not data")  # fmt: skip
    refuse_hidden_breaks(text, path)
    tab = re.search(r"^ *\t", text, re.M)
    if tab:
        line = text.count("\n", 0, tab.start()) + 1
        raise SocleError("tab used for indentation", where=f"{path}:{line}", hint="indent with spaces")
    try:
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
            doc = Document(path=path, data=None)
            if node is not None:
                doc.lines[()] = node.start_mark.line + 1
                _walk(node, doc)
                doc.data = loader.construct_document(node)
        finally:
            loader.dispose()
    except (ValueError, OverflowError, TypeError) as exc:  # a scalar YAML resolves to an impossible value
        raise SocleError(f"invalid value: {str(exc)[:120]}", where=str(path),
                         hint="quote dates and numbers that are meant as text") from None  # fmt: skip
    except _Refused as exc:
        where = f"{path}:{exc.mark.line + 1}:{exc.mark.column + 1}"
        raise SocleError(exc.message, where=where, hint=exc.hint) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SocleError(
            f"invalid YAML: {exc.problem or exc.context}",
            where=where,
            hint="check indentation and quoting around this position",
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise SocleError(f"invalid YAML: {exc}", where=str(path)) from None
    return doc


def load(path: Path | str) -> Document:
    """Read and parse a YAML file strictly (UTF-8 only, a regular file of at most :data:`MAX_BYTES`)."""
    return loads(read_input(path, max_bytes=MAX_BYTES, what="governed data file"), path)


_CLOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: an anchor or an alias may start here; only then are the events scanned (a cheap pre-check)
_ALIAS_HINT = re.compile(rb"(?:^|[\s\[{,:?-])[&*][^\s,\[\]{}]", re.M)


def fast_load(path: Path) -> Any:
    """A governed file read fast with libyaml (no line tracking): bounded and alias-free like :func:`load`."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
        raise SocleError("not a regular file of at most 4 MB", where=str(path), hint="run the checks on it")
    raw = path.read_bytes()
    if re.search(rb"\r(?!\n)|\xe2\x80[\xa8\xa9]|\xc2\x85", raw):
        refuse_hidden_breaks(raw.decode("utf-8", "replace"), path)
    try:
        if _ALIAS_HINT.search(raw):
            for event in yaml.parse(raw, Loader=_CLOADER):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                    raise SocleError("YAML anchors and aliases are not accepted", where=str(path))
        return yaml.load(raw, Loader=_CLOADER)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise SocleError(f"invalid YAML: {str(exc).splitlines()[0][:120]}", where=str(path),
                         hint="run the checks on it") from None  # fmt: skip


class _IndentDumper(yaml.SafeDumper):
    """Sequences indented under their key (yamllint's default), keys kept in insertion order."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # shared values are written out in full: the loader refuses aliases


def dumps(data: Any) -> str:
    """YAML text for governed data files: stable, readable, yamllint-clean."""
    return yaml.dump(data, Dumper=_IndentDumper, sort_keys=False, allow_unicode=True, width=110)
