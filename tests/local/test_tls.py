"""The local PostgreSQL's TLS: the self-signed certificate, pg_hba.conf, and the TLS relay on the TCP port."""

import datetime
import ipaddress
import os
import socket
import socketserver
import ssl
import stat
import struct
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from airflow_celery.local import pg_tls
from airflow_celery.local.postgres import hba_rules, write_server_config
from airflow_celery.local.state import StatePaths
from airflow_celery.local.tls import RENEW_DAYS, VALID_DAYS, ensure_server_tls, self_signed_certificate
from tests.local.relay_support import running_relay


def test_certificate_is_self_signed_for_the_address_and_matches_its_key():
    cert_pem, key_pem = self_signed_certificate("127.0.0.1")
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # raises unless it is signed by its own key
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=VALID_DAYS - 1) < lifetime <= datetime.timedelta(days=VALID_DAYS)


def test_key_is_private_and_the_pair_is_reused_until_it_nears_expiry(tmp_path):
    tls = ensure_server_tls(tmp_path / "pgconf", "127.0.0.1")
    assert stat.S_IMODE(tls.key_file.stat().st_mode) == 0o600  # postgres refuses a key others can read
    assert stat.S_IMODE(tls.key_file.parent.stat().st_mode) == 0o700
    first = tls.cert_file.read_bytes()
    assert ensure_server_tls(tmp_path / "pgconf", "127.0.0.1").cert_file.read_bytes() == first
    soon = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=VALID_DAYS - RENEW_DAYS + 1)
    cert_pem, key_pem = self_signed_certificate("127.0.0.1", now=soon)
    tls.cert_file.write_bytes(cert_pem)
    tls.key_file.write_bytes(key_pem)
    renewed = ensure_server_tls(tmp_path / "pgconf", "127.0.0.1")
    assert renewed.cert_file.read_bytes() not in (first, cert_pem)
    assert stat.S_IMODE(renewed.key_file.stat().st_mode) == 0o600


def test_hba_trusts_only_the_superuser_on_the_socket_and_asks_everyone_else_for_a_password():
    rules = [line.split() for line in hba_rules().splitlines() if line and not line.startswith("#")]
    assert rules == [["local", "all", "postgres", "trust"], ["local", "all", "all", "scram-sha-256"]]


def test_server_config_is_written_into_the_state_dir(tmp_path):
    paths = StatePaths(tmp_path)
    tls = write_server_config(paths, as_root=False)
    assert tls.cert_file.parent == paths.pg_conf_dir
    assert paths.pg_hba_file.read_text() == hba_rules()
    assert stat.S_IMODE(paths.pg_hba_file.stat().st_mode) == 0o600
    assert all(path.stat().st_uid == os.geteuid() for path in (tls.cert_file, tls.key_file, paths.pg_hba_file))


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def relay(tmp_path):
    """`python -m airflow_celery.local.pg_tls` on a free port, in front of an echo server on a unix socket
    (standing in for PostgreSQL)."""
    with running_relay(tmp_path / "pgconf", tmp_path / ".s.PGSQL.1", _Echo) as port:
        yield port


def _request(code: int) -> bytes:
    return struct.pack("!II", 8, code)


def _client_tls(sock: socket.socket) -> ssl.SSLSocket:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # what sslmode=require does
    return context.wrap_socket(sock)


def test_relay_refuses_a_startup_without_tls_like_a_hostssl_only_server(relay):
    startup = struct.pack("!I", 196608) + b"user\0airflow\0\0"
    with socket.create_connection(("127.0.0.1", relay), timeout=10) as sock:
        sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
        answer = sock.recv(4096)
    assert answer[:1] == b"E"
    fields = dict((f[:1], f[1:].decode()) for f in answer[5:].split(b"\0") if f)
    assert fields[b"S"] == "FATAL" and fields[b"C"] == "28000"
    assert "TLS is required" in fields[b"M"]


def test_relay_answers_sslrequest_with_s_and_relays_inside_tls(relay):
    with socket.create_connection(("127.0.0.1", relay), timeout=10) as sock:
        sock.sendall(_request(pg_tls.GSSENC_REQUEST))
        assert sock.recv(1) == b"N"  # no GSSAPI encryption: libpq then asks for TLS
        sock.sendall(_request(pg_tls.SSL_REQUEST))
        assert sock.recv(1) == b"S"
        with _client_tls(sock) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"startup inside TLS")
            assert tls.recv(1024) == b"startup inside TLS"


def test_relay_says_so_when_postgres_is_not_there(relay, tmp_path):
    (tmp_path / ".s.PGSQL.1").unlink()  # the echo server's socket: as if postgres were down
    with socket.create_connection(("127.0.0.1", relay), timeout=10) as sock:
        sock.sendall(_request(pg_tls.SSL_REQUEST))
        assert sock.recv(1) == b"S"
        with _client_tls(sock) as tls:
            answer = tls.recv(4096)
    assert answer[:1] == b"E" and b"C57P03\0" in answer and b"PostgreSQL is not running" in answer


def test_relay_carries_megabytes_both_ways_at_once(relay):
    """A large result and a large COPY in flight together, 2 MiB each way with up to 192 KiB on the way at a
    time: every byte comes back, in order (the relay's flow control, on its uvloop transports)."""
    payload = bytes(range(256)) * 8192
    chunk, ahead = 65536, 3 * 65536
    echoed = bytearray()
    with socket.create_connection(("127.0.0.1", relay), timeout=30) as sock:
        sock.sendall(_request(pg_tls.SSL_REQUEST))
        assert sock.recv(1) == b"S"
        with _client_tls(sock) as tls:
            for start in range(0, len(payload), chunk):
                tls.sendall(payload[start : start + chunk])
                _read_until(tls, echoed, start + chunk - ahead)
            _read_until(tls, echoed, len(payload))
    assert bytes(echoed) == payload


def test_relay_completes_every_handshake_of_a_burst_of_connections(relay):
    """300 connections, 20 at a time, as the roles' pools open theirs at start-up: every TLS handshake ends at once.
    When the relay awaited anything between its `S` and the handshake, the client's hello could be read as plain
    data and lost, and the handshake waited out its timeout (19 of 300 on uvloop, 2026-12-08)."""
    failures: list[str] = []

    def connect_15_times() -> None:
        for _ in range(15):
            try:
                with socket.create_connection(("127.0.0.1", relay), timeout=5) as sock:
                    sock.sendall(_request(pg_tls.SSL_REQUEST))
                    assert sock.recv(1) == b"S"
                    with _client_tls(sock) as tls:
                        tls.sendall(b"ping")
                        assert tls.recv(16) == b"ping"
            except (OSError, AssertionError) as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=connect_15_times) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []


def _read_until(tls: ssl.SSLSocket, echoed: bytearray, size: int) -> None:
    while len(echoed) < size:
        received = tls.recv(65536)
        assert received, f"closed after {len(echoed)} bytes"
        echoed += received
