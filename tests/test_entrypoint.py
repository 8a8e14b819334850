import contextlib
import os
import socket
import time

import pytest

from airflow_celery import entrypoint
from airflow_celery.cluster import role
from airflow_celery.entrypoint import EntrypointError, main, migrate, waits
from airflow_celery.entrypoint.start import role_argv
from airflow_celery.entrypoint.waits import dependencies_of, parse_dependency, wait_for
from airflow_celery.local.ports import free_ports

DB = "postgresql+psycopg2://airflow:pw@db.internal:5433/airflow"
BROKER = "redis://:pw@redis:6379/0"


@pytest.fixture(autouse=True)
def admin_resets(monkeypatch):
    """ensure_admin needs a real Airflow and database (tests/test_admin_password_airflow.py): recorded here."""
    calls = []
    monkeypatch.setattr(migrate, "ensure_admin", lambda username, password: calls.append((username, password)))
    return calls


@pytest.fixture
def listening_port():
    """A port on 127.0.0.1 that accepts connections, like a running database or broker."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_dependencies_follow_the_edges():
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": DB, "AIRFLOW__CELERY__BROKER_URL": BROKER,
           "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + DB.replace("+psycopg2", "")}  # fmt: skip
    # A worker reaches PostgreSQL through the result backend only; it has no metadata-DB URL.
    assert [(d.host, d.port) for d in dependencies_of(role("worker"), env)] == [("db.internal", 5433), ("redis", 6379)]
    assert dependencies_of(role("worker"), env)[0].variable == "AIRFLOW__CELERY__RESULT_BACKEND"
    assert [d.variable for d in dependencies_of(role("flower"), env)] == ["AIRFLOW__CELERY__BROKER_URL"]
    assert [d.variable for d in dependencies_of(role("dag-processor"), env)] == ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_default_ports_and_tls_broker():
    env = {"V": "rediss://:pw@cache.example:6379/0?ssl_cert_reqs=CERT_REQUIRED", "D": "db+postgresql://a:b@h/airflow"}
    assert parse_dependency("V", env).port == 6379
    assert parse_dependency("D", env).port == 5432


def test_missing_variable_names_it():
    with pytest.raises(EntrypointError, match="AIRFLOW__CELERY__BROKER_URL is not set"):
        dependencies_of(role("scheduler"), {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": DB})


def test_refused_broker_names_variable_host_and_the_service_name_rule():
    (port,) = free_ports(1)
    dependency = parse_dependency(
        "AIRFLOW__CELERY__BROKER_URL", {"AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{port}/0"}
    )
    with pytest.raises(EntrypointError) as caught:
        wait_for(dependency, timeout=0.5, sleep=lambda _: None)
    message = str(caught.value)
    assert f"AIRFLOW__CELERY__BROKER_URL points at 127.0.0.1:{port}" in message
    assert "must match the broker's name" in message
    assert caught.value.exit_code == entrypoint.EX_UNAVAILABLE


def test_wait_returns_once_the_port_listens(listening_port):
    dependency = parse_dependency(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://127.0.0.1:{listening_port}/x"},
    )
    wait_for(dependency, timeout=5)


def test_worker_argv_gets_its_node_name_and_skips_log_serving_locally():
    env = {"AIRFLOW_CELERY_NODE_NAME": "worker-2@box", "AIRFLOW_CELERY_SERVE_LOGS": "False"}
    assert role_argv(role("worker"), env) == [
        "airflow", "celery", "worker", "--celery-hostname", "worker-2@box", "--skip-serve-logs",
    ]  # fmt: skip
    assert role_argv(role("triggerer"), env) == ["airflow", "triggerer", "--skip-serve-logs"]
    assert role_argv(role("api-server"), env) == ["airflow", "api-server", "--proxy-headers"]
    assert role_argv(role("worker"), {}) == ["airflow", "celery", "worker"]


def test_unknown_role_lists_the_roles(capsys):
    assert main(["webserver"], {}) == entrypoint.EX_USAGE
    assert "unknown role 'webserver'" in capsys.readouterr().err


def test_bad_flag_is_named(capsys, listening_port):
    env = {
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://a:b@127.0.0.1:{listening_port}/x",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{listening_port}/0",
        "AIRFLOW_CELERY_WAIT_FOR_MIGRATIONS": "False",
        "AIRFLOW_CELERY_SERVE_LOGS": "maybe",
    }
    assert main(["worker"], env) == entrypoint.EX_CONFIG
    assert "AIRFLOW_CELERY_SERVE_LOGS='maybe' is not a boolean" in capsys.readouterr().err


def test_execs_the_role_command_after_waiting(monkeypatch, listening_port):
    calls = []
    monkeypatch.setattr(os, "execvp", lambda file, argv: calls.append(argv))
    env = {
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{listening_port}/0",
        "AIRFLOW_CELERY_WAIT_TIMEOUT": "5",
    }
    assert main(["flower", "--debug"], env) == 0
    assert calls == [["python", "-m", "airflow_celery.flower", "--debug"]]


def test_migrate_runs_migration_then_admin_in_process_and_never_logs_the_password(
    monkeypatch, capsys, listening_port, admin_resets
):
    ran = []
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: ran.extend(commands))
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext())
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://a:b@127.0.0.1:{listening_port}/x",
        "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
        "AIRFLOW_CELERY_ADMIN_PASSWORD": "s3cret-value",
    }
    assert main(["migrate"], env) == 0
    assert ran == [["db", "migrate"]]  # the password never enters any argv, not even the in-process CLI's
    assert admin_resets == [("admin", "s3cret-value")]
    assert "s3cret-value" not in capsys.readouterr().err


@pytest.mark.airflow
def test_airflow_cli_failure_is_reported_with_the_command(monkeypatch, capsys):
    class Parser:
        def parse_args(self, argv):
            return type("Args", (), {"func": staticmethod(lambda args: (_ for _ in ()).throw(SystemExit(3)))})()

    import airflow.cli.cli_parser

    monkeypatch.setattr(airflow.cli.cli_parser, "get_parser", Parser)
    with pytest.raises(EntrypointError, match="`airflow db migrate` failed with exit code 3"):
        migrate.run_airflow_cli([["db", "migrate"]])


def test_migrate_without_admin_password_names_the_variable(capsys, listening_port):
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://a:b@127.0.0.1:{listening_port}/x",
        "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
    }
    assert main(["migrate"], env) == entrypoint.EX_CONFIG
    assert "AIRFLOW_CELERY_ADMIN_PASSWORD is not set" in capsys.readouterr().err


def test_dependencies_and_migrations_share_one_wait_budget(monkeypatch):
    """What the dependency waits used is gone from check-migrations' timeout: the total stays within the budget."""
    clock = [1000.0]
    waited, ran = [], []

    def slow_wait(dependency, timeout):
        waited.append(timeout)
        clock[0] += 100  # each dependency takes 100 s to come up

    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(waits, "wait_for", slow_wait)
    monkeypatch.setattr(waits, "run", ran.append)
    monkeypatch.setattr(os, "execvp", lambda file, argv: None)
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": DB, "AIRFLOW__CELERY__BROKER_URL": BROKER}

    assert main(["scheduler"], {**env, "AIRFLOW_CELERY_WAIT_TIMEOUT": "360"}) == 0

    assert waited == [360, 260]
    assert ran == [["airflow", "db", "check-migrations", "--migration-wait-timeout", "160"]]


def test_migrate_sets_the_default_pool_to_the_parallelism_before_creating_the_admin(monkeypatch, listening_port):
    ran = []
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: ran.extend(commands))
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext())
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://a:b@127.0.0.1:{listening_port}/x",
        "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": "160",
        "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
        "AIRFLOW_CELERY_ADMIN_PASSWORD": "pw",
    }
    assert main(["migrate"], env) == 0
    assert ran == [["db", "migrate"], ["pools", "set", "default_pool", "160", "Default pool"]]


def test_a_worker_never_waits_for_the_metadata_schema(monkeypatch):
    """Airflow 3 workers don't open the metadata DB, so they get no URL to run check-migrations against."""
    ran = []
    monkeypatch.setattr(waits, "wait_for", lambda dependency, timeout: None)
    monkeypatch.setattr(waits, "run", ran.append)
    monkeypatch.setattr(waits, "wait_for_result_backend_role", lambda url, deadline: ran.append(url))
    monkeypatch.setattr(os, "execvp", lambda file, argv: ran.append(argv))
    env = {
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+postgresql://a:b@db.internal:5432/x",
        "AIRFLOW__CELERY__BROKER_URL": BROKER,
    }

    assert main(["worker"], env) == 0
    # It waits for its own database role instead (created by migrate), then starts.
    assert ran == ["db+postgresql://a:b@db.internal:5432/x", ["airflow", "celery", "worker"]]


def test_the_autoscaler_waits_for_its_database_only_then_runs_the_cloudwatch_loop(monkeypatch):
    """A sidecar imports no Airflow: no check-migrations; it retries its query until the schema is there."""
    ran, waited = [], []
    monkeypatch.setattr(waits, "wait_for", lambda dependency, timeout: waited.append(dependency.variable))
    monkeypatch.setattr(waits, "run", ran.append)
    monkeypatch.setattr(os, "execvp", lambda file, argv: ran.append(argv))
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a:b@db.internal:5432/x"}

    assert main(["autoscaler"], env) == 0
    assert waited == ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert ran == [["python", "-m", "airflow_celery.autoscaler", "cloudwatch"]]


def test_migrate_runs_every_command_under_the_migrate_lock_of_its_database(monkeypatch, listening_port):
    events = []

    @contextlib.contextmanager
    def lock(url, deadline):
        events.append(("lock", url))
        yield
        events.append(("unlock", url))

    monkeypatch.setattr(migrate, "migrate_lock", lock)
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: events.append(("run", len(commands))))
    url = f"postgresql://a:b@127.0.0.1:{listening_port}/x"
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url, "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
           "AIRFLOW_CELERY_ADMIN_PASSWORD": "pw"}  # fmt: skip
    assert main(["migrate"], env) == 0
    assert events == [("lock", url), ("run", 1), ("unlock", url)]


class _FakePsycopg2:
    """psycopg2's connect, failing as a missing role does until `fails` attempts have been made."""

    class Error(Exception):
        pass

    def __init__(self, fails: int):
        self.fails, self.urls = fails, []

    def connect(self, url, connect_timeout):
        self.urls.append(url)
        if len(self.urls) <= self.fails:
            raise self.Error('FATAL:  password authentication failed for user "celery_results"')
        return _FakeConnection()


class _FakeConnection:
    def cursor(self):
        return contextlib.nullcontext(type("Cursor", (), {"execute": lambda self, sql: None})())

    def close(self):
        pass


def test_a_worker_waits_until_its_result_backend_role_exists(monkeypatch, capsys):
    fake = _FakePsycopg2(fails=2)
    monkeypatch.setitem(__import__("sys").modules, "psycopg2", fake)
    slept = []
    waits.wait_for_result_backend_role("db+postgresql://celery_results:pw@db:5432/airflow", 1e12, slept.append)
    assert fake.urls == ["postgresql://celery_results:pw@db:5432/airflow"] * 3
    assert len(slept) == 2
    assert "waiting for the result backend's role" in capsys.readouterr().err


def test_a_worker_whose_result_backend_role_never_appears_says_what_creates_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "psycopg2", _FakePsycopg2(fails=10**6))
    with pytest.raises(EntrypointError, match=r"password authentication failed .* `migrate` creates that role"):
        waits.wait_for_result_backend_role("db+postgresql://celery_results:pw@db:5432/airflow", 0, lambda s: None)


def test_a_result_backend_that_never_answers_gets_the_database_hint():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    dependency = parse_dependency("AIRFLOW__CELERY__RESULT_BACKEND", {"AIRFLOW__CELERY__RESULT_BACKEND":
                                  f"db+postgresql://u:p@127.0.0.1:{port}/x"})  # fmt: skip
    with pytest.raises(EntrypointError, match="the result backend lives in the metadata database"):
        wait_for(dependency, 0, lambda s: None)


def _migrate_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://a:b@127.0.0.1:{port}/x",
        "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
        "AIRFLOW_CELERY_ADMIN_PASSWORD": "pw",
        **extra,
    }


def test_migrate_ensures_the_admin_after_migrating(monkeypatch, listening_port, admin_resets):
    events = []
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: events.append(commands[0]))
    monkeypatch.setattr(migrate, "ensure_admin", lambda username, password: events.append(username))
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext())
    assert main(["migrate"], _migrate_env(listening_port)) == 0
    assert events == [["db", "migrate"], "admin"]


@pytest.mark.parametrize(("pending", "expected"), [(True, entrypoint.EX_TEMPFAIL), (False, 0)])
def test_asked_to_stop_for_migrations_migrate_exits_tempfail_only_while_they_are_pending(
    monkeypatch, listening_port, pending, expected
):
    ran = []
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: ran.extend(commands))
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext("connection"))
    monkeypatch.setattr(migrate, "migrations_pending", lambda connection: pending)
    env = _migrate_env(listening_port, AIRFLOW_CELERY_STOP_FOR_MIGRATIONS="true")
    assert main(["migrate"], env) == expected
    assert bool(ran) is not pending  # nothing migrated while the services still run


def test_without_the_stop_flag_migrate_never_checks_for_pending_migrations(monkeypatch, listening_port):
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: None)
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext())
    monkeypatch.setattr(migrate, "migrations_pending", lambda connection: pytest.fail("checked"))
    assert main(["migrate"], _migrate_env(listening_port)) == 0


def test_the_runner_and_the_entrypoint_agree_on_the_stop_flag_and_its_exit_code():
    from airflow_celery.aws import migration_runner
    from airflow_celery.cluster.env import STOP_FOR_MIGRATIONS_VAR

    assert migration_runner.STOP_FOR_MIGRATIONS_VAR == STOP_FOR_MIGRATIONS_VAR
    assert migration_runner.EX_TEMPFAIL == entrypoint.EX_TEMPFAIL


def test_each_roles_start_waits_are_named_and_agree_with_its_env_contract():
    """START_WAITS says per role what it waits for; the env contract must give it what that wait reads."""
    from airflow_celery.cluster.env import DATABASE_URL_VAR, RESULT_BACKEND_VAR, ROLE_SECRETS
    from airflow_celery.cluster.roles import ENTRYPOINT_ROLES, MIGRATE, Kind
    from airflow_celery.entrypoint.start import START_WAITS

    assert set(START_WAITS) == {r.name for r in ENTRYPOINT_ROLES if r is not MIGRATE}
    for name, needs in START_WAITS.items():
        secrets = ROLE_SECRETS[name]
        airflow_with_db = role(name).kind is Kind.AIRFLOW and DATABASE_URL_VAR in secrets
        assert needs.schema == airflow_with_db, name
        assert needs.result_backend_role == (RESULT_BACKEND_VAR in secrets and DATABASE_URL_VAR not in secrets), name
    assert [n for n, needs in START_WAITS.items() if needs.result_backend_role] == ["worker"]


def test_migrate_runs_its_steps_by_name_in_order(monkeypatch, listening_port, capsys):
    monkeypatch.setattr(migrate, "run_airflow_cli", lambda commands: None)
    monkeypatch.setattr(migrate, "migrate_lock", lambda url, deadline: contextlib.nullcontext("connection"))
    monkeypatch.setattr(migrate, "provision_result_backend", lambda connection, url: None)
    env = _migrate_env(listening_port, AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT="8",
                       AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql://r:p@127.0.0.1/x")  # fmt: skip
    assert main(["migrate"], env) == 0
    steps = [line.split("step ", 1)[1] for line in capsys.readouterr().err.splitlines() if "] step " in line]
    assert steps == ["migrate-database", "set-default-pool", "create-user", "provision-result-backend"]


def test_retry_until_announces_once_and_gives_up_at_the_deadline(monkeypatch, capsys):
    from airflow_celery.entrypoint.retry import retry_until

    clock, tries, announced, slept = [0.0], [], [], []
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def attempt():
        tries.append(clock[0])
        raise OSError("refused")

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    def gave_up(error, attempts):
        return EntrypointError(f"gave up after {attempts} attempts: {error}")

    with pytest.raises(EntrypointError, match="gave up after 4 attempts"):
        retry_until(5.0, attempt, retry_on=OSError, waiting=announced.append, gave_up=gave_up, sleep=sleep)
    assert tries == [0.0, 2.0, 4.0, 5.0]
    assert slept == [2.0, 2.0, 1.0]  # never past the deadline
    assert [str(e) for e in announced] == ["refused"]
