"""Windows without a Windows host: the answer file is parsed and its key settings asserted."""

import xml.etree.ElementTree as ET

import pytest

from socle import masters, windows
from socle.errors import SocleError
from tests.conftest import run_invoke

NS = {"u": "urn:schemas-microsoft-com:unattend"}


@pytest.fixture(scope="module")
def spec():
    return masters.load_spec("poste-windows", "2026-2027")


def test_autounattend_is_french_and_paris_time(spec):
    root = ET.fromstring(windows.render_autounattend(spec))
    assert root.findtext(".//u:UILanguage", namespaces=NS) == "fr-FR"
    assert root.findtext(".//u:InputLocale", namespaces=NS) == "040c:0000040c"
    assert root.findtext(".//u:TimeZone", namespaces=NS) == "Romance Standard Time"
    assert root.findtext(".//u:MetaData/u:Value", namespaces=NS) == str(spec.data["windows"]["edition_index"])
    assert root.findtext(".//u:HideOnlineAccountScreens", namespaces=NS) == "true"  # local account only
    assert root.findtext(".//u:LocalAccount/u:Name", namespaces=NS) == "socle-build"


def test_build_password_is_one_time_and_escaped(spec):
    a = ET.fromstring(windows.render_autounattend(spec)).findtext(".//u:LocalAccount/u:Password/u:Value", namespaces=NS)
    b = ET.fromstring(windows.render_autounattend(spec)).findtext(".//u:LocalAccount/u:Password/u:Value", namespaces=NS)
    assert a != b and len(a) >= 24
    tricky = ET.fromstring(windows.render_autounattend(spec, build_password="<&>\"'"))
    assert tricky.findtext(".//u:AutoLogon/u:Password/u:Value", namespaces=NS) == "<&>\"'"


def test_unknown_timezone_is_refused(spec):
    with pytest.raises(SocleError, match="no Windows time zone"):
        windows.render_autounattend(spec, timezone="Mars/Olympus")


def test_build_without_iso_fails_at_once_and_writes_nothing(tmp_path):
    proc = run_invoke("build-master", "--profile", "poste-windows", env={"SOCLE_DIST": str(tmp_path / "dist")})
    assert proc.returncode == 2
    assert "needs the Région's licensed installation ISO" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "dist").exists()
