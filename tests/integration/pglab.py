"""A throwaway PostgreSQL server for the tests: the Debian package's binaries, a scratch folder, TLS
with a certificate from a throwaway CA, listening only on an address the test itself created."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
#: the server's name in its certificate (clients give it as host=, with hostaddr= the address)
NAME = "region-db.test"


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True, **kw)


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for NAME signed by it: (ca.pem, server.crt, server.key)."""
    ca_key, ca, key, csr, crt = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.crt"))
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", "/CN=socle test Région CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={NAME}",
       "-keyout", str(key), "-out", str(csr))  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text(f"subjectAltName=DNS:{NAME}\n")
    sh("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
       "-days", "2", "-extfile", str(ext), "-out", str(crt))  # fmt: skip
    return ca, crt, key


@dataclass
class Server:
    folder: Path
    address: str
    ca: Path

    @property
    def admin(self) -> str:
        return f"postgresql+psycopg://postgres@/socle?host={self.folder / 's'}"

    def url(self, role: str, password: str, **params: str) -> str:
        query = {"host": NAME, "hostaddr": self.address, "sslmode": "verify-full", "sslrootcert": str(self.ca),
                 **params}  # fmt: skip
        return f"postgresql+psycopg://{role}:{password}@/socle?" + "&".join(f"{k}={v}" for k, v in query.items())

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"),
                        "-m", "immediate", "stop"], capture_output=True)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def start(address: str, clients: str, *, netns: str | None = None) -> Server:
    """A server listening on ``address`` only, TLS only (scram passwords) for clients from ``clients``
    (a CIDR); the postgres superuser through its Unix socket only. Inside ``netns`` when given."""
    folder = Path(tempfile.mkdtemp(prefix="socle-pg-"))
    folder.chmod(0o755)
    data, sock = folder / "data", folder / "s"
    sock.mkdir()
    ca, crt, key = certificates(folder)
    for path in (folder, sock, crt, key):
        shutil.chown(path, "postgres")
    key.chmod(0o600)
    pg = ["runuser", "-u", "postgres", "--"]
    sh(*pg, str(PG_BIN / "initdb"), "-U", "postgres", "--auth-local=trust", "--auth-host=reject", "-D", str(data))
    (data / "pg_hba.conf").write_text(f"local all postgres trust\nhostssl socle all {clients} scram-sha-256\n")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"listen_addresses = '{address}'\nunix_socket_directories = '{sock}'\nssl = on\n"
                   f"ssl_cert_file = '{crt}'\nssl_key_file = '{key}'\n"
                   "password_encryption = scram-sha-256\n")  # fmt: skip
    inside = ["ip", "netns", "exec", netns] if netns else []
    sh(*inside, *pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "start")
    sh(*pg, str(PG_BIN / "createdb"), "-h", str(sock), "socle")
    return Server(folder, address, ca)
