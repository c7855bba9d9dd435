"""The reimage_client role gives a poste its receivers, socle-slot, the boot chain's pieces (GRUB
configuration with boot counting, the per-slot overlay script, the health unit, the installer) and
the trusted key."""

import json


def test_receivers_and_installer_tools_are_installed(host):
    for name in ("udpcast", "casync", "grub-efi-amd64-bin", "grub2-common", "dosfstools", "fdisk"):
        assert host.package(name).is_installed, name


def test_socle_slot_reports_an_empty_poste(host):
    slot = host.file("/usr/local/sbin/socle-slot")
    assert slot.mode == 0o755 and slot.user == "root"
    status = json.loads(host.check_output("/usr/local/sbin/socle-slot status"))
    assert status["order"] == "A B" and status["last_boot"] is None
    assert status["slots"]["B"]["version"] is None


def test_slot_data_and_key_folders_and_the_trusted_key(host):
    for path in ("/var/lib/socle/slots", "/var/lib/socle/data", "/etc/socle/keys"):
        assert host.file(path).is_directory, path
    key = host.file("/etc/socle/keys/masters.asc")
    assert key.mode == 0o644 and "BEGIN PGP PUBLIC KEY BLOCK" in key.content_string
    pinned = host.file("/etc/socle/keys/masters.fingerprints")
    assert pinned.content_string == "0123456789ABCDEF0123456789ABCDEF01234567\n"


def test_grub_configuration_counts_boots_like_rauc(host):
    cfg = host.file("/usr/share/socle/grub.cfg").content_string
    assert "load_env --file /grubenv" in cfg and "save_env --file /grubenv A_TRY B_TRY" in cfg
    assert "persistence-label=SOCLE-DATA" in cfg and "panic=10" in cfg and "@KERNEL_ARGS@" in cfg


def test_each_slot_gets_its_own_overlay_dropped_on_reset(host):
    script = host.file("/etc/initramfs-tools/scripts/live-realpremount/socle-overlay")
    assert script.mode == 0o755
    assert 'rm -rf "$mnt/overlay/$slot"' in script.content_string
    assert host.run("sh -n /etc/initramfs-tools/scripts/live-realpremount/socle-overlay").rc == 0


def test_boot_counting_and_installer_units_are_enabled(host):
    for unit in ("socle-boot-ok", "socle-install"):
        link = host.file(f"/etc/systemd/system/multi-user.target.wants/{unit}.service")
        assert link.is_symlink, unit
    unit_text = host.file("/etc/systemd/system/socle-boot-ok.service").content_string
    assert "ConditionKernelCommandLine=socle.slot" in unit_text
    # not booted from a slot (a container): the unit does not run, the poste is not marked good
    assert host.run("systemctl start socle-boot-ok.service").rc == 0
    assert json.loads(host.check_output("/usr/local/sbin/socle-slot status"))["last_boot"] is None
