"""What a role waits for before it starts: the services it has edges to (a TCP connection to each), the
result backend's own database role (the worker), and the metadata schema (`airflow db check-migrations`)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_celery.cluster.edges import talks_to
from airflow_celery.cluster.env import DATABASE_URL_VAR, RESULT_BACKEND_VAR, reads_metadata_db
from airflow_celery.cluster.roles import Role
from airflow_celery.entrypoint.errors import EX_UNAVAILABLE, EntrypointError, log
from airflow_celery.entrypoint.retry import remaining, retry_until

BROKER_URL_VAR = "AIRFLOW__CELERY__BROKER_URL"
HINTS = {
    DATABASE_URL_VAR: (
        "the host must be the database's address: the RDS endpoint on AWS, the service name `postgres` in "
        "docker-compose, 127.0.0.1 in local mode"
    ),
    RESULT_BACKEND_VAR: (
        "the host must be the database's address (the result backend lives in the metadata database): the RDS "
        "endpoint on AWS, the service name `postgres` in docker-compose, 127.0.0.1 in local mode"
    ),
    BROKER_URL_VAR: (
        "the host must match the broker's name: the Cloud Map name `redis.<namespace>` (or the ElastiCache "
        "endpoint) on AWS, the service name `redis` in docker-compose, 127.0.0.1 in local mode"
    ),
}
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "rediss": 6379}


@dataclass(frozen=True)
class Dependency:
    """A service reached through the URL in one environment variable."""

    variable: str
    host: str
    port: int


def parse_dependency(variable: str, env: Mapping[str, str]) -> Dependency:
    """Host and port of the URL in `variable`, or an error naming the variable."""
    url = env.get(variable, "").strip()
    if not url:
        raise EntrypointError(f"{variable} is not set; this role needs it to reach its {_what(variable)}")
    parts = urlsplit(url.removeprefix("db+"))
    scheme = parts.scheme.split("+")[0]
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError as error:
        raise EntrypointError(f"{variable} has an invalid port: {error}") from None
    if not parts.hostname or port is None:
        raise EntrypointError(f"{variable} has no host to connect to (scheme {scheme or 'missing'!r})")
    return Dependency(variable=variable, host=parts.hostname, port=port)


def _what(variable: str) -> str:
    if variable == RESULT_BACKEND_VAR:
        return "Celery result backend (PostgreSQL)"
    return "database" if "DATABASE" in variable else "Celery broker"


def dependencies_of(role: Role, env: Mapping[str, str]) -> list[Dependency]:
    """The services this role has edges to (cluster/edges.py), each through the variable its env contract gives
    it (cluster/env.py): a worker reaches PostgreSQL only through Celery's result backend, with no metadata-DB URL."""
    found = []
    if talks_to(role.name, "postgres"):
        variable = DATABASE_URL_VAR if reads_metadata_db(role.name) else RESULT_BACKEND_VAR
        found.append(parse_dependency(variable, env))
    if talks_to(role.name, "redis"):
        found.append(parse_dependency(BROKER_URL_VAR, env))
    return found


def wait_for(dependency: Dependency, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """Retry a TCP connection until it succeeds or `timeout` seconds have passed."""

    def connect() -> None:
        with socket.create_connection((dependency.host, dependency.port), timeout=3):
            pass

    def gave_up(error: BaseException, attempts: int) -> EntrypointError:
        return EntrypointError(
            f"{dependency.variable} points at {dependency.host}:{dependency.port}, which did not accept "
            f"a connection in {timeout:.0f} s ({attempts} attempts, last error: {error}). "
            f"Check that it is running; {HINTS[dependency.variable]}.",
            EX_UNAVAILABLE,
        )

    retry_until(
        time.monotonic() + timeout,
        connect,
        retry_on=OSError,
        waiting=lambda error: log(
            f"waiting for {dependency.variable} at {dependency.host}:{dependency.port} ({error})"
        ),
        gave_up=gave_up,
        sleep=sleep,
    )


def wait_for_result_backend_role(
    result_backend_url: str, deadline: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    """The worker waits until it can log in as the result backend's role and see Celery's table.

    `migrate` creates that role (migrate.provision_result_backend) in a scheduler task, while a deploy starts new
    workers at the same time: a worker taking tasks before the role exists fails each one inside Celery (storing
    the STARTED state), and the task stays queued until `[scheduler] task_queued_timeout`.
    """
    import psycopg2

    url = result_backend_url.removeprefix("db+").replace("postgresql+psycopg2://", "postgresql://", 1)

    def reason(error: BaseException) -> str:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

    retry_until(
        deadline,
        lambda: _can_read_results(psycopg2, url),
        retry_on=psycopg2.Error,
        waiting=lambda error: log(
            f"waiting for the result backend's role and tables, which migrate creates ({reason(error)})"
        ),
        gave_up=lambda error, _: EntrypointError(
            f"cannot use the result backend ({RESULT_BACKEND_VAR}) as its own role: {reason(error)}. `migrate` "
            "creates that role and Celery's tables; check that it ran (the scheduler task's log)",
            EX_UNAVAILABLE,
        ),
        sleep=sleep,
    )


def _can_read_results(psycopg2, url: str) -> None:
    connection = psycopg2.connect(url, connect_timeout=5)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM celery_taskmeta LIMIT 0")
    finally:
        connection.close()


def wait_for_schema(deadline: float) -> None:
    """Airflow's own wait for the metadata schema to be migrated, for what is left of the budget."""
    run(["airflow", "db", "check-migrations", "--migration-wait-timeout", str(max(1, int(remaining(deadline))))])


def run(argv: list[str]) -> None:
    log(f"running: {' '.join(argv)}")
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise EntrypointError(f"`{' '.join(argv)}` failed with exit code {result.returncode}", result.returncode)
