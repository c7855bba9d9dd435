"""The build tree (socle/build/linux/tree.py): real overlayfs mounts on a small base directory —
a build's layer, the profile's last published layer as where the next build starts, and pruning."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from socle.build.linux import tree

pytestmark = pytest.mark.integration


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if os.geteuid() != 0:
        pytest.skip("overlayfs mounts need root (CI runs as root)")
    monkeypatch.setenv("SOCLE_CACHE", str(tmp_path / "cache"))
    base = tmp_path / "base"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "os-release").write_text("trixie\n")
    (base / "etc" / "gone").write_text("removed by the first build\n")
    return base


def _build(base_or_stack: list[Path], writes: dict[str, str], *, remove: str = "") -> tree.Tree:
    built = tree.Tree.new("p")
    built.mount(base_or_stack)
    for name, text in writes.items():
        (built.merged / name).write_text(text)
    if remove:
        (built.merged / remove).unlink()
    return built


def test_a_layer_kept_is_where_the_next_build_starts(base: Path) -> None:
    sel = [{"name": "sqlite3"}]
    first = _build([base], {"etc/first": "1\n"}, remove="etc/gone")
    assert (first.merged / "etc" / "os-release").read_text() == "trixie\n"
    assert not (base / "etc" / "first").exists(), "the base directory is never written"
    first.keep(version="v.0", reuse_key="k", carried=["sqlite3"])
    assert not first.merged.is_mount() and (tree.trees_dir("p") / "latest").resolve() == first.layer
    assert first.layer.name.startswith("v.0-")

    stack, why = tree.reusable("p", "k", [*sel, {"name": "git"}])  # the catalogue grew: reused
    assert stack == [first.layer / "upper", base] and why == ""
    second = _build(stack, {"etc/second": "2\n"})
    assert {p.name for p in (second.merged / "etc").iterdir()} == {"os-release", "first", "second"}
    second.keep(version="v.1", reuse_key="k", carried=["sqlite3", "git"])
    assert first.layer.is_dir(), "v.1 stacks on v.0: it stays"

    assert tree.reusable("p", "other", sel) == (None, ""), "other roles or spec: from the base"
    assert tree.reusable("p", "k", sel) == (None, "git left the catalogue selection")
    third = _build([base], {"etc/third": "3\n"})
    third.keep(version="v.2", reuse_key="k", carried=["sqlite3"])
    assert [p for p in tree.trees_dir("p").iterdir() if p.is_dir() and not p.is_symlink()] == [third.layer]


def test_a_version_published_again_elsewhere_gets_a_layer_of_its_own(base: Path) -> None:
    """Tests and benchmarks publish the same version into other dists with one cache."""
    first = _build([base], {"etc/a": "a\n"})
    first.keep(version="v.0", reuse_key="k", carried=[])
    stack, _ = tree.reusable("p", "k", [])
    again = _build(stack, {"etc/b": "b\n"})
    again.keep(version="v.0", reuse_key="k", carried=[])
    stack, _ = tree.reusable("p", "k", [])
    assert stack == [again.layer / "upper", first.layer / "upper", base]
    last = _build(stack, {})
    assert (last.merged / "etc" / "a").exists() and (last.merged / "etc" / "b").exists()
    last.discard()


def test_a_scratch_view_leaves_the_tree_as_it_was(base: Path) -> None:
    built = _build([base], {"etc/a": "a\n"})
    with built.scratch() as view:
        (view / "stray").write_text("apt cache of a scanner\n")
        assert (view / "etc" / "a").read_text() == "a\n"
    assert not (built.merged / "stray").exists()
    built.discard()
    assert not built.layer.exists()


def test_layers_another_build_stacks_on_are_not_pruned(base: Path) -> None:
    first = _build([base], {})
    first.keep(version="v.0", reuse_key="k", carried=[])
    stack, _ = tree.reusable("p", "k", [])
    running = _build(stack, {})  # a second build of the profile, still running on v.0
    clean = _build([base], {})
    clean.keep(version="v.1", reuse_key="k", carried=[])
    assert (first.layer / "upper").is_dir(), "v.0 is in use: kept"
    running.discard()


def test_a_dead_builds_layer_is_removed_by_the_next_build(base: Path) -> None:
    stale = _build([base], {})
    dead = stale.layer.with_name("build-999999999-abcdef")
    stale.unmount()
    stale.layer.rename(dead)
    tree.Tree.new("p").discard()
    assert not dead.exists()


def test_the_tree_becomes_an_oci_image_with_what_it_holds(base: Path) -> None:
    built = _build([base], {"etc/first": "1\n"}, remove="etc/gone")
    image = "localhost/socle/test-tree-import:1"
    try:
        tree.tar_into_podman(built.merged, image, {"org.socle.profile": "p"})
        out = subprocess.run(["podman", "image", "inspect", "--format", '{{index .Labels "org.socle.profile"}}', image],
                             capture_output=True, text=True)  # fmt: skip
        assert out.stdout.strip() == "p", out.stderr
        mounted = subprocess.run(["podman", "image", "mount", image], capture_output=True, text=True).stdout.strip()
        files = {p.name for p in (Path(mounted) / "etc").iterdir()}
        assert files == {"os-release", "first"}, "the layer's file is in, the removed one is out"
    finally:
        subprocess.run(["podman", "image", "unmount", image], capture_output=True)
        subprocess.run(["podman", "rmi", image], capture_output=True)
        built.discard()
