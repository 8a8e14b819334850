"""The cluster's secrets: which are generated, and how the connection URLs are built from them.

Generated values are random; the URL-shaped secrets are composed from them and the endpoints by
`compose_secrets`, which the AWS renderer (inside an Output transform) and the local runner both call.

The metadata database gets two URLs because Airflow runs two drivers. When `[database]
sql_alchemy_conn_async` is unset, `airflow.settings.configure_vars` derives the async URL from the sync
one by switching the driver to asyncpg and keeping the query (`_get_async_conn_uri_from_sync`). asyncpg
has no `sslmode` keyword (`connect() got an unexpected keyword argument 'sslmode'`): it takes the same
mode names as `ssl` (`asyncpg.connect_utils._parse_connect_dsn_and_args`), and SQLAlchemy's asyncpg
dialect passes the URL query to `asyncpg.connect` as keywords (`create_connect_args`).

Both verify the server (`verify-full`: a certificate chaining to the CA bundle, for the host name in the URL).
libpq takes the bundle from the URL (`sslrootcert`); asyncpg has no such keyword either, and reads it from
`PGSSLROOTCERT` when `ssl` is a mode name (`_parse_connect_dsn_and_args`), so the env contract sets that
variable to the same file (cluster/env.py, `database_ca_file`).
"""

from __future__ import annotations

import base64
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote


class SecretName(StrEnum):
    # Generated
    FERNET_KEY = "fernet-key"
    JWT_SECRET = "jwt-secret"
    API_SECRET_KEY = "api-secret-key"
    ADMIN_PASSWORD = "admin-password"
    FLOWER_PASSWORD = "flower-password"
    DATABASE_PASSWORD = "database-password"
    RESULT_BACKEND_PASSWORD = "result-backend-password"
    REDIS_PASSWORD = "redis-password"
    # Composed from the generated ones and the endpoints
    DATABASE_URL = "database-url"
    DATABASE_ASYNC_URL = "database-async-url"
    RESULT_BACKEND_URL = "result-backend-url"
    BROKER_URL = "broker-url"
    FLOWER_BASIC_AUTH = "flower-basic-auth"


# Length of each generated password-like secret. Alphanumeric only, so that it is valid as an RDS master
# password and an ElastiCache AUTH token and needs no escaping in a URL.
GENERATED_LENGTHS: dict[SecretName, int] = {
    SecretName.JWT_SECRET: 64,
    SecretName.API_SECRET_KEY: 48,
    SecretName.ADMIN_PASSWORD: 24,
    SecretName.FLOWER_PASSWORD: 24,
    SecretName.DATABASE_PASSWORD: 32,
    SecretName.RESULT_BACKEND_PASSWORD: 32,
    SecretName.REDIS_PASSWORD: 32,
}
GENERATED: tuple[SecretName, ...] = (SecretName.FERNET_KEY, *GENERATED_LENGTHS)
COMPOSED: tuple[SecretName, ...] = (
    SecretName.DATABASE_URL,
    SecretName.DATABASE_ASYNC_URL,
    SecretName.RESULT_BACKEND_URL,
    SecretName.BROKER_URL,
    SecretName.FLOWER_BASIC_AUTH,
)
FERNET_KEY_BYTES = 32
RESULT_BACKEND_USER = "celery_results"
"""The database role of Celery's result backend: `migrate` creates it with rights on Celery's two tables only
(entrypoint/migrate.py, provision_result_backend), so the workers, which hold its URL, cannot read the metadata."""
DEFAULT_ADMIN_USERNAME = "admin"
"""The Airflow admin's (and Flower's basic auth) username unless the config names another."""


def fernet_key_from_bytes(raw: bytes) -> str:
    """A Fernet key: 32 bytes, URL-safe base64 with padding."""
    if len(raw) != FERNET_KEY_BYTES:
        raise ValueError(f"a Fernet key needs {FERNET_KEY_BYTES} bytes, got {len(raw)}")
    return base64.urlsafe_b64encode(raw).decode()


def generate_secrets() -> dict[SecretName, str]:
    """Fresh values for every generated secret (the local runner; the cloud uses pulumi-random)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    values = {
        name: "".join(_random.choice(alphabet) for _ in range(length)) for name, length in GENERATED_LENGTHS.items()
    }
    values[SecretName.FERNET_KEY] = fernet_key_from_bytes(_random.token_bytes(FERNET_KEY_BYTES))
    return values


@dataclass(frozen=True)
class DatabaseEndpoint:
    host: str
    port: int = 5432
    name: str = "airflow"
    user: str = "airflow"
    sslmode: str | None = None
    """libpq's sslmode ("verify-full" on RDS and in local mode), or None for a plain connection (docker-compose)."""
    sslrootcert: str | None = None
    """The CA bundle the server's certificate must chain to (the RDS bundle in the image; the local CA)."""


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int = 6379
    tls: bool = False  # ElastiCache with in-transit encryption
    db: int = 0


def _query(key: str, sslmode: str | None, sslrootcert: str | None = None) -> str:
    if not sslmode:
        return ""
    root = f"&sslrootcert={quote(sslrootcert, safe='/')}" if sslrootcert else ""
    return f"?{key}={sslmode}{root}"


def compose_secrets(
    generated: Mapping[str, str],
    database: DatabaseEndpoint,
    broker: BrokerEndpoint,
    admin_username: str,
) -> dict[SecretName, str]:
    """The URL-shaped secrets, built from the generated values and the endpoints."""
    db_password = quote(generated[SecretName.DATABASE_PASSWORD], safe="")
    db_auth = f"{quote(database.user, safe='')}:{db_password}"
    db_where = f"{database.host}:{database.port}/{database.name}"
    results_auth = f"{RESULT_BACKEND_USER}:{quote(generated[SecretName.RESULT_BACKEND_PASSWORD], safe='')}"
    # psycopg2, and the Celery result backend through it: the mode and the CA bundle.
    libpq_tls = _query("sslmode", database.sslmode, database.sslrootcert)
    # asyncpg: the same mode names under the name `ssl`; the bundle comes from PGSSLROOTCERT (no keyword for it).
    asyncpg_tls = _query("ssl", database.sslmode)
    scheme = "rediss" if broker.tls else "redis"
    tls_query = "?ssl_cert_reqs=CERT_REQUIRED" if broker.tls else ""
    redis_password = quote(generated[SecretName.REDIS_PASSWORD], safe="")
    return {
        SecretName.DATABASE_URL: f"postgresql+psycopg2://{db_auth}@{db_where}{libpq_tls}",
        SecretName.DATABASE_ASYNC_URL: f"postgresql+asyncpg://{db_auth}@{db_where}{asyncpg_tls}",
        SecretName.RESULT_BACKEND_URL: f"db+postgresql://{results_auth}@{db_where}{libpq_tls}",
        SecretName.BROKER_URL: f"{scheme}://:{redis_password}@{broker.host}:{broker.port}/{broker.db}{tls_query}",
        SecretName.FLOWER_BASIC_AUTH: f"{admin_username}:{generated[SecretName.FLOWER_PASSWORD]}",
    }
