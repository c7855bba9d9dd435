"""The podman store keeps the newest master images of a profile and the one tagged ``latest``."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from socle.build import rootfs
from socle.build.linux import capture

pytestmark = pytest.mark.integration


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def four_masters():
    """Four distinct images of a throw-away profile, v1 (oldest, also ``latest``) to v4."""
    profile = f"prune-{uuid.uuid4().hex[:8]}"
    box = f"socle-{profile}"
    podman("create", "--name", box, rootfs.test_image(), "true")
    ids = {}
    try:
        for n in range(1, 5):
            ref = f"localhost/socle/{profile}:v{n}"
            podman("commit", "-q", "--change", f"LABEL org.socle.profile={profile}",
                   "--change", f"LABEL n={n}", box, ref)  # fmt: skip
            ids[n] = podman("image", "inspect", "--format", "{{.Id}}", ref)
            time.sleep(1.1)  # image creation times are in seconds
        podman("tag", f"localhost/socle/{profile}:v1", f"localhost/socle/{profile}:latest")
        yield profile, ids
    finally:
        subprocess.run(["podman", "rm", "-f", box], capture_output=True)
        for image_id in ids.values():
            subprocess.run(["podman", "image", "rm", "-f", image_id], capture_output=True)


def test_older_images_are_dropped_but_latest_stays(four_masters):
    profile, ids = four_masters
    assert capture.prune_images(profile, keep=2) == ["v2"]
    assert not rootfs.image_exists(ids[2]), "the untagged image is deleted"
    for n, tag in ((1, "latest"), (3, "v3"), (4, "v4")):
        assert podman("image", "inspect", "--format", "{{.Id}}", f"localhost/socle/{profile}:{tag}") == ids[n]
    assert capture.prune_images(profile, keep=2) == [], "idempotent"
