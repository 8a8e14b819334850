"""The entrypoint of every role: `python -m airflow_celery.entrypoint ROLE`.

ECS runs it as the image's ENTRYPOINT (behind the official image's dumb-init), docker-compose runs it,
and the local runner runs this same file. For a role it:

1. waits, with a bounded retry, for the services the role has edges to (PostgreSQL, Redis), and says
   which variable and which host failed if they never answer;
2. for `migrate`: migrates the schema, creates the admin user if missing and resets its password when the
   secret changed, all in this one interpreter, then exits (or, asked to by the ECS migrate step, exits
   EX_TEMPFAIL without migrating while migrations are pending, so the services are stopped first);
3. otherwise optionally waits for `airflow db check-migrations`, then `exec`s the role's command, so
   signals reach Airflow directly (a worker's SIGTERM is a Celery warm shutdown).

It imports only the standard library (and Airflow and SQLAlchemy, lazily, for `migrate`): it runs before
anything else is known to work.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from airflow_celery.cluster.edges import talks_to
from airflow_celery.cluster.env import (
    ADMIN_PASSWORD_VAR,
    ADMIN_USERNAME_VAR,
    DATABASE_URL_VAR,
    NODE_NAME_VAR,
    RESULT_BACKEND_VAR,
    SERVE_LOGS_VAR,
    STOP_FOR_MIGRATIONS_VAR,
    WAIT_FOR_MIGRATIONS_VAR,
    WAIT_TIMEOUT_VAR,
    reads_metadata_db,
)
from airflow_celery.cluster.queues import WORKER_QUEUE_VAR
from airflow_celery.cluster.roles import ENTRYPOINT_ROLES, MIGRATE, TRIGGERER, WAIT_BUDGET, WORKER, Kind, Role

if TYPE_CHECKING:
    import sqlalchemy

EX_USAGE = 64
EX_CONFIG = 78
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
"""migrate, asked to stop for migrations: the schema is behind this Airflow; stop the services, then run me again."""

HINTS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
        "the host must be the database's address: the RDS endpoint on AWS, the service name `postgres` in "
        "docker-compose, 127.0.0.1 in local mode"
    ),
    "AIRFLOW__CELERY__RESULT_BACKEND": (
        "the host must be the database's address (the result backend lives in the metadata database): the RDS "
        "endpoint on AWS, the service name `postgres` in docker-compose, 127.0.0.1 in local mode"
    ),
    "AIRFLOW__CELERY__BROKER_URL": (
        "the host must match the broker's name: the Cloud Map name `redis.<namespace>` (or the ElastiCache "
        "endpoint) on AWS, the service name `redis` in docker-compose, 127.0.0.1 in local mode"
    ),
}
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "rediss": 6379}


class EntrypointError(Exception):
    """A failure the operator can fix; the message says what and where."""

    def __init__(self, message: str, exit_code: int = EX_CONFIG):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Dependency:
    """A service reached through the URL in one environment variable."""

    variable: str
    host: str
    port: int


def _log(message: str) -> None:
    print(f"[airflow-celery entrypoint] {message}", file=sys.stderr, flush=True)


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
    """The services this role has edges to, read from its environment."""
    found = []
    if talks_to(role.name, "postgres"):
        # A worker reaches PostgreSQL only through Celery's result backend: it gets no metadata-DB URL.
        variable = DATABASE_URL_VAR if reads_metadata_db(role.name) else RESULT_BACKEND_VAR
        found.append(parse_dependency(variable, env))
    if talks_to(role.name, "redis"):
        found.append(parse_dependency("AIRFLOW__CELERY__BROKER_URL", env))
    return found


def wait_for(dependency: Dependency, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """Retry a TCP connection until it succeeds or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            with socket.create_connection((dependency.host, dependency.port), timeout=3):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise EntrypointError(
                    f"{dependency.variable} points at {dependency.host}:{dependency.port}, which did not accept "
                    f"a connection in {timeout:.0f} s ({attempt} attempts, last error: {error}). "
                    f"Check that it is running; {HINTS[dependency.variable]}.",
                    EX_UNAVAILABLE,
                ) from None
            if attempt == 1:
                _log(f"waiting for {dependency.variable} at {dependency.host}:{dependency.port} ({error})")
            sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def wait_for_result_backend_role(
    result_backend_url: str, deadline: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    """A worker waits until it can log in as the result backend's role and see Celery's table.

    `migrate` creates that role (provision_result_backend) in a scheduler task, while a deploy starts new workers
    at the same time: a worker taking tasks before the role exists fails each one inside Celery (storing the
    STARTED state), and the task stays queued until `[scheduler] task_queued_timeout`.
    """
    import psycopg2

    url = result_backend_url.removeprefix("db+").replace("postgresql+psycopg2://", "postgresql://", 1)
    announced = False
    while True:
        try:
            _can_read_results(psycopg2, url)
            return
        except psycopg2.Error as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if time.monotonic() >= deadline:
                raise EntrypointError(
                    f"cannot use the result backend ({RESULT_BACKEND_VAR}) as its own role: {reason}. `migrate` "
                    "creates that role and Celery's tables; check that it ran (the scheduler task's log)",
                    EX_UNAVAILABLE,
                ) from None
            if not announced:
                _log(f"waiting for the result backend's role and tables, which migrate creates ({reason})")
                announced = True
            sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def _can_read_results(psycopg2, url: str) -> None:
    connection = psycopg2.connect(url, connect_timeout=5)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM celery_taskmeta LIMIT 0")
    finally:
        connection.close()


def _flag(env: Mapping[str, str], variable: str, default: bool) -> bool:
    value = env.get(variable)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise EntrypointError(f"{variable}={value!r} is not a boolean; use True or False")


def _timeout(env: Mapping[str, str]) -> float:
    value = env.get(WAIT_TIMEOUT_VAR, str(WAIT_BUDGET))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise EntrypointError(f"{WAIT_TIMEOUT_VAR}={value!r} must be a positive number of seconds")
    return seconds


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def role_argv(role: Role, env: Mapping[str, str], extra: Sequence[str] = ()) -> list[str]:
    """The command line the role finally runs."""
    argv = list(role.command)
    if role is WORKER and env.get(NODE_NAME_VAR):
        argv += ["--celery-hostname", env[NODE_NAME_VAR]]
    if role is WORKER and env.get(WORKER_QUEUE_VAR):
        # An extra queue's pool (cluster/queues.py) consumes exactly its queue, not `[operators] default_queue`.
        argv += ["--queues", env[WORKER_QUEUE_VAR]]
    if role in (WORKER, TRIGGERER) and not _flag(env, SERVE_LOGS_VAR, True):
        argv.append("--skip-serve-logs")
    return argv + list(extra)


DEFAULT_POOL_SLOTS_VAR = "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT"


def migrate_commands(env: Mapping[str, str]) -> list[list[str]]:
    """Airflow CLI arguments: schema migration, then the default pool's slots (the admin user is ensure_admin's).

    Airflow reads default_pool_task_slot_count only when it creates the pool (utils/db.py,
    add_default_pool_if_not_exists): setting the pool on every migrate keeps it equal to `[core] parallelism`
    when the worker count changes.
    """
    for variable in (ADMIN_USERNAME_VAR, ADMIN_PASSWORD_VAR):
        if not env.get(variable, ""):
            raise EntrypointError(f"{variable} is not set; migrate needs it to create the admin user")
    pool = (
        [["pools", "set", "default_pool", env[DEFAULT_POOL_SLOTS_VAR], "Default pool"]]
        if env.get(DEFAULT_POOL_SLOTS_VAR)
        else []
    )
    return [list(MIGRATE.command[1:]), *pool]


MIGRATE_LOCK_ID = 0x41434D49  # "ACMI": airflow-celery migrate; Airflow's own advisory locks are small integers
LOCK_POLL_SECONDS = 2.0


@contextlib.contextmanager
def migrate_lock(database_url: str, deadline: float) -> Iterator[sqlalchemy.Connection]:
    """Hold a PostgreSQL advisory lock for the whole migrate, so that concurrent ones run one after the other;
    yields the connection that holds it, for migrate's own statements.

    Several scheduler tasks each run `migrate` first, all at once on a first deploy. Airflow's `db migrate` locks
    only its own schema step: on an empty database, `initdb` (airflow/utils/db.py) creates the core tables under
    its lock but then runs the auth manager's (FAB's `ab_*` tables) after releasing it, and two runs collide on
    `CREATE SEQUENCE ab_permission_id_seq` (seen on the local cluster; tests/local/test_cluster.py). Under this
    lock, the second run finds everything done. The wait shares the entrypoint's one deadline.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            _acquire(connection, sqlalchemy.text("SELECT pg_try_advisory_lock(:id)"), deadline)
            connection.commit()  # the lock is the session's: no transaction stays open while migrate runs
            try:
                yield connection
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATE_LOCK_ID})
                connection.commit()
    finally:
        engine.dispose()


def _acquire(connection, try_lock, deadline: float) -> None:
    announced = False
    while not connection.execute(try_lock, {"id": MIGRATE_LOCK_ID}).scalar():
        if time.monotonic() > deadline:
            raise EntrypointError("another migrate held the database's migrate lock until the wait budget ran out", 1)
        if not announced:
            _log("another migrate is running; waiting for it to finish")
            announced = True
        connection.commit()
        time.sleep(LOCK_POLL_SECONDS)


RESULT_BACKEND_TABLES = ("celery_taskmeta", "celery_tasksetmeta")
RESULT_BACKEND_SEQUENCES = ("task_id_sequence", "taskset_id_sequence")
"""Celery's result backend tables and their id sequences (celery/backends/database/models.py, Task and TaskSet)."""


def provision_result_backend(connection: sqlalchemy.Connection, result_backend_url: str) -> None:
    """Give the result backend its own login role, with rights on Celery's tables and nothing else.

    Workers hold the result backend's URL: with the metadata database's user in it, any task could read every
    connection and variable row. As the metadata user (RDS's master user, which has CREATEROLE), this creates
    Celery's tables as Celery itself would (`ResultModelBase.metadata.create_all`, which Celery's SessionManager
    then finds present), the role with the URL's password (sent as a SCRAM verifier made by libpq, never in
    plain text), and grants it row access to those tables and their sequences only. Run on every migrate, it
    also resets the password to the stored one. `connection` is the metadata user's, the one holding the
    migrate lock.
    """
    from celery.backends.database.models import ResultModelBase
    from psycopg2 import sql
    from psycopg2.extensions import encrypt_password

    parts = urlsplit(result_backend_url.removeprefix("db+"))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if not user or not password or user == connection.engine.url.username:
        _log("result backend uses the metadata database's user: no separate role to provision")
        return
    ResultModelBase.metadata.create_all(connection)
    driver = connection.connection.driver_connection
    _grant_result_backend_role(driver, sql, user, encrypt_password(password, user, driver))
    connection.commit()
    _log(f"result backend role {user} can use {', '.join(RESULT_BACKEND_TABLES)} only")


def _grant_result_backend_role(connection, sql, user: str, verifier: str) -> None:
    role = sql.Identifier(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
        verb = sql.SQL("ALTER" if cursor.fetchone() else "CREATE")
        cursor.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD %s").format(verb, role), (verifier,))
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in RESULT_BACKEND_TABLES)
        cursor.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(tables, role))
        sequences = sql.SQL(", ").join(sql.Identifier(s) for s in RESULT_BACKEND_SEQUENCES)
        cursor.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(sequences, role))


def run_airflow_cli(commands: Sequence[Sequence[str]]) -> None:
    """Run Airflow CLI commands in this one interpreter, as `airflow ARGS...` would.

    Each `airflow` start costs seconds of imports, and an admin password on a command line is visible to
    every user of the host in the process list; in-process, neither happens.
    """
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    parser = cli_parser.get_parser()
    for argv in commands:
        _log(f"running: airflow {' '.join(argv[:2])}")
        args = parser.parse_args(list(argv))
        try:
            args.func(args)
        except SystemExit as stop:
            if stop.code not in (None, 0):
                raise EntrypointError(f"`airflow {' '.join(argv[:2])}` failed with exit code {stop.code}", 1) from None


def migrations_pending(connection: sqlalchemy.Connection) -> bool:
    """Whether `db migrate` would change an existing schema: Airflow's (and FAB's) heads differ from the database's.

    An empty database is not pending: nothing runs against it yet. Uses Airflow's own check (utils/db.py,
    check_migrations: the alembic heads of the source against the database's, and each external DB manager's)."""
    from alembic.migration import MigrationContext

    if not MigrationContext.configure(connection).get_current_heads():
        return False
    connection.commit()
    from airflow.utils.db import check_migrations

    try:
        check_migrations(timeout=1)
    except TimeoutError as pending:
        _log(f"migrations pending: {pending}")
        return True
    return False


ADMIN_ROLE = "Admin"


def ensure_admin(username: str, password: str) -> str:
    """The admin user exists with the password in the secret: "created", "reset" (the secret was rotated) or
    "unchanged".

    `airflow users create` leaves an existing user alone ("already exists"), so a rotated secret never reached the
    database. This does what FAB's CLI does (user_command.users_create and user_reset_password: the security
    manager's add_user, or reset_password, which hashes it and ends the user's sessions) in-process, never with the
    password on a command line, and resets only when the stored hash does not match (check_password)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    @providers_configuration_loaded
    def ensure() -> str:
        with get_application_builder() as appbuilder:
            security = appbuilder.sm
            user = security.find_user(username=username)
            if user is None:
                role = security.find_role(ADMIN_ROLE)
                if role is None:
                    raise EntrypointError(f"FAB has no {ADMIN_ROLE!r} role after the migration", 1)
                if not security.add_user(username, "Airflow", "Admin", f"{username}@example.invalid", role, password):
                    raise EntrypointError(f"could not create admin user {username!r}", 1)
                return "created"
            if security.check_password(username, password):
                return "unchanged"
            if not security.reset_password(user.id, password):
                raise EntrypointError(f"could not reset the password of admin user {username!r}", 1)
            return "reset"

    outcome = ensure()
    _log(f"admin user {username}: {outcome}")
    return outcome


def _run(argv: list[str]) -> None:
    _log(f"running: {' '.join(argv)}")
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise EntrypointError(f"`{' '.join(argv)}` failed with exit code {result.returncode}", result.returncode)


def migrate(env: Mapping[str, str], deadline: float) -> int:
    """Under the migrate lock: stop here if asked to while migrations are pending, else migrate, set the pool, make
    the admin user and its password match the secret, and provision the result backend's role."""
    commands = migrate_commands(env)
    with migrate_lock(env[DATABASE_URL_VAR], deadline) as connection:
        if _flag(env, STOP_FOR_MIGRATIONS_VAR, False) and migrations_pending(connection):
            _log("the schema is behind this Airflow: stop the services that read it, then run migrate again")
            return EX_TEMPFAIL
        run_airflow_cli(commands)
        ensure_admin(env[ADMIN_USERNAME_VAR], env[ADMIN_PASSWORD_VAR])
        if env.get(RESULT_BACKEND_VAR):
            provision_result_backend(connection, env[RESULT_BACKEND_VAR])
    _log("migration done, admin user present with the current password")
    return 0


def find_role(name: str) -> Role:
    for candidate in ENTRYPOINT_ROLES:
        if candidate.name == name:
            return candidate
    names = ", ".join(r.name for r in ENTRYPOINT_ROLES)
    raise EntrypointError(f"unknown role {name!r}; the entrypoint runs: {names}", EX_USAGE)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    try:
        if not args:
            raise EntrypointError("usage: python -m airflow_celery.entrypoint ROLE [ARGS...]", EX_USAGE)
        role = find_role(args[0])
        # One budget for every wait, so the role still passes its health check in time (roles.py, start-up timing).
        deadline = time.monotonic() + _timeout(env)
        for dependency in dependencies_of(role, env):
            wait_for(dependency, _remaining(deadline))
        if role.kind is Kind.JOB:
            return migrate(env, deadline)
        if (
            not reads_metadata_db(role.name)
            and env.get(RESULT_BACKEND_VAR)
            and _flag(env, WAIT_FOR_MIGRATIONS_VAR, True)
        ):
            wait_for_result_backend_role(env[RESULT_BACKEND_VAR], deadline)
        # A sidecar (the autoscaler) starts no Airflow: it waits for its database, then retries its queries.
        if role.kind is Kind.AIRFLOW and reads_metadata_db(role.name) and _flag(env, WAIT_FOR_MIGRATIONS_VAR, True):
            _run(
                [
                    "airflow",
                    "db",
                    "check-migrations",
                    "--migration-wait-timeout",
                    str(max(1, int(_remaining(deadline)))),
                ]
            )
        final = role_argv(role, env, args[1:])
        _log(f"exec: {' '.join(final)}")
        os.execvp(final[0], final)
    except EntrypointError as error:
        _log(f"error: {error}")
        return error.exit_code
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
