"""Throwaway self-signed certificates for the tests' TLS servers, made with openssl."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path


def self_signed_certificate(
    directory: Path, *names: str, stem: str = "server"
) -> tuple[Path, Path]:
    """A certificate for ``names`` (host names or addresses; the first is its CN) and its key.
    Give its path as ``SSL_CERT_FILE`` to a client that should trust it and nothing else."""
    cert, key = directory / f"{stem}-cert.pem", directory / f"{stem}-key.pem"
    alt_names = ",".join(f"{'IP' if _is_address(name) else 'DNS'}:{name}" for name in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={names[0]}", "-addext",
         f"subjectAltName={alt_names}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
