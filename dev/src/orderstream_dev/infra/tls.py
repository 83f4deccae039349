"""A certificate authority of the local broker's own, made with openssl: its certificate is
what clients trust (`ORDERSTREAM_KAFKA_SSL_CAFILE`), and it signs the broker's certificate
for 127.0.0.1 and localhost, and client certificates when asked."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orderstream_dev.infra.process_control import InfraError

DAYS = "825"
PASSWORD_VARIABLE = "ORDERSTREAM_TLS_KEY_PASSWORD"


@dataclass(frozen=True, slots=True)
class Authority:
    folder: Path

    @property
    def certificate(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def key(self) -> Path:
        return self.folder / "ca.key"

    def create(self, name: str = "orderstream local CA") -> Authority:
        """Make the CA unless it exists; it is kept between starts."""
        if not self.certificate.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                     "-subj", f"/CN={name}", "-keyout", self.key, "-out", self.certificate)
            self.key.chmod(0o600)
        return self

    def issue(self, name: str, *, hosts: tuple[str, ...] = (),
              key_password: str | None = None) -> tuple[Path, Path]:
        """A key and a certificate for `name` (PEM, the key in PKCS#8, encrypted with
        `key_password` if given) valid for `hosts` (IP addresses or DNS names)."""
        key, request = self.folder / f"{name}.key", self.folder / f"{name}.csr"
        certificate, extensions = self.folder / f"{name}.pem", self.folder / f"{name}.ext"
        encryption = ["-passout", f"env:{PASSWORD_VARIABLE}"] if key_password else ["-nodes"]
        _openssl("req", "-newkey", "rsa:2048", *encryption, "-subj", f"/CN={name}",
                 "-keyout", key, "-out", request, password=key_password)
        alternative = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}"
                               for h in hosts)
        extensions.write_text(f"subjectAltName={alternative}\n" if hosts else "\n")
        _openssl("x509", "-req", "-in", request, "-CA", self.certificate, "-CAkey", self.key,
                 "-CAcreateserial", "-days", DAYS, "-extfile", extensions, "-out", certificate)
        key.chmod(0o600)
        request.unlink()
        extensions.unlink()
        return key, certificate


def _openssl(*args: str | Path, password: str | None = None) -> None:
    """Run openssl; a password goes through the environment, never the command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise InfraError("openssl is needed to make the broker's certificates: "
                         "apt-get install -y openssl")
    env = {**os.environ, PASSWORD_VARIABLE: password} if password else None
    result = subprocess.run([openssl, *map(str, args)], capture_output=True, text=True,
                            check=False, env=env)
    if result.returncode != 0:
        raise InfraError(f"openssl {args[0]} failed: {result.stderr.strip()}")
