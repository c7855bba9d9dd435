"""socle_apt_patch's selection of security updates and the patch-latency KPI."""

from __future__ import annotations

import datetime as dt
import importlib.util

from socle.conformity import evaluate
from socle.conformity import model as cmodel
from socle.core.paths import ROOT

_spec = importlib.util.spec_from_file_location("socle_apt_patch", ROOT / "plugins" / "modules" / "socle_apt_patch.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)

SIMULATION = """\
NOTE: This is only a simulation!
Reading package lists...
Inst libssl3t64 [3.5.1-1] (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])
Inst tzdata [2025b-4] (2025b-4+deb13u1 Debian:13.2/stable [all])
Inst socle-sonde [1.0] (1.1 socle-test-security:trixie-security [all])
Conf libssl3t64 (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])
"""

RELEASE = """\
Origin: Debian
Label: Debian-Security
Suite: stable-security
Version: 13
Codename: trixie-security
Date: Sat, 21 Nov 2026 10:12:03 UTC
Components: updates/main
"""


def test_only_security_suites_are_selected_with_their_publication_date(tmp_path):
    (tmp_path / "security.debian.org_debian-security_dists_trixie-security_InRelease").write_text(RELEASE)
    dates = mod.release_dates(str(tmp_path))
    chosen = mod.select(mod.parse_simulation(SIMULATION), "-security$", dates)
    assert [(u["package"], u["from"], u["to"]) for u in chosen] == [
        ("libssl3t64", "3.5.1-1", "3.5.1-1+deb13u1"),
        ("socle-sonde", "1.0", "1.1"),
    ]
    assert chosen[0]["available_since"] == "2026-11-21T10:12:03Z"
    assert chosen[1]["available_since"] is None  # no Release file seen for it: no latency counted
    assert mod.rollback_command(chosen) == "apt-get install --allow-downgrades libssl3t64=3.5.1-1 socle-sonde=1.0"
    assert len(mod.select(mod.parse_simulation(SIMULATION), ".*", dates)) == 3


def test_patch_latency_is_the_median_of_recent_installations():
    history = [
        {"available_since": "2026-11-20T00:00:00Z", "installed_at": "2026-11-21T00:00:00Z"},  # 24 h
        {"available_since": "2026-11-20T00:00:00Z", "installed_at": "2026-11-22T12:00:00Z"},  # 60 h
        {"available_since": "2026-11-20T00:00:00Z", "installed_at": "2026-11-20T06:00:00Z"},  # 6 h
        {"available_since": None, "installed_at": "2026-11-20T06:00:00Z"},  # unknown: ignored
        {"available_since": "2026-01-01T00:00:00Z", "installed_at": "2026-01-30T00:00:00Z"},  # too old
    ]
    assert evaluate.patch_latency(history, dt.date(2026, 11, 25)) == 24.0
    assert evaluate.patch_latency([], dt.date(2026, 11, 25)) is None
    kpi = cmodel._latency_summary([6.0, 24.0, 60.0])
    assert kpi == {"hosts": 3, "median": 24.0, "p90": 60.0, "max": 60.0}
