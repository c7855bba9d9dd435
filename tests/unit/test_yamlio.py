import pytest

from socle.core.errors import SocleError
from socle.core.yamlio import loads


def test_lines_are_recorded_for_every_key():
    doc = loads("a: 1\nb:\n  - x: 2\n  - y: 3\n", "f.yaml")
    assert doc.line(("b", 1, "y")) == 4
    assert doc.where(("b", 0)) == "f.yaml:3 [b[0]]"


def test_duplicate_key_is_refused_with_both_lines():
    with pytest.raises(SocleError) as err:
        loads("id: a\nname: x\nid: b\n", "card.yaml")
    assert "duplicate key 'id' (first at line 1)" in str(err.value)
    assert err.value.where.startswith("card.yaml:3")


@pytest.mark.parametrize(
    ("text", "raw"),
    [("version: 3.10\n", "3.10"), ("ok: no\n", "no"), ("code: 0123\n", "0123"), ("t: 1:20\n", "1:20")],
)
def test_yaml_11_traps_are_remembered(text, raw):
    doc = loads(text)
    assert list(doc.coerced.values()) == [raw]


def test_quoted_and_ordinary_scalars_are_not_traps():
    doc = loads('version: "3.10"\nn: 10\nflag: true\n')
    assert doc.coerced == {}


def test_tab_indentation_is_located():
    with pytest.raises(SocleError) as err:
        loads("a:\n\tb: 1\n", "t.yaml")
    assert err.value.where == "t.yaml:2"


def test_syntax_error_is_located_not_a_traceback():
    with pytest.raises(SocleError) as err:
        loads("a: [1, 2\nb: 3\n", "bad.yaml")
    assert err.value.where.startswith("bad.yaml:")
    assert "invalid YAML" in err.value.message
