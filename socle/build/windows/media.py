"""The answer media of a Windows build: ``autounattend.xml`` (fr-FR, a local build account with a
one-time password) and the script that opens WinRM over HTTPS with a certificate issued by a
throw-away CA of this build (the controller validates it: no unchecked TLS, even here)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import shutil
from importlib import resources
from pathlib import Path

import jinja2

from socle.core.errors import SocleError
from socle.core.proc import run
from socle.registry.specs import MasterSpec

#: IANA time zone -> Windows time zone id (the ones French académies need)
WINDOWS_TIMEZONES = {
    "Europe/Paris": "Romance Standard Time",
    "America/Cayenne": "SA Eastern Standard Time",
    "America/Martinique": "SA Western Standard Time",
    "America/Guadeloupe": "SA Western Standard Time",
    "Indian/Reunion": "Mauritius Standard Time",
    "Indian/Mayotte": "E. Africa Standard Time",
}


#: fr-FR input locale: French (France) keyboard, AZERTY
FRENCH_INPUT_LOCALE = "040c:0000040c"


#: volume label of the answer media (the first-logon command finds its script by this label)
ANSWER_LABEL = "SOCLE_ANSWERS"


BUILD_ACCOUNT = "socle-build"


def render_autounattend(spec: MasterSpec, *, timezone: str = "Europe/Paris", build_password: str | None = None) -> str:
    """The French-locale answer file; the build account gets a one-time random password."""
    win = spec.data.get("windows") or {}
    if timezone not in WINDOWS_TIMEZONES:
        raise SocleError(
            f"no Windows time zone known for '{timezone}'", hint=f"use one of: {', '.join(WINDOWS_TIMEZONES)}"
        )
    template = resources.files("socle").joinpath("templates", "autounattend.xml.j2").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(
        profile=spec.data["profile"],
        version=spec.data["version"],
        locale="fr-FR",
        input_locale=FRENCH_INPUT_LOCALE,
        windows_timezone=WINDOWS_TIMEZONES[timezone],
        edition_index=int(win.get("edition_index", 1)),
        driver_paths=win.get("driver_paths", _virtio_driver_paths()),
        organization=win.get("organization", "Région"),
        computer_name="SOCLE-BUILD",
        build_account=BUILD_ACCOUNT,
        build_password=build_password or secrets.token_urlsafe(24),
        answer_label=ANSWER_LABEL,
    )


def _virtio_driver_paths() -> list[str]:
    """Storage and network drivers of the virtio ISO; Setup ignores the letters where it is not."""
    return [f"{d}:\\{drv}\\w11\\amd64" for d in "DEF" for drv in ("viostor", "NetKVM")]


def build_pki(workdir: Path, *, host: str = "127.0.0.1") -> tuple[Path, Path, str]:
    """A throw-away CA for one build and the WinRM certificate it issues for ``host``.

    Returns (CA certificate, PKCS#12 of the WinRM key and certificate, its password). The CA key
    never leaves ``workdir``, which the build deletes; the certificate is valid for 7 days.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"socle Windows build CA {now:%Y%m%dT%H%M%S}")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # SChannel: RSA is the safe choice
    san = x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    password = secrets.token_urlsafe(18)
    ca_pem = workdir / "build-ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pfx = workdir / "winrm.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"socle-build-winrm", key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
    )
    pfx.chmod(0o600)
    return ca_pem, pfx, password


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def answer_media(spec: MasterSpec, workdir: Path, *, build_password: str, pfx: Path, pfx_password: str) -> Path:
    """The answer ISO: autounattend.xml at the root, the WinRM opener and its certificate in socle/."""
    tree = workdir / "answers"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "socle").mkdir(parents=True)
    (tree / "autounattend.xml").write_text(render_autounattend(spec, build_password=build_password))
    script = resources.files("socle").joinpath("templates", "windows", "enable-winrm-https.ps1").read_text()
    (tree / "socle" / "enable-winrm-https.ps1").write_text(script)
    shutil.copyfile(pfx, tree / "socle" / "winrm.pfx")
    (tree / "socle" / "winrm.pass").write_text(pfx_password)
    iso = workdir / "answers.iso"
    run(["xorriso", "-as", "mkisofs", "-quiet", "-J", "-joliet-long", "-r", "-V", ANSWER_LABEL, "-o", iso, tree],
        what="xorriso (answer ISO)")  # fmt: skip
    shutil.rmtree(tree)
    return iso
