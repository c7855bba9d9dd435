"""The GitLab merge-request pipeline, run locally by gitlab-ci-local (npm): the catalogue job of
.gitlab-ci.yml, as it is, on a real git history with a teacher's change. Shell executor (no registry
for the job's image here): the job's own commands run, README's bootstrap included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from socle.core.paths import cache_dir
from socle.core.yamlio import dumps
from tests.conftest import tracked_tree

pytestmark = pytest.mark.integration

#: the last gitlab-ci-local that runs on Debian 12's and this host's Node.js 20 (4.61+ needs Node 22)
GITLAB_CI_LOCAL = "gitlab-ci-local@4.60.0"


def gitlab_ci_local() -> Path:
    """gitlab-ci-local from the npm registry, installed once into the cache."""
    if not shutil.which("npm"):
        pytest.skip("npm is not installed (gitlab-ci-local comes from the npm registry)")
    prefix = cache_dir() / "npm" / GITLAB_CI_LOCAL.replace("@", "-")
    binary = prefix / "node_modules" / ".bin" / "gitlab-ci-local"
    if not binary.exists():
        proc = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", GITLAB_CI_LOCAL],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    return binary


def git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=Claire Muller", "-c", "user.email=claire.muller@example.org"]
    return subprocess.run(["git", "-C", str(repo), *ident, *args], capture_output=True, text=True, check=True).stdout


def test_the_catalogue_job_of_a_merge_request(tmp_path):
    binary = gitlab_ci_local()
    work = tracked_tree(tmp_path / "work")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "base")
    git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / "origin.git"))
    git(work, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(work, "fetch", "-q", "origin")
    # the teacher's change: SES drops a choice
    git(work, "switch", "-q", "-c", "ses-econometrie")
    table = work / "software_catalogue" / "disciplines" / "ses.yaml"
    data = yaml.safe_load(table.read_text())
    removed = data["choices"].pop()
    table.write_text(dumps(data))
    git(work, "commit", "-qam", "SES : retirer econometrie")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI", "GITLAB", "SOCLE_"))}
    proc = subprocess.run(
        [str(binary), "--home", str(tmp_path / "home"), "--force-shell-executor",
         "--variable", "CI_PIPELINE_SOURCE=merge_request_event",
         "--variable", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main", "catalogue"],
        cwd=work, capture_output=True, text=True, timeout=1500, env=env, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    # the impact report, in French (the job says SOCLE_LANG: fr), names the removed choice
    report = (work / "catalogue-diff.md").read_text()
    assert report.startswith("# Rapport d'impact de la modification du catalogue (base `origin/main`"), report[:300]
    assert f"- **retiré** ses / {removed['function']} (était `{removed['software']}`)" in report
    # the findings as GitLab reads them: JUnit and Code Quality
    assert ET.parse(work / "catalogue-check.xml").getroot().tag in ("testsuites", "testsuite")
    assert isinstance(json.loads((work / "gl-code-quality-report.json").read_text()), list)
