import asyncio
import json
import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from airflow_celery.cluster.secrets import (
    COMPOSED,
    GENERATED,
    BrokerEndpoint,
    DatabaseEndpoint,
    SecretName,
    compose_secrets,
    generate_secrets,
)


def test_generate_secrets_makes_every_generated_secret_fresh():
    first, second = generate_secrets(), generate_secrets()
    assert set(first) == set(GENERATED)
    assert all(first[name] != second[name] for name in GENERATED)
    Fernet(first[SecretName.FERNET_KEY].encode())  # raises if not a valid Fernet key


def test_passwords_are_alphanumeric_so_rds_and_elasticache_accept_them():
    values = generate_secrets()
    for name in (SecretName.DATABASE_PASSWORD, SecretName.REDIS_PASSWORD, SecretName.ADMIN_PASSWORD):
        assert values[name].isalnum() and len(values[name]) >= 16


def test_compose_builds_the_connection_urls():
    generated = {
        SecretName.DATABASE_PASSWORD: "dbpass",
        SecretName.REDIS_PASSWORD: "redispass",
        SecretName.FLOWER_PASSWORD: "fl",
        SecretName.RESULT_BACKEND_PASSWORD: "rbpass",
    }
    urls = compose_secrets(generated, DatabaseEndpoint("db.internal", 5432), BrokerEndpoint("redis.internal"), "admin")
    assert set(urls) == set(COMPOSED)
    assert urls[SecretName.DATABASE_URL] == "postgresql+psycopg2://airflow:dbpass@db.internal:5432/airflow"
    assert urls[SecretName.DATABASE_ASYNC_URL] == "postgresql+asyncpg://airflow:dbpass@db.internal:5432/airflow"
    # The result backend logs in as its own role, limited to Celery's tables (entrypoint.provision_result_backend).
    assert urls[SecretName.RESULT_BACKEND_URL] == "db+postgresql://celery_results:rbpass@db.internal:5432/airflow"
    assert urls[SecretName.BROKER_URL] == "redis://:redispass@redis.internal:6379/0"
    assert urls[SecretName.FLOWER_BASIC_AUTH] == "admin:fl"


def test_tls_broker_and_ssl_database():
    generated = {
        SecretName.DATABASE_PASSWORD: "p@ss/word",
        SecretName.REDIS_PASSWORD: "r",
        SecretName.FLOWER_PASSWORD: "f",
        SecretName.RESULT_BACKEND_PASSWORD: "rb",
    }
    urls = compose_secrets(
        generated, DatabaseEndpoint("rds", 5432, sslmode="require"), BrokerEndpoint("cache", tls=True), "admin"
    )
    assert urls[SecretName.BROKER_URL] == "rediss://:r@cache:6379/0?ssl_cert_reqs=CERT_REQUIRED"
    db = urlsplit(urls[SecretName.DATABASE_URL])
    assert (db.hostname, db.port, db.query) == ("rds", 5432, "sslmode=require")
    assert db.password == "p%40ss%2Fword"  # quoted, so the URL still parses
    async_db = urlsplit(urls[SecretName.DATABASE_ASYNC_URL])
    assert (async_db.scheme, async_db.hostname, async_db.query) == ("postgresql+asyncpg", "rds", "ssl=require")
    assert async_db.password == db.password
    assert urlsplit(urls[SecretName.RESULT_BACKEND_URL]).query == "sslmode=require"


# Runs Airflow's own `settings.configure_vars` twice: without and with [database] sql_alchemy_conn_async.
_AIRFLOW_ASYNC_URLS = """
import json, os, sys
from airflow import settings
settings.configure_vars()
derived = settings.SQL_ALCHEMY_CONN_ASYNC
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = sys.argv[1]
settings.configure_vars()
print(json.dumps({"derived": derived, "explicit": settings.SQL_ALCHEMY_CONN_ASYNC}))
"""


def _airflow_async_urls(sync_url: str, async_url: str, tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sync_url)
    result = subprocess.run(
        [sys.executable, "-c", _AIRFLOW_ASYNC_URLS, async_url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _asyncpg_connect(url: str) -> None:
    """What Airflow's async engine does on first use: SQLAlchemy's asyncpg dialect turns the URL (query
    included) into keyword arguments of `asyncpg.connect`."""
    import asyncpg
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    args, kwargs = create_async_engine(parsed).dialect.create_connect_args(parsed)
    asyncio.run(asyncpg.connect(*args, **kwargs, timeout=5))


@pytest.mark.airflow
def test_airflow_derived_async_url_breaks_asyncpg_and_the_composed_one_does_not(tmp_path):
    """The RDS URL: Airflow's derived async URL keeps sslmode, which asyncpg rejects before connecting;
    our own SQL_ALCHEMY_CONN_ASYNC is what Airflow then uses, and asyncpg accepts it (it gets as far as
    opening the TCP connection, refused here because nothing listens on the port)."""
    pytest.importorskip("airflow")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    urls = compose_secrets(
        {
            SecretName.DATABASE_PASSWORD: "pw",
            SecretName.REDIS_PASSWORD: "r",
            SecretName.FLOWER_PASSWORD: "f",
            SecretName.RESULT_BACKEND_PASSWORD: "rb",
        },
        DatabaseEndpoint("127.0.0.1", closed_port, sslmode="require"),
        BrokerEndpoint("cache", tls=True),
        "admin",
    )
    seen = _airflow_async_urls(urls[SecretName.DATABASE_URL], urls[SecretName.DATABASE_ASYNC_URL], tmp_path)
    assert seen["derived"] == f"postgresql+asyncpg://airflow:pw@127.0.0.1:{closed_port}/airflow?sslmode=require"
    assert seen["explicit"] == urls[SecretName.DATABASE_ASYNC_URL]
    with pytest.raises(TypeError, match="unexpected keyword argument 'sslmode'"):
        _asyncpg_connect(seen["derived"])
    with pytest.raises(OSError):
        _asyncpg_connect(seen["explicit"])
