"""The `migrate` role: under one database lock, the steps the Helm chart runs as separate jobs, each named.

1. `migrate-database`: `airflow db migrate` (the chart's migrate-database job);
2. `set-default-pool`: the default pool's slots to `[core] parallelism` (a pools job);
3. `create-user`: the admin user, with the password in the secret (the chart's create-user job; reset when the
   secret was rotated);
4. `provision-result-backend`: the result backend's own database role, limited to Celery's tables.

Asked to by the ECS migrate step (AIRFLOW_CELERY_STOP_FOR_MIGRATIONS), it exits EX_TEMPFAIL without a step while
migrations are pending, so the services that read the schema are stopped first. Airflow, SQLAlchemy, Celery and
psycopg2 are imported only inside the steps: the other roles never load them here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from airflow_celery.cluster.env import (
    ADMIN_PASSWORD_VAR,
    ADMIN_USERNAME_VAR,
    DATABASE_URL_VAR,
    RESULT_BACKEND_VAR,
    STOP_FOR_MIGRATIONS_VAR,
)
from airflow_celery.cluster.roles import MIGRATE
from airflow_celery.entrypoint.errors import EX_TEMPFAIL, EntrypointError, log
from airflow_celery.entrypoint.retry import RETRY_INTERVAL, retry_until
from airflow_celery.entrypoint.variables import flag

if TYPE_CHECKING:
    import sqlalchemy

DEFAULT_POOL_SLOTS_VAR = "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT"


MIGRATE_LOCK_ID = 0x41434D49  # "ACMI": airflow-celery migrate; Airflow's own advisory locks are small integers
LOCK_POLL_SECONDS = RETRY_INTERVAL


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


class _LockHeld(Exception):
    """Another migrate holds the lock."""


def _acquire(connection, try_lock, deadline: float) -> None:
    def take() -> None:
        if not connection.execute(try_lock, {"id": MIGRATE_LOCK_ID}).scalar():
            connection.commit()
            raise _LockHeld

    retry_until(
        deadline,
        take,
        retry_on=_LockHeld,
        waiting=lambda _: log("another migrate is running; waiting for it to finish"),
        gave_up=lambda *_: EntrypointError(
            "another migrate held the database's migrate lock until the wait budget ran out", 1
        ),
        interval=LOCK_POLL_SECONDS,
    )


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
        log("result backend uses the metadata database's user: no separate role to provision")
        return
    ResultModelBase.metadata.create_all(connection)
    driver = connection.connection.driver_connection
    _grant_result_backend_role(driver, sql, user, encrypt_password(password, user, driver))
    connection.commit()
    log(f"result backend role {user} can use {', '.join(RESULT_BACKEND_TABLES)} only")


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
        log(f"running: airflow {' '.join(argv[:2])}")
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
        log(f"migrations pending: {pending}")
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
    log(f"admin user {username}: {outcome}")
    return outcome


@dataclass(frozen=True)
class MigrateStep:
    name: str
    run: Callable[[Mapping[str, str], sqlalchemy.Connection], None]
    applies: Callable[[Mapping[str, str]], bool] = lambda env: True


def _migrate_database(env: Mapping[str, str], connection: sqlalchemy.Connection) -> None:
    run_airflow_cli([list(MIGRATE.command[1:])])


def _set_default_pool(env: Mapping[str, str], connection: sqlalchemy.Connection) -> None:
    """Airflow reads default_pool_task_slot_count only when it creates the pool (utils/db.py,
    add_default_pool_if_not_exists): setting the pool on every migrate keeps it equal to `[core] parallelism`
    when the worker count changes."""
    run_airflow_cli([["pools", "set", "default_pool", env[DEFAULT_POOL_SLOTS_VAR], "Default pool"]])


def _create_user(env: Mapping[str, str], connection: sqlalchemy.Connection) -> None:
    ensure_admin(env[ADMIN_USERNAME_VAR], env[ADMIN_PASSWORD_VAR])


def _provision_result_backend(env: Mapping[str, str], connection: sqlalchemy.Connection) -> None:
    provision_result_backend(connection, env[RESULT_BACKEND_VAR])


MIGRATE_STEPS = (
    MigrateStep("migrate-database", _migrate_database),
    MigrateStep("set-default-pool", _set_default_pool, lambda env: bool(env.get(DEFAULT_POOL_SLOTS_VAR))),
    MigrateStep("create-user", _create_user),
    MigrateStep("provision-result-backend", _provision_result_backend, lambda env: bool(env.get(RESULT_BACKEND_VAR))),
)
"""In order: the schema first, the pool and the user in it, the result backend's role last (Celery's tables)."""


def _check_admin_variables(env: Mapping[str, str]) -> None:
    for variable in (ADMIN_USERNAME_VAR, ADMIN_PASSWORD_VAR):
        if not env.get(variable, ""):
            raise EntrypointError(f"{variable} is not set; migrate needs it to create the admin user")


def migrate(env: Mapping[str, str], deadline: float) -> int:
    """Under the migrate lock: stop here if asked to while migrations are pending, else run MIGRATE_STEPS."""
    _check_admin_variables(env)
    with migrate_lock(env[DATABASE_URL_VAR], deadline) as connection:
        if flag(env, STOP_FOR_MIGRATIONS_VAR, False) and migrations_pending(connection):
            log("the schema is behind this Airflow: stop the services that read it, then run migrate again")
            return EX_TEMPFAIL
        for step in MIGRATE_STEPS:
            if step.applies(env):
                log(f"step {step.name}")
                step.run(env, connection)
    log("migration done, admin user present with the current password")
    return 0
