"""Every process of an Airflow 3 CeleryExecutor cluster, as data.

This module imports nothing but the standard library, so the image entrypoint, the local runner, the
AWS renderer and the docs generator can all read it. When Airflow changes a command, a port or a
health check, this is the one place that changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from airflow_celery.cluster.measured import ROLE_BOOT_SECONDS


class Kind(StrEnum):
    """What a role is, which decides how each renderer runs it."""

    AIRFLOW = "airflow"  # a long-running Airflow process started through the image entrypoint
    JOB = "job"  # an Airflow one-shot run through the entrypoint before the others start
    BROKER = "broker"  # the Celery broker (Redis)
    DATABASE = "database"  # the metadata database (PostgreSQL): RDS in the cloud, embedded locally
    SIDECAR = "sidecar"  # a small loop of ours next to another role: in its ECS task, its own program locally


@dataclass(frozen=True)
class Port:
    """A TCP port a role listens on."""

    name: str
    number: int
    why: str


# --- start-up timing: one budget for the entrypoint's waits and for every health check's patience ------------

ECS_MAX_START_PERIOD = 300
"""ECS's limit on a container health check's startPeriod: "between 0 and 300 seconds" (botocore's ecs model,
HealthCheck.startPeriod). Failed checks during it do not count."""
START_PERIOD = ECS_MAX_START_PERIOD
CHECK_INTERVAL = 30
CHECK_RETRIES = 5
STARTUP_DEADLINE = START_PERIOD + CHECK_INTERVAL * CHECK_RETRIES
"""Seconds after a container starts by which it must answer its health check (450): ECS marks it unhealthy
after `retries` failed checks `interval` apart once the start period is over. The load balancer's grace
period is the same, so neither gives up before the other."""
BOOT_SECONDS = ROLE_BOOT_SECONDS
"""What a role needs from the entrypoint's `exec` to its first passing check (measured.py, provisional)."""
WAIT_BUDGET = STARTUP_DEADLINE - BOOT_SECONDS
"""What the entrypoint may spend, in total, waiting for its dependencies and then for `airflow db
check-migrations` (360 s): whatever is left of it when the waits end is still within the deadline."""


@dataclass(frozen=True)
class HttpCheck:
    """Healthy when `GET http://<host>:<port><path>` answers 2xx for `path` and every path in `also`."""

    port: str  # the name of one of the role's ports
    path: str  # also what a load balancer probes
    also: tuple[str, ...] = ()
    interval: int = CHECK_INTERVAL
    timeout: int = 10
    retries: int = CHECK_RETRIES
    start_period: int = START_PERIOD

    @property
    def deadline(self) -> int:
        """Seconds after start by which the check must pass, before ECS (and the load balancer) give up."""
        return self.start_period + self.interval * self.retries

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.also)

    def shell(self, port: int) -> str:
        """The check as a container health-check shell command (curl is in the official images)."""
        return " && ".join(
            f"curl --fail --silent --show-error --output /dev/null http://localhost:{port}{path}" for path in self.paths
        )


@dataclass(frozen=True)
class CommandCheck:
    """Healthy when this shell command exits 0 inside the role's environment."""

    shell: str
    interval: int = CHECK_INTERVAL
    timeout: int = 30
    retries: int = CHECK_RETRIES
    start_period: int = START_PERIOD

    @property
    def deadline(self) -> int:
        """Seconds after start by which the check must pass, before ECS gives up."""
        return self.start_period + self.interval * self.retries


@dataclass(frozen=True)
class FreshFileCheck(CommandCheck):
    """A `fresh_file_check`, which also names its file, so that a start can remove one left by an earlier run: that
    file would pass the check before the new process's first round."""

    variable: str = ""
    default: str = ""

    def file(self, env: Mapping[str, str]) -> str:
        """The file the shell command reads in this environment (`${variable:-default}`)."""
        return env.get(self.variable) or self.default


HealthCheck = HttpCheck | CommandCheck


def fresh_file_check(variable: str, default: str, max_age: int) -> FreshFileCheck:
    """Healthy while the file named by `variable` (else `default`) was touched less than `max_age` seconds ago:
    a liveness check that starts no Python, imports nothing and asks no broker (GNU and busybox `stat -c %Y`)."""
    path = f'"${{{variable}:-{default}}}"'
    shell = f"test $(( $(date +%s) - $(stat -c %Y {path}) )) -lt {max_age}"
    return FreshFileCheck(shell, timeout=10, variable=variable, default=default)


@dataclass(frozen=True)
class Size:
    """A Fargate task size: CPU units (1024 = 1 vCPU) and memory in MiB."""

    cpu: int
    memory: int


@dataclass(frozen=True)
class Role:
    """One process of the cluster and everything each renderer needs to run it."""

    name: str
    kind: Kind
    command: tuple[str, ...]
    summary: str
    ports: tuple[Port, ...] = ()
    health: HealthCheck | None = None
    size: Size = Size(512, 1024)
    desired_count: int = 1
    scalable: bool = False  # only the Celery workers scale out
    stop_timeout: int | None = None  # seconds ECS waits after SIGTERM before SIGKILL (Fargate max 120)
    runs_with: str | None = None  # a SIDECAR runs as a container in this role's task on ECS
    image: str | None = None  # None means the project's own image
    user: str | None = None  # uid:gid the container runs as; None means the image's own user
    env_defaults: dict[str, str] = field(default_factory=dict)

    def port(self, name: str) -> Port:
        for port in self.ports:
            if port.name == name:
                return port
        raise KeyError(f"role {self.name!r} has no port named {name!r}")

    @property
    def main_port(self) -> Port | None:
        return self.ports[0] if self.ports else None


CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
EXECUTION_API_PATH = "/execution/"
"""Where the api-server serves the Task Execution API (airflow/api_fastapi/app.py mounts it at /execution).
Only workers call it, over the private network; the load balancer answers it with 404."""
REDIS_IMAGE = (
    "public.ecr.aws/docker/library/redis:7.4.2-alpine"
    "@sha256:02419de7eddf55aa5bcf49efb74e88fa8d931b4d77c07eff8a6b2144472b6952"
)
"""Docker's official Redis image through Amazon ECR Public (no anonymous Docker Hub pull limit through a shared NAT
address), pinned by the digest of its multi-architecture index, so x86 and ARM tasks run the same release."""
REDIS_DATA = "/data"
"""The redis image's working directory (and VOLUME): where the append-only file lives."""
REDIS_UID = 999
REDIS_GID = 1000
"""The alpine redis image's own `redis` user (docker-library/redis, alpine Dockerfile: `addgroup -S -g 1000 redis;
adduser -S -G redis -u 999 redis`): the container runs as it, never as root, and owns the data volume."""

WORKER_ALIVE_VAR = "AIRFLOW_CELERY_WORKER_ALIVE_FILE"
WORKER_ALIVE_EVERY = 10
"""Seconds between two touches of a worker's liveness file."""
WORKER_ALIVE_MAX_AGE = 60
"""A liveness file older than this fails the worker's check: six touches missed, not one slow one."""
AUTOSCALER_HEARTBEAT_VAR = "AIRFLOW_CELERY_AUTOSCALER_HEARTBEAT"
WATCHDOG_ALIVE_VAR = "AIRFLOW_CELERY_WATCHDOG_ALIVE_FILE"

API_SERVER = Role(
    name="api-server",
    kind=Kind.AIRFLOW,
    # --proxy-headers: TLS ends at the load balancer; trust its X-Forwarded-* (see env.py `_behind_proxy`).
    command=("airflow", "api-server", "--proxy-headers"),
    summary="UI, public REST API and the Task Execution API that workers call",
    ports=(Port("http", 8080, "UI, REST API and /execution/ for workers"),),
    # /api/v2/monitor/health answers 200 even when unhealthy; /api/v2/version does not. The execution API,
    # which workers need, is built on its first request (6 s): checking it also means no task waits for that.
    health=HttpCheck(port="http", path="/api/v2/version", also=("/execution/health",)),
    # Seed 004 gives the Airflow 2 webserver 1 GB / 0.5 vCPU; the Airflow 3 api-server also serves
    # the execution API to every running task, so it gets 2 GB.
    size=Size(512, 2048),
)

SCHEDULER = Role(
    name="scheduler",
    kind=Kind.AIRFLOW,
    command=("airflow", "scheduler"),
    summary="Schedules DAG runs, signs task tokens and sends tasks to Celery",
    ports=(Port("health", 8974, "scheduler health server (ENABLE_HEALTH_CHECK), a thread of the scheduler"),),
    health=HttpCheck(port="health", path="/health"),
    size=Size(512, 2048),
)

DAG_PROCESSOR = Role(
    name="dag-processor",
    kind=Kind.AIRFLOW,
    command=("airflow", "dag-processor"),
    summary="Parses DAG files into the database; required in Airflow 3",
    health=CommandCheck("airflow jobs check --job-type DagProcessorJob --local"),
    size=Size(512, 1024),
)

TRIGGERER = Role(
    name="triggerer",
    kind=Kind.AIRFLOW,
    command=("airflow", "triggerer"),
    summary="Runs deferred tasks' triggers (deferrable operators and sensors)",
    ports=(Port("logs", 8794, "live trigger logs for the api-server"),),
    health=CommandCheck("airflow jobs check --job-type TriggererJob --local"),
    size=Size(512, 1024),
)

WORKER = Role(
    name="worker",
    kind=Kind.AIRFLOW,
    command=("airflow", "celery", "worker"),
    summary="Celery worker: takes tasks from Redis and runs them through the Task Execution API",
    ports=(Port("logs", 8793, "live task logs for the api-server"),),
    # Alive while the Celery main process is: a thread in it touches this file (worker/liveness.py). Not `celery
    # inspect ping`, which goes through Redis and imports Airflow: a Redis outage or a busy CPU then replaced every
    # worker and killed every running task, though running tasks do not need Redis.
    health=fresh_file_check(WORKER_ALIVE_VAR, "/tmp/worker.alive", WORKER_ALIVE_MAX_AGE),
    size=Size(1024, 3072),
    scalable=True,
    # SIGTERM is a Celery warm shutdown: running tasks get the Fargate maximum to finish.
    stop_timeout=120,
)

FLOWER = Role(
    name="flower",
    kind=Kind.AIRFLOW,
    # Flower reads the broker only: `airflow celery flower`'s options and app values without importing Airflow,
    # 80 MiB and about 2 CPU seconds a start less (airflow_celery/flower.py).
    command=("python", "-m", "airflow_celery.flower"),
    summary="Celery monitoring UI, behind basic auth at /flower",
    ports=(Port("http", 5555, "Flower UI"),),
    # Flower's /healthcheck needs no auth; it lives under the URL prefix.
    health=HttpCheck(port="http", path="/flower/healthcheck"),
    size=Size(256, 512),
)

MIGRATE = Role(
    name="migrate",
    kind=Kind.JOB,
    command=("airflow", "db", "migrate"),
    # Its own step, finished before any service changes: a one-off ECS task that `pulumi up` runs and waits on
    # (aws/migration.py), the first program locally and in docker-compose. Airflow's docs ("Setting up the
    # database"): "make sure that Airflow components are not running while the database migration is being
    # executed"; on ECS the services that read the metadata database are stopped first when migrations are pending.
    summary="Migrates the schema, resets the admin user, sets the default pool; once per deploy, before any service",
    size=Size(512, 2048),
)

AUTOSCALER = Role(
    name="autoscaler",
    kind=Kind.SIDECAR,
    command=("python", "-m", "airflow_celery.autoscaler", "cloudwatch"),
    summary="Counts queued and running task instances and decides the worker count (cluster/scaling.py): "
    "publishes both to CloudWatch on ECS, starts and stops worker programs locally",
    # Alive while its loop counts: every round that counted touches the heartbeat file (autoscaler/loop.py).
    health=fresh_file_check(AUTOSCALER_HEARTBEAT_VAR, "/tmp/autoscaler.alive", 120),
    # A few MiB of Python, SQLAlchemy and boto3 inside the scheduler's task (a memory reservation, not a task
    # size): no task of its own, no cost at zero workers. Not essential: ECS restarts it if it stops.
    size=Size(0, 128),
    runs_with="scheduler",
)

WATCHDOG = Role(
    name="watchdog",
    kind=Kind.SIDECAR,
    command=("python", "-m", "airflow_celery.watchdog"),
    summary="Finds running tasks that no live Celery worker holds (a lost worker) and hands them to the "
    "scheduler's heartbeat check, which retries them within 90 s (cluster/reliability.py); lets runs in flight "
    "finish on their version when a commit breaks their DAG's file (watchdog/broken_dags.py)",
    # Alive while its rounds succeed: each one that reached the broker and the database touches the file.
    health=fresh_file_check(WATCHDOG_ALIVE_VAR, "/tmp/watchdog.alive", 120),
    # Celery (no Airflow) and SQLAlchemy inside the scheduler's task, like the autoscaler.
    size=Size(0, 128),
    runs_with="scheduler",
)

REDIS = Role(
    name="redis",
    kind=Kind.BROKER,
    # The password comes from a secret in the environment, never from the task definition. The append-only
    # file (in the working directory: /data in the image, on an EFS volume on ECS, where a restart is a new task;
    # the state dir locally) keeps the queue over a restart: without it, tasks waiting in Redis vanish and sit in
    # `queued` until task_queued_timeout (600 s).
    command=(
        "sh",
        "-c",
        'exec redis-server --port "${REDIS_PORT:-6379}" --bind "${REDIS_BIND:-0.0.0.0}" '
        '--requirepass "$REDIS_PASSWORD" --save "" --appendonly yes --appendfsync everysec',
    ),
    summary="Celery broker",
    ports=(Port("redis", 6379, "Celery broker"),),
    # REDISCLI_AUTH, not -a: a password in redis-cli's arguments would show in the process list.
    health=CommandCheck('REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "${REDIS_PORT:-6379}" ping'),
    size=Size(1024, 2048),
    image=REDIS_IMAGE,
    user=f"{REDIS_UID}:{REDIS_GID}",
)

POSTGRES = Role(
    name="postgres",
    kind=Kind.DATABASE,
    command=("postgres",),
    summary="Metadata database and Celery result backend (RDS in the cloud)",
    ports=(Port("postgres", 5432, "metadata database"),),
    health=CommandCheck('pg_isready -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}"'),
)

ROLES: tuple[Role, ...] = (
    API_SERVER,
    SCHEDULER,
    DAG_PROCESSOR,
    TRIGGERER,
    WORKER,
    FLOWER,
    MIGRATE,
    AUTOSCALER,
    WATCHDOG,
    REDIS,
    POSTGRES,
)

ROLES_BY_NAME: dict[str, Role] = {role.name: role for role in ROLES}

# The long-running Airflow processes, in the order they are started.
AIRFLOW_SERVICES: tuple[Role, ...] = tuple(role for role in ROLES if role.kind is Kind.AIRFLOW)
# Every role that runs our image through the entrypoint.
ENTRYPOINT_ROLES: tuple[Role, ...] = tuple(
    role for role in ROLES if role.kind in (Kind.AIRFLOW, Kind.JOB, Kind.SIDECAR)
)


def sidecars_of(role_name: str, autoscaling: bool) -> tuple[Role, ...]:
    """The SIDECAR roles running with `role_name`: the watchdog always, the autoscaler when workers autoscale."""
    return tuple(
        r for r in ROLES if r.kind is Kind.SIDECAR and r.runs_with == role_name and (autoscaling or r is not AUTOSCALER)
    )


def role(name: str) -> Role:
    """The role called `name`, or a KeyError listing the names there are."""
    try:
        return ROLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown role {name!r}; roles are: {', '.join(ROLES_BY_NAME)}") from None
