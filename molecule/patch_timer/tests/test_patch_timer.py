"""One timer per wave, on Paris time, running `invoke patch --wave <wave> --scheduled` (what the command does
then is tested in tests/unit/test_cli.py: a closed gate or window is "nothing to do now")."""

import datetime as dt
import re


def test_each_wave_has_an_enabled_timer_and_nothing_else(host):
    for wave in ("pilot", "1"):
        assert host.run(f"systemctl is-enabled socle-patch@{wave}.timer").stdout.strip() == "enabled"
    assert host.run("systemctl is-enabled socle-patch@2.timer").stdout.strip() != "enabled"


def test_the_timers_fire_in_paris_evenings_and_weekend_mornings(host):
    show = host.check_output("systemctl show socle-patch@1.timer -p TimersCalendar")
    assert "Mon..Fri *-*-* 18:30:00 Europe/Paris" in show and "Sat,Sun *-*-* 09:00:00 Europe/Paris" in show
    # systemd computes the next elapse in Paris time, whatever the host's zone (UTC here)
    out = host.check_output("systemd-analyze calendar --iterations=3 'Mon..Fri *-*-* 18:30:00 Europe/Paris'")
    moments = [
        dt.datetime.strptime(m, "%Y-%m-%d %H:%M:%S") for m in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out)
    ]
    assert len(moments) >= 3, out
    for moment in moments:
        assert (moment.hour, moment.minute) in ((16, 30), (17, 30)), (
            out
        )  # 18:30 in Paris: UTC+2 in summer, +1 in winter
        assert moment.weekday() < 5


def test_the_service_runs_the_wave_in_scheduled_mode_as_the_socle_account(host):
    unit = host.check_output("systemctl cat socle-patch@1.service")
    assert "ExecStart=/opt/socle/project/.venv/bin/invoke patch --wave %i --scheduled" in unit
    assert "User=socle" in unit and "Environment=SOCLE_HISTORY_DB=postgresql+psycopg://" in unit
    assert "Description=socle: patch wave 1" in host.check_output("systemctl show socle-patch@1.service -p Description")
