"""Windows without a Windows host: the answer file is parsed and its key settings asserted."""

import hashlib
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from socle.build.windows import capture as wcapture
from socle.build.windows import inputs, vm
from socle.build.windows import media as answers
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.registry import specs
from tests.conftest import run_invoke

NS = {"u": "urn:schemas-microsoft-com:unattend"}


@pytest.fixture(scope="module")
def spec():
    return specs.load_spec("poste-windows", "2026-2027")


def test_autounattend_is_french_and_paris_time(spec):
    root = ET.fromstring(answers.render_autounattend(spec))
    assert root.findtext(".//u:UILanguage", namespaces=NS) == "fr-FR"
    assert root.findtext(".//u:InputLocale", namespaces=NS) == "040c:0000040c"
    assert root.findtext(".//u:TimeZone", namespaces=NS) == "Romance Standard Time"
    assert root.findtext(".//u:MetaData/u:Value", namespaces=NS) == str(spec.data["windows"]["edition_index"])
    assert root.findtext(".//u:HideOnlineAccountScreens", namespaces=NS) == "true"  # local account only
    assert root.findtext(".//u:LocalAccount/u:Name", namespaces=NS) == "socle-build"


def test_build_password_is_one_time_and_escaped(spec):
    a = ET.fromstring(answers.render_autounattend(spec)).findtext(".//u:LocalAccount/u:Password/u:Value", namespaces=NS)
    b = ET.fromstring(answers.render_autounattend(spec)).findtext(".//u:LocalAccount/u:Password/u:Value", namespaces=NS)
    assert a != b and len(a) >= 24
    tricky = ET.fromstring(answers.render_autounattend(spec, build_password="<&>\"'"))
    assert tricky.findtext(".//u:AutoLogon/u:Password/u:Value", namespaces=NS) == "<&>\"'"


def test_unknown_timezone_is_refused(spec):
    with pytest.raises(SocleError, match="no Windows time zone"):
        answers.render_autounattend(spec, timezone="Mars/Olympus")


def test_build_without_iso_fails_at_once_and_writes_nothing(tmp_path):
    proc = run_invoke("build-master", "--profile", "poste-windows", env={"SOCLE_DIST": str(tmp_path / "dist")})
    assert proc.returncode == 2 and "thumbprint of the Région's issuing CA" in proc.stderr  # asked first
    proc = run_invoke("build-master", "--profile", "poste-windows",
                      env={"SOCLE_DIST": str(tmp_path / "dist"), "SOCLE_REGION_CA_THUMBPRINT": "AB" * 20})  # fmt: skip
    assert proc.returncode == 2
    assert "needs the Région's licensed installation ISO" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "dist").exists()


# --- build inputs -------------------------------------------------------------------------------
def _spec_copy(tmp_path, **windows):
    """A copy of the poste-windows spec whose build inputs point at test files."""
    import yaml

    src = specs.MASTERS_DIR / "2026-2027" / "poste-windows.yaml"
    data = yaml.safe_load(src.read_text())
    data["windows"].update(windows)
    path = tmp_path / "poste-windows.yaml"
    path.write_text(yaml.safe_dump(data))
    return specs.MasterSpec(path, data)


@pytest.fixture
def media(tmp_path):
    """Two small files in place of the ISOs: check_inputs hashes and pins them, it boots nothing."""
    iso, virtio = tmp_path / "win.iso", tmp_path / "virtio.iso"
    iso.write_bytes(b"not a real Windows ISO")
    virtio.write_bytes(b"not a real virtio ISO")
    return iso, virtio


def test_inputs_are_hashed_and_pinned(tmp_path, media):
    spec = _spec_copy(tmp_path, iso=str(media[0]), virtio_iso=str(media[1]), vm={"accel": "tcg", "secure_boot": False})
    found = inputs.check_inputs(spec)
    assert found.iso_sha256 == hashlib.sha256(media[0].read_bytes()).hexdigest()
    assert {"ansible.windows", "community.windows", "microsoft.ad"} <= set(found.collections)
    spec.lock_path.write_text(json.dumps(found.lock(spec)))
    assert inputs.check_inputs(spec) == found  # same media: accepted


def test_other_media_than_the_lock_is_refused(tmp_path, media):
    spec = _spec_copy(tmp_path, iso=str(media[0]), virtio_iso=str(media[1]), vm={"accel": "tcg", "secure_boot": False})
    spec.lock_path.write_text(json.dumps(inputs.check_inputs(spec).lock(spec)))
    media[0].write_bytes(b"another edition")
    with pytest.raises(SocleError, match="Windows ISO differs from the lock") as exc:
        inputs.check_inputs(spec)
    assert "--update-lock" in exc.value.hint and exc.value.where.endswith("poste-windows.lock [iso]")
    assert inputs.check_inputs(spec, update_lock=True).iso_sha256 == hashlib.sha256(b"another edition").hexdigest()


def test_spec_sha256_and_missing_drivers_are_located(tmp_path, media):
    spec = _spec_copy(tmp_path, iso=str(media[0]), virtio_iso=str(tmp_path / "none.iso"), vm={"accel": "tcg"})
    with pytest.raises(SocleError, match="virtio drivers ISO") as exc:
        inputs.check_inputs(spec)
    assert exc.value.where.endswith("[windows.virtio_iso]")
    spec = _spec_copy(tmp_path, iso=str(media[0]), virtio_iso=str(media[1]), iso_sha256="0" * 64, vm={"accel": "tcg"})
    with pytest.raises(SocleError, match="the spec expects") as exc:
        inputs.check_inputs(spec)
    assert exc.value.where.endswith("[windows.iso_sha256]")


def test_unknown_vm_setting_is_a_located_spec_error(tmp_path):
    import yaml

    year = tmp_path / "2026-2027"
    year.mkdir()
    data = yaml.safe_load((specs.MASTERS_DIR / "2026-2027" / "poste-windows.yaml").read_text())
    data["windows"]["vm"] = {"ram": 8}
    (year / "poste-windows.yaml").write_text(yaml.safe_dump(data))
    proc = run_invoke("build-master", "--profile", "poste-windows", env={"SOCLE_MASTERS_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "poste-windows.yaml" in proc.stderr and "ram" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- answer media ---------------------------------------------------------------------------------
def test_winrm_certificate_chains_to_the_build_ca(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca_pem, pfx, password = answers.build_pki(tmp_path)
    ca = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    key, cert, _ = pkcs12.load_key_and_certificates(pfx.read_bytes(), password.encode())
    assert key is not None and cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert oct(pfx.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pfx.read_bytes(), b"wrong")


@pytest.mark.skipif(not shutil.which("xorriso"), reason="xorriso not installed (./socle.sh setup)")
def test_answer_iso_holds_the_answer_file_and_the_winrm_opener(tmp_path, spec):
    _, pfx, password = answers.build_pki(tmp_path)
    iso = answers.answer_media(spec, tmp_path, build_password="one-time", pfx=pfx, pfx_password=password)
    listing = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/", "-type", "f"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert {"'/autounattend.xml'", "'/socle/enable-winrm-https.ps1'", "'/socle/winrm.pfx'"} <= set(listing.split())
    out = tmp_path / "extracted.xml"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/autounattend.xml", str(out)],
                   capture_output=True, check=True)  # fmt: skip
    root = ET.fromstring(out.read_text())
    command = root.findtext(".//u:FirstLogonCommands//u:CommandLine", namespaces=NS)
    assert answers.ANSWER_LABEL in command and "enable-winrm-https.ps1" in command
    label = subprocess.run(["xorriso", "-indev", str(iso), "-pvd_info"], capture_output=True, text=True).stdout
    assert f"Volume Id    : {answers.ANSWER_LABEL}" in label
    assert not (tmp_path / "answers").exists()  # the clear tree is removed once packed


def test_winrm_opener_is_https_only():
    script = (ROOT / "socle" / "templates" / "windows" / "enable-winrm-https.ps1").read_text()
    assert "-Transport HTTPS" in script and "Transport=HTTP'" in script  # HTTP listener removed
    assert "Auth\\Basic -Value $false" in script and "AllowUnencrypted -Value $false" in script


# --- the build VM ---------------------------------------------------------------------------------
def test_qemu_command_isolates_the_build_network(tmp_path):
    settings = inputs.VmSettings(forwards=("wsus.region.example:8530",))
    cmd = vm.qemu_command(settings, tmp_path, disk=tmp_path / "disk.qcow2",
                               isos=[tmp_path / "win.iso", tmp_path / "virtio.iso"], port=45986)  # fmt: skip
    net = cmd[cmd.index("-netdev") + 1]
    assert "restrict=on" in net  # the guest reaches nothing by default
    assert "hostfwd=tcp:127.0.0.1:45986-:5986" in net  # WinRM forwarded to loopback only
    assert "guestfwd=tcp:10.0.2.100:8530-tcp:wsus.region.example:8530" in net
    assert "q35,accel=kvm,smm=on" in cmd and "driver=cfi.pflash01,property=secure,value=on" in cmd
    assert any("OVMF_CODE_4M.ms.fd" in a for a in cmd) and "tpm-crb,tpmdev=tpm0" in cmd
    assert cmd[cmd.index("-cpu") + 1] == "host"
    assert "ide-cd,drive=cd0,bus=ide.0,bootindex=0" in cmd and "ide-cd,drive=cd1,bus=ide.1" in cmd
    soft = vm.qemu_command(inputs.VmSettings(accel="tcg", secure_boot=False), tmp_path,
                                disk=tmp_path / "d", isos=[], port=1)  # fmt: skip
    assert "-cpu" not in soft and "q35,accel=tcg" in soft and any("OVMF_CODE_4M.fd" in a for a in soft)


# --- capture ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not shutil.which("sfdisk"), reason="sfdisk not installed (./socle.sh setup)")
def test_gpt_partitions_as_windows_setup_lays_them_out(tmp_path):
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"")
    layout = ("label: gpt\n"
              "start=2048, size=532480, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system partition\"\n"
              "size=32768, type=E3C9E316-0B5C-4D6D-B46B-CC2A07F5E2B5, name=\"Microsoft reserved partition\"\n"
              "size=81920, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"Basic data partition\"\n"
              "type=DE94BBA4-06D1-4D40-A16A-BFD50179D6AC, name=\"Recovery\"\n")  # fmt: skip
    os.truncate(disk, 1 << 30)
    subprocess.run(["sfdisk", "-q", str(disk)], input=layout, text=True, check=True, capture_output=True)
    parts = wcapture.gpt_partitions(disk.read_bytes()[: 34 * 512])
    assert [p.number for p in parts] == [1, 2, 3, 4]
    data = [p for p in parts if p.type_guid == wcapture.GPT_BASIC_DATA]
    assert len(data) == 1 and data[0].name == "Basic data partition"
    assert data[0].offset == (2048 + 532480 + 32768) * 512 and data[0].size == 81920 * 512


def test_a_disk_without_gpt_is_a_clear_failure():
    with pytest.raises(SocleError, match="no GPT partition table"):
        wcapture.gpt_partitions(bytes(34 * 512))


def test_another_edition_than_the_lock_is_refused(tmp_path, media):
    spec = _spec_copy(tmp_path, iso=str(media[0]), virtio_iso=str(media[1]), vm={"accel": "tcg"})
    spec.lock_path.write_text(json.dumps(inputs.check_inputs(spec).lock(spec)))
    spec.data["windows"]["edition_index"] = 1
    with pytest.raises(SocleError, match="edition index differs from the lock"):
        inputs.check_inputs(spec)
