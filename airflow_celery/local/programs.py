"""The processes of a local cluster, built from the cluster description and the env contract.

Each `Program` is one supervisord `[program:x]`: PostgreSQL and Redis, the `migrate` job, then every
Airflow role (one program per Celery worker instance), all Airflow ones through the image's entrypoint.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_celery.cluster import (
    AIRFLOW_SERVICES,
    EnvSettings,
    Role,
    role_environment,
)
from airflow_celery.cluster.drain import DRAIN_PATH_VAR
from airflow_celery.cluster.limits import POSTGRES_DEFAULT_MAX_CONNECTIONS
from airflow_celery.cluster.metrics import RECEIVER_NAME, STATSD_HOST
from airflow_celery.cluster.roles import AUTOSCALER, MIGRATE, POSTGRES, REDIS, SCHEDULER, WATCHDOG, WORKER, Kind
from airflow_celery.local.state import StatePaths

DEFAULT_STOP_WAIT = 30
POSTGRES_SYSTEM_USER = "embedded_postgres"
POSTGRES_HOST = "127.0.0.1"
POSTGRES_TLS_PROGRAM = "postgres-tls"


@dataclass(frozen=True)
class Program:
    """One supervised process. `env` holds plain values only; `secret_vars` maps a variable to a secret's name."""

    name: str
    role: Role
    argv: tuple[str, ...]
    env: dict[str, str]
    secret_vars: dict[str, str] = field(default_factory=dict)
    instance: int | None = None
    user: str | None = None
    stopsignal: str = "TERM"
    stopasgroup: bool = True
    one_shot: bool = False
    priority: int = 500

    @property
    def stopwaitsecs(self) -> int:
        return self.role.stop_timeout or DEFAULT_STOP_WAIT

    def environment(self, secret_values: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
        """The full environment this program runs with (for health checks run in the role's env)."""
        resolved = {variable: secret_values[name] for variable, name in self.secret_vars.items()}
        return {**base, **self.env, **resolved}


def entrypoint_argv(role_name: str) -> tuple[str, ...]:
    """The one way every Airflow role starts, in the image and here."""
    return (sys.executable, "-m", "airflow_celery.entrypoint", role_name)


def _with_secrets(paths: StatePaths, secret_vars: Mapping[str, str], argv: tuple[str, ...]) -> tuple[str, ...]:
    if not secret_vars:
        return argv
    mapping = tuple(f"{variable}={name}" for variable, name in sorted(secret_vars.items()))
    shim = (sys.executable, "-m", "airflow_celery.local.secret_exec", str(paths.secrets))
    return (*shim, *mapping, "--", *argv)


def _contract_program(
    role: Role,
    settings: EnvSettings,
    paths: StatePaths,
    path: str,
    instance: int | None = None,
    queue: str | None = None,
    **kw,
) -> Program:
    contract = role_environment(role.name, settings, instance=instance, queue=queue)
    secret_vars = {variable: str(name) for variable, name in contract.secrets.items()}
    argv = kw.pop("argv", None) or entrypoint_argv(role.name)
    named = f"{role.name}-{queue}" if queue else role.name
    name = f"{named}-{instance}" if instance is not None else named
    return Program(
        name=name,
        role=role,
        argv=_with_secrets(paths, secret_vars, argv),
        env={**contract.plain, "PATH": path},
        secret_vars=secret_vars,
        instance=instance,
        **kw,
    )


POSTGRES_IO_METHOD = "sync"
"""The wheel's PostgreSQL 18 reads and writes through 3 I/O worker processes by default (`io_method = worker`, 7 MiB
of the idle cluster's memory, PSS, 2026-12-07); RDS runs 16 (`dbEngineVersion`), whose backends do their own I/O,
which `sync` is ("execute asynchronous-eligible I/O synchronously": PostgreSQL 18's `io_method`, under "Resource
Usage / I/O" in `postgres --describe-config`)."""


def postgres_program(
    settings: EnvSettings,
    paths: StatePaths,
    path: str,
    pg_bin: Path,
    as_root: bool,
    max_connections: int = POSTGRES_DEFAULT_MAX_CONNECTIONS,
) -> Program:
    """postgres in the foreground; INT is PostgreSQL's fast shutdown (TERM waits for every client to leave).

    It listens on its unix socket only: the TCP port belongs to `postgres_tls_program`, which requires TLS
    (this PostgreSQL build has none). The socket is named after the same port number."""
    port = settings.port(POSTGRES.name, "postgres")
    argv = (
        str(pg_bin / POSTGRES.command[0]),
        "-D", str(paths.pgdata),
        "-c", "listen_addresses=",
        "-p", str(port),
        "-k", str(paths.pg_socket_dir),
        "-c", f"hba_file={paths.pg_hba_file}",
        "-c", f"max_connections={max_connections}",
        "-c", f"io_method={POSTGRES_IO_METHOD}",
    )  # fmt: skip
    return Program(
        name=POSTGRES.name,
        role=POSTGRES,
        argv=argv,
        env={"PATH": path, "PGHOST": str(paths.pg_socket_dir), "PGPORT": str(port)},
        user=POSTGRES_SYSTEM_USER if as_root else None,
        stopsignal="INT",
        # The postmaster stops its own children; SIGINT to every backend would only cancel their queries.
        stopasgroup=False,
        priority=100,
    )


def postgres_tls_program(settings: EnvSettings, paths: StatePaths, path: str) -> Program:
    """The database's TCP port, TLS required, relayed to the server's unix socket (airflow_celery/local/pg_tls.py).

    Its health check is the description's `pg_isready` against the TCP port: this pg_isready has no TLS, so
    it gets the FATAL refusal, which counts as "accepting connections" (a server that answers)."""
    port = settings.port(POSTGRES.name, "postgres")
    argv = (
        sys.executable, "-m", "airflow_celery.local.pg_tls",
        f"{POSTGRES_HOST}:{port}",
        str(paths.pg_socket_dir / f".s.PGSQL.{port}"),
        str(paths.pg_conf_dir / "server.crt"),
        str(paths.pg_conf_dir / "server.key"),
    )  # fmt: skip
    return Program(
        name=POSTGRES_TLS_PROGRAM,
        role=POSTGRES,
        argv=argv,
        env={"PATH": path, "PGHOST": POSTGRES_HOST, "PGPORT": str(port)},
        priority=100,
    )


def worker_program(
    settings: EnvSettings, paths: StatePaths, path: str, instance: int, queue: str | None = None
) -> Program:
    """A Celery worker that drains before it goes (cluster/drain.py, run in the worker by autoscaler/protection.py).

    Its stop signal reaches the main process only (`stopasgroup=false`): SIGTERM is then Celery's warm shutdown,
    the pool children and the task processes they run finish their work. Sent to the whole group, as before,
    every task process got SIGTERM too and died at once. `killasgroup` stays on (supervisor_conf.py): the SIGKILL
    after stopwaitsecs, and `local down`'s sweep of leftover process groups, still take every child."""
    program = _contract_program(WORKER, settings, paths, path, instance=instance, queue=queue, stopasgroup=False)
    drain = {DRAIN_PATH_VAR: str(drain_path(paths, program.name))}
    return Program(**{**program.__dict__, "env": {**program.env, **drain}})


def drain_path(paths: StatePaths, program_name: str) -> Path:
    """`<path>.go` asks the worker to go (the local autoscaler, a rollout); `<path>.json` is its answer."""
    return paths.run / "drain" / program_name


AUTOSCALER_INTERVAL = 3
"""Seconds between two rounds of the local autoscaler: a local worker starts in seconds, not minutes."""


def autoscaler_program(settings: EnvSettings, paths: StatePaths, path: str) -> Program:
    """The description's autoscaler with the local sink: it starts and stops this state dir's worker programs."""
    argv = (sys.executable, "-m", "airflow_celery.autoscaler", "supervisor", str(paths.root))
    program = _contract_program(AUTOSCALER, settings, paths, path, argv=argv, priority=600)
    extra = {"AIRFLOW_CELERY_AUTOSCALER_INTERVAL": str(AUTOSCALER_INTERVAL),
             "AIRFLOW_CELERY_AUTOSCALER_HEARTBEAT": str(paths.run / "autoscaler.alive")}  # fmt: skip
    return Program(**{**program.__dict__, "env": {**program.env, **extra}})


METRICS_RECEIVER = Role(
    name=RECEIVER_NAME,
    kind=Kind.SIDECAR,
    command=(sys.executable, "-m", "airflow_celery.local.metrics_receiver"),
    summary="Receives Airflow's StatsD metrics, as the CloudWatch agent does on ECS (cluster/metrics.py)",
)
"""Local mode's only: on ECS a CloudWatch agent container in each emitting role's task takes its place."""


def metrics_file(paths: StatePaths) -> Path:
    """Where the receiver keeps what it received (local/metrics_receiver.py)."""
    return paths.run / "metrics.json"


def metrics_receiver_program(settings: EnvSettings, paths: StatePaths, path: str) -> Program:
    """The StatsD receiver every emitting role sends to (settings.statsd_port)."""
    address = f"{STATSD_HOST}:{settings.statsd_port}"
    argv = (*METRICS_RECEIVER.command, address, str(metrics_file(paths)))
    return Program(name=RECEIVER_NAME, role=METRICS_RECEIVER, argv=argv, env={"PATH": path}, priority=150)


def build_programs(
    settings: EnvSettings,
    workers: int,
    paths: StatePaths,
    path: str,
    pg_bin: Path,
    as_root: bool,
    schedulers: int = 1,
    max_connections: int = POSTGRES_DEFAULT_MAX_CONNECTIONS,
) -> list[Program]:
    """Every program of the cluster, in start order. Several schedulers are numbered like workers."""
    instances = {WORKER.name: workers, SCHEDULER.name: schedulers if schedulers > 1 else 0}
    programs = [
        postgres_program(settings, paths, path, pg_bin, as_root, max_connections),
        postgres_tls_program(settings, paths, path),
        _contract_program(REDIS, settings, paths, path, argv=REDIS.command, priority=100),
        _contract_program(MIGRATE, settings, paths, path, one_shot=True, priority=200),
    ]
    for role in AIRFLOW_SERVICES:
        if role.name == WORKER.name:
            programs += [worker_program(settings, paths, path, i) for i in range(1, workers + 1)]
            for queue in settings.worker_queues:  # `worker-<queue>-<n>`, each consuming its queue alone
                programs += [
                    worker_program(settings, paths, path, i, queue.name) for i in range(1, queue.max_count + 1)
                ]
        elif instances.get(role.name):
            count = instances[role.name]
            programs += [_contract_program(role, settings, paths, path, instance=i) for i in range(1, count + 1)]
        else:
            programs.append(_contract_program(role, settings, paths, path))
    if settings.autoscaling:
        programs.append(autoscaler_program(settings, paths, path))
    # Through the entrypoint, as on ECS: it waits for the database and the broker (PATH has this venv's python).
    programs.append(_contract_program(WATCHDOG, settings, paths, path, priority=600))
    if settings.statsd_port is not None:
        programs.append(metrics_receiver_program(settings, paths, path))
    return programs
