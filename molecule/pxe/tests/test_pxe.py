"""The pxe role: iPXE in the TFTP root, socle-pxe, a proxy-DHCP unit that nothing starts at boot, and
arming that refuses what a script must not receive. (Arming for real, with a poste that PXE-boots,
is tests/integration/test_salle_qemu.py.)"""

import json


def test_ipxe_is_served_and_nothing_is_armed(host):
    assert host.file("/srv/socle/tftp/snponly.efi").size > 10000
    status = json.loads(host.check_output("/usr/local/sbin/socle-pxe status"))
    assert status["postes"] == {} and status["running"] is False
    assert not host.service("socle-pxe").is_running
    assert "[Install]" not in host.file("/etc/systemd/system/socle-pxe.service").content_string  # never at boot


def test_arming_refuses_hostile_arguments(host):
    for args in (
        "--poste 'zz:zz,2026-2027/ci/2026-2027.0,2026-2027.0'",
        "--poste '52:54:00:00:00:01,../../etc,x'",
        "--poste '52:54:00:00:00:01,2026-2027/ci/2026-2027.0,2026-2027.0' --kernel-args 'a;reboot'",
        "--poste '52:54:00:00:00:01,2026-2027/ci/2026-2027.0,2026-2027.0' --window 100000",
        "--poste '52:54:00:00:00:01,2026-2027/ci/2026-2027.0,2026-2027.0'",  # no enrolment token
        "--poste '52:54:00:00:00:01,2026-2027/ci/2026-2027.0,2026-2027.0,not-hex;reboot'",
    ):
        proc = host.run(f"/usr/local/sbin/socle-pxe arm --window 5 --base-url http://10.0.0.1 {args}")
        assert proc.rc != 0, args
    assert host.run("ls /run/socle/pxe/http/").stdout.strip() == ""


def test_a_proxy_dhcp_that_cannot_start_leaves_nothing_armed(host):
    # this container has no NET_ADMIN: dnsmasq cannot bind, and the MAC must not stay armed
    # (arming for real, a poste installed over PXE: tests/integration/test_salle_qemu.py)
    proc = host.run(
        "/usr/local/sbin/socle-pxe arm --window 5 --base-url http://10.0.0.1 "
        "--poste 52:54:00:00:00:01,2026-2027/ci/2026-2027.0,2026-2027.0,0123456789abcdef0123456789abcdef"
    )
    out = json.loads(proc.stdout)
    assert proc.rc == 1 and "did not start" in out["reason"], out
    assert not host.file("/run/socle/pxe/http/mac-52-54-00-00-00-01.ipxe").exists
    assert json.loads(host.check_output("/usr/local/sbin/socle-pxe status"))["postes"] == {}


def test_what_is_armed_lives_in_run_and_a_reboot_clears_it(host):
    """The scripts, the proxy-DHCP configuration and the state are on tmpfs: a serveur that reboots
    (its /run cleared, as here) has nothing armed, and its nginx serves no script."""
    folder = "/run/socle/pxe/http"
    host.run(f"mkdir -p {folder}")
    assert host.check_output(f"findmnt -no FSTYPE -T {folder}") == "tmpfs"
    conf = host.file("/etc/nginx/socle.d/pxe.conf").content_string
    assert f"alias {folder}/;" in conf
    host.run(f"echo '#!ipxe' > {folder}/mac-52-54-00-00-00-09.ipxe && echo '{{}}' > /run/socle/pxe/armed.json")
    host.run("rm -rf /run/socle")  # what a reboot does to /run
    assert json.loads(host.check_output("/usr/local/sbin/socle-pxe status"))["postes"] == {}
    assert not host.file(f"{folder}/mac-52-54-00-00-00-09.ipxe").exists
