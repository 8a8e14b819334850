"""A self-signed certificate for the local PostgreSQL's TLS port (pg_tls), so local mode requires TLS like RDS.

Clients connect with `sslmode=verify-full&sslrootcert=<this certificate>` (psycopg2, the Celery result backend)
and `ssl=verify-full` with PGSSLROOTCERT (asyncpg), as they do against RDS with its CA bundle: the certificate,
self-signed, is its own CA, and names 127.0.0.1 (and localhost), the host in the URLs. The key is an EC P-256 key
(fast to make; PostgreSQL's OpenSSL accepts it). It is made once per state dir and made again when it is about
to expire.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT_NAME = "server.crt"
"""The server's certificate, and the clients' CA file (verify-full)."""
VALID_DAYS = 825
RENEW_DAYS = 30
"""A certificate with fewer days than this left is replaced on the next `local up`."""


@dataclass(frozen=True)
class ServerTls:
    cert_file: Path
    key_file: Path


def self_signed_certificate(host: str, now: datetime.datetime | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, unencrypted PKCS#8 key PEM) for `host` (an IP address), also naming localhost."""
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt_names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(alt_names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _still_valid(cert_file: Path, key_file: Path, now: datetime.datetime) -> bool:
    if not (cert_file.exists() and key_file.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - now > datetime.timedelta(days=RENEW_DAYS)


def ensure_server_tls(directory: Path, host: str) -> ServerTls:
    """The certificate and key in `directory`, made if missing or expiring; the key is readable by its owner only."""
    directory.mkdir(mode=0o700, exist_ok=True)
    tls = ServerTls(cert_file=directory / CERT_NAME, key_file=directory / "server.key")
    if not _still_valid(tls.cert_file, tls.key_file, datetime.datetime.now(datetime.UTC)):
        cert_pem, key_pem = self_signed_certificate(host)
        tls.key_file.unlink(missing_ok=True)
        fd = os.open(tls.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        tls.cert_file.write_bytes(cert_pem)
    return tls
