"""The database URLs verify the server (verify-full), on the real TLS relay of local mode (local/pg_tls.py).

Behind the relay sits a stand-in for PostgreSQL that answers every startup with one FATAL ErrorResponse naming
itself: a client that reports that message completed the TLS handshake and verified the certificate; a client
given another CA must fail in the handshake and never reach it. The URLs are the ones compose_secrets builds, used
through SQLAlchemy as Airflow uses them (psycopg2, and asyncpg with PGSSLROOTCERT from the env contract).
"""

from __future__ import annotations

import asyncio
import socketserver
import struct
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine

from airflow_celery.cluster import BrokerEndpoint, DatabaseEndpoint, SecretName, compose_secrets, generate_secrets
from airflow_celery.cluster.env import DATABASE_CA_VAR, role_environment
from airflow_celery.local.state import StatePaths, all_secrets
from airflow_celery.local.tls import ensure_server_tls
from tests.cluster_settings import settings_with
from tests.local.relay_support import running_relay

REACHED = "reached the stand-in server through verified TLS"


class _FakePostgres(socketserver.BaseRequestHandler):
    """Reads one startup message and answers FATAL 28000 with REACHED."""

    def handle(self):
        header = self.request.recv(4)
        if len(header) < 4:
            return
        (length,) = struct.unpack("!I", header)
        remaining = length - 4
        while remaining > 0:
            chunk = self.request.recv(remaining)
            if not chunk:
                return
            remaining -= len(chunk)
        fields = b"SFATAL\0VFATAL\0C28000\0M" + REACHED.encode() + b"\0\0"
        self.request.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)


@pytest.fixture
def relay(tmp_path):
    """The relay on a free port with the state dir's certificate, in front of the stand-in on a unix socket."""
    with running_relay(StatePaths(tmp_path).pg_conf_dir, tmp_path / ".s.PGSQL.1", _FakePostgres) as port:
        yield port


def _urls(port: int, ca_file: Path) -> dict[SecretName, str]:
    endpoint = DatabaseEndpoint("127.0.0.1", port, sslmode="verify-full", sslrootcert=str(ca_file))
    return compose_secrets(generate_secrets(), endpoint, BrokerEndpoint("127.0.0.1"), "admin")


def _sync_error(url: str) -> str:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        engine.connect()
    return str(caught.value)


def _async_error(url: str, monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> BaseException:
    monkeypatch.setenv(DATABASE_CA_VAR, str(ca_file))

    async def connect() -> BaseException:
        engine = create_async_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            async with engine.connect():
                pass
        except Exception as error:
            return error
        finally:
            await engine.dispose()
        raise AssertionError("the stand-in server never accepts a connection")

    return asyncio.run(asyncio.wait_for(connect(), 30))


def _other_ca(tmp_path: Path) -> Path:
    return ensure_server_tls(tmp_path / "another-ca", "127.0.0.1").cert_file


def test_the_urls_ask_for_verify_full_with_the_local_certificate(tmp_path):
    paths = StatePaths(tmp_path)
    urls = all_secrets(paths, {"postgres.postgres": 5432, "redis.redis": 6379})
    ca = paths.database_ca_file
    assert urls[SecretName.DATABASE_URL].endswith(f"?sslmode=verify-full&sslrootcert={ca}")
    assert urls[SecretName.RESULT_BACKEND_URL].endswith(f"?sslmode=verify-full&sslrootcert={ca}")
    assert urls[SecretName.DATABASE_ASYNC_URL].endswith("?ssl=verify-full")


def test_every_airflow_role_gets_the_ca_file_for_asyncpg():
    settings = settings_with(execution_api_url="http://x/execution/", database_ca_file="/ca.pem")
    for role_name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker", "migrate"):
        assert role_environment(role_name, settings).plain[DATABASE_CA_VAR] == "/ca.pem"


def test_sync_url_verifies_the_server_and_reaches_it_with_the_right_ca(relay, tmp_path):
    urls = _urls(relay, StatePaths(tmp_path).database_ca_file)
    for name in (SecretName.DATABASE_URL, SecretName.RESULT_BACKEND_URL):
        url = urls[name].removeprefix("db+")
        assert REACHED in _sync_error(url)


def test_sync_url_fails_in_the_handshake_with_another_ca(relay, tmp_path):
    error = _sync_error(_urls(relay, _other_ca(tmp_path))[SecretName.DATABASE_URL])
    assert "certificate verify failed" in error and REACHED not in error


def test_async_url_verifies_the_server_and_reaches_it_with_the_right_ca(relay, tmp_path, monkeypatch):
    ca = StatePaths(tmp_path).database_ca_file
    error = _async_error(_urls(relay, ca)[SecretName.DATABASE_ASYNC_URL], monkeypatch, ca)
    assert REACHED in str(error)


def test_async_url_fails_in_the_handshake_with_another_ca(relay, tmp_path, monkeypatch):
    other = _other_ca(tmp_path)
    error = _async_error(_urls(relay, other)[SecretName.DATABASE_ASYNC_URL], monkeypatch, other)
    assert "certificate verify failed" in str(error) and REACHED not in str(error)
