"""The socle_pull role: socle in its own environment on Debian's Python packages (no test tools), the
project files, and a nightly timer whose unit runs unprivileged and does nothing until the serveur is
configured. (A serveur's real night, writing to the Région's PostgreSQL: tests/integration/test_pull_mode.py.)"""


def test_socle_runs_on_debians_python_without_the_test_tools(host):
    assert host.run("/opt/socle/venv/bin/socle-nightly --help").rc == 0
    assert host.run("/opt/socle/venv/bin/python -c 'import socle, ansible_runner, psycopg, sqlalchemy'").rc == 0
    assert host.run("/opt/socle/venv/bin/python -c 'import pytest'").rc != 0
    assert host.run("/opt/socle/venv/bin/python -c 'import molecule'").rc != 0
    assert host.file("/opt/socle/project/playbooks/conformity.yml").exists
    assert host.file("/opt/socle/project/roles/hardening/defaults/main.yml").exists


def test_a_bad_configuration_is_one_line(host):
    proc = host.run("/opt/socle/venv/bin/socle-nightly --config /nonexistent.yml")
    assert proc.rc == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error:")


def test_the_timer_is_enabled_and_the_unit_waits_for_its_configuration(host):
    assert host.file("/etc/systemd/system/timers.target.wants/socle-nightly.timer").is_symlink
    assert host.run("systemctl is-enabled socle-nightly.timer").stdout.strip() == "enabled"
    unit = host.file("/etc/systemd/system/socle-nightly.service").content_string
    assert "User=socle-pull" in unit and "ConditionPathExists=/etc/socle/pull.yml" in unit
    assert "NoNewPrivileges=true" in unit
    host.run("systemctl start socle-nightly.service")  # no /etc/socle/pull.yml: nothing runs
    assert host.run("systemctl show -p ConditionResult --value socle-nightly.service").stdout.strip() == "no"
