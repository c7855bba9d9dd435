"""The software bill of materials of a Linux master: CycloneDX 1.6 JSON, one component per Debian package.

Package URLs are built by packageurl-python (percent-encoded: Debian versions hold ``+`` and ``~``), with
the release's number (``distro=debian-13``). The serial number is a UUID 5 of the profile, the version
and the package set: two profiles with the same packages get two serials, the same build gets the same.
Checked against CycloneDX's own schema in tests/unit/test_sbom.py.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from packageurl import PackageURL

from socle import __version__
from socle.core.debian import RELEASE_NUMBERS

SPEC_VERSION = "1.6"
#: the namespace of socle's SBOM serial numbers (a UUID 5 of socle's own name in the URL namespace)
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://socle.region/sbom")


def purl(name: str, pkg: dict[str, str], release: str) -> str:
    qualifiers = {"arch": pkg["arch"], "distro": f"debian-{RELEASE_NUMBERS.get(release, release)}"}
    return str(PackageURL(type="deb", namespace="debian", name=name, version=pkg["version"], qualifiers=qualifiers))


def cyclonedx(*, profile: str, version: str, release: str, packages: dict[str, dict[str, str]],
              timestamp: str) -> dict[str, Any]:  # fmt: skip
    """The SBOM of master ``version`` of ``profile``, built on Debian ``release``."""
    components = []
    for name, pkg in sorted(packages.items()):
        ref = purl(name, pkg, release)
        comp: dict[str, Any] = {
            "type": "library" if name.startswith("lib") else "application",
            "bom-ref": ref,
            "name": name,
            "version": pkg["version"],
            "purl": ref,
        }
        if pkg.get("sha256"):
            comp["hashes"] = [{"alg": "SHA-256", "content": pkg["sha256"]}]
        components.append(comp)
    content = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()
    serial = uuid.uuid5(SERIAL_NAMESPACE, f"{profile}/{version}/{content}")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial.urn,
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "component": {
                "type": "operating-system",
                "bom-ref": f"socle-{profile}@{version}",
                "name": f"socle-{profile}",
                "version": version,
            },
            "tools": {"components": [{"type": "application", "name": "socle", "version": __version__}]},
        },
        "components": components,
    }
