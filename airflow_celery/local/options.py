"""Validation of `airflow-celery local up` arguments, before anything is created or started."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_celery.cluster import EnvSettings
from airflow_celery.cluster.dag_source import DagSource
from airflow_celery.cluster.edges import port_of
from airflow_celery.cluster.failure_notifications import region_of
from airflow_celery.cluster.limits import (
    HEARTBEAT_INTERVAL_RANGE,
    MAX_SCHEDULERS,
    MIN_HEARTBEAT_INTERVAL_SECONDS,
    SCHEDULER_IDLE_SLEEP_RANGE,
    SCHEDULER_IDLE_SLEEP_SECONDS,
    Capacity,
    QueueSlots,
    capacity_settings,
)
from airflow_celery.cluster.metrics import METRICS_PORT_KEY, STATSD_PORT
from airflow_celery.cluster.queues import DEFAULT_QUEUE, QUEUE_NAME, QueueScaling
from airflow_celery.cluster.reliability import (
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_RETRY_DELAY_RANGE,
    WATCHDOG_INTERVAL,
    WATCHDOG_INTERVAL_RANGE,
)
from airflow_celery.local.errors import LocalError

WORKERS_RANGE = range(1, 9)
MIN_WORKERS_RANGE = range(0, 9)
COOLDOWN_RANGE = range(5, 3601)
LOCAL_SCALE_IN_COOLDOWN = 60
"""Seconds before the local autoscaler stops a worker it no longer needs (the cloud default is 300)."""
CONCURRENCY_RANGE = range(1, 65)
SCHEDULERS_RANGE = range(1, MAX_SCHEDULERS + 1)
# The ports local mode binds, as "role.port" keys of EnvSettings.ports. The worker and triggerer log
# servers are off (serve_logs=False): every role shares one filesystem.
BOUND_PORTS: tuple[str, ...] = (
    "postgres.postgres",
    "redis.redis",
    "api-server.http",
    "scheduler.health",
    "flower.http",
    METRICS_PORT_KEY,  # UDP: the StatsD receiver of Airflow's metrics (local/metrics_receiver.py)
)
PORT_RANGE = range(1024, 65536)
HEALTH_TIMEOUT_RANGE = range(10, 901)
DEFAULT_HEALTH_TIMEOUT = 120
"""Seconds `local up` waits for each role's health check unless `--health-timeout` says otherwise."""
WATCHDOG_INTERVAL_OPTION_RANGE = range(WATCHDOG_INTERVAL_RANGE[0], WATCHDOG_INTERVAL_RANGE[1] + 1)
TASK_RETRY_DELAY_OPTION_RANGE = range(TASK_RETRY_DELAY_RANGE[0], TASK_RETRY_DELAY_RANGE[1] + 1)
HEARTBEAT_INTERVAL_OPTION_RANGE = range(HEARTBEAT_INTERVAL_RANGE[0], HEARTBEAT_INTERVAL_RANGE[1] + 1)
# Unix socket paths are limited to 107 bytes on Linux; the longest one we create is the postgres socket.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class UpOptions:
    workers: int
    """Worker programs defined: the fixed count, or the most the autoscaler may run."""
    concurrency: int
    state_dir: Path
    dags_dir: Path
    ports: Mapping[str, int] = field(default_factory=dict)
    health_timeout: int = DEFAULT_HEALTH_TIMEOUT
    schedulers: int = 1
    min_workers: int | None = None
    """With `--workers MIN:MAX`: the fewest workers; None for a fixed count."""
    scale_in_cooldown: int = LOCAL_SCALE_IN_COOLDOWN
    watchdog_interval: int = WATCHDOG_INTERVAL
    task_retry_delay: int = DEFAULT_TASK_RETRY_DELAY_SECONDS
    dag_source: DagSource = field(default_factory=DagSource)
    """`--dags-git`: a versioned git bundle (local/dag_source.py); the image default reads `dags_dir`."""
    queues: tuple[QueueScaling, ...] = ()
    """`--queue NAME=MIN:MAX[:CONCURRENCY]`: worker queues beside the default one (cluster/queues.py)."""
    failure_topic_arn: str | None = None
    """`--notify-sns`: failed DAG runs are announced on this topic (cluster/failure_notifications.py)."""
    sns_endpoint_url: str | None = None
    """`--notify-sns-endpoint`: the SNS-compatible server the dag-processor publishes to."""
    scheduler_idle_sleep: float = SCHEDULER_IDLE_SLEEP_SECONDS
    """`--scheduler-idle-sleep`: seconds an idle scheduler loop sleeps (cluster/limits.py)."""
    heartbeat_interval: int = MIN_HEARTBEAT_INTERVAL_SECONDS
    """`--heartbeat-interval`: `[workers] min_heartbeat_interval`; the cluster's 5 s unless a test cluster asks
    for less (cluster/limits.py, HEARTBEAT_INTERVAL_RANGE)."""

    @property
    def autoscaling(self) -> bool:
        return self.min_workers is not None and self.min_workers < self.workers

    @property
    def initial_workers(self) -> int:
        """Workers started by `up`: the minimum when autoscaling (the autoscaler adds the rest)."""
        return self.min_workers if self.autoscaling and self.min_workers is not None else self.workers


def parse_workers(value: str | int) -> tuple[int | None, int]:
    """`--workers N` (a fixed count) or `--workers MIN:MAX` (autoscaling): (min or None, max)."""
    text = str(value).strip()
    low, sep, high = text.partition(":")
    if not sep:
        if not text.isdigit():
            raise LocalError(f"--workers={text!r} is not a number of workers or MIN:MAX, e.g. 2 or 1:3")
        return None, int(text)
    if not (low.isdigit() and high.isdigit()):
        raise LocalError(f"--workers={text!r}: MIN:MAX takes two whole numbers, e.g. 1:3")
    minimum, maximum = int(low), int(high)
    _check_range("--workers MIN", minimum, MIN_WORKERS_RANGE)
    if minimum > maximum:
        raise LocalError(f"--workers={text!r}: MIN ({minimum}) must not be above MAX ({maximum})")
    return minimum, maximum


def parse_queue(value: str, concurrency: int) -> QueueScaling:
    """`--queue NAME=MIN:MAX[:CONCURRENCY]`: a worker queue; its concurrency defaults to --concurrency's."""
    name, sep, counts = value.partition("=")
    parts = counts.split(":")
    usage = f"--queue {value!r} is not NAME=MIN:MAX[:CONCURRENCY], e.g. heavy=0:2 or heavy=1:3:2"
    if not sep or len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise LocalError(usage)
    if name == DEFAULT_QUEUE:
        raise LocalError(f"--queue {value!r}: the default queue's workers are --workers and --concurrency")
    if not QUEUE_NAME.fullmatch(name):
        raise LocalError(
            f"--queue {value!r}: a queue name is 1-12 lowercase letters, digits and single inner hyphens, starting "
            "with a letter (the same names the cloud accepts)"
        )
    minimum, maximum = int(parts[0]), int(parts[1])
    slots = int(parts[2]) if len(parts) == 3 else concurrency
    _check_range(f"--queue {name} MIN", minimum, MIN_WORKERS_RANGE)
    _check_range(f"--queue {name} MAX", maximum, WORKERS_RANGE)
    _check_range(f"--queue {name} CONCURRENCY", slots, CONCURRENCY_RANGE)
    if minimum > maximum:
        raise LocalError(f"--queue {value!r}: MIN ({minimum}) must not be above MAX ({maximum})")
    return QueueScaling(name, minimum, maximum, slots)


def parse_queues(values: Iterable[str], concurrency: int) -> tuple[QueueScaling, ...]:
    queues = [parse_queue(value, concurrency) for value in values]
    names = [q.name for q in queues]
    for name in names:
        if names.count(name) > 1:
            raise LocalError(f"--queue {name} is given twice; give each queue once")
    return tuple(queues)


def resolve_ports(overrides: Mapping[str, int], schedulers: int = 1) -> dict[str, int]:
    """Every bound port: the description's numbers, with the overrides on top; no two the same. Schedulers 2..N
    take the health ports after the first scheduler's ("scheduler-N.health")."""
    ports = {key: int(overrides.get(key, _default_port(key))) for key in BOUND_PORTS}
    first_health = ports["scheduler.health"]
    ports |= {f"scheduler-{i}.health": first_health + i - 1 for i in range(2, schedulers + 1)}
    seen: dict[int, str] = {}
    for key, number in ports.items():
        if number in seen or number not in PORT_RANGE:
            raise LocalError(_clash(key, number, seen.get(number)))
        seen[number] = key
    return ports


def _default_port(key: str) -> int:
    """The description's number for a "role.port" key; StatsD's for the metrics receiver (no role of its own)."""
    return STATSD_PORT if key == METRICS_PORT_KEY else port_of(*key.split(".", 1)).number


def _clash(key: str, number: int, other: str | None) -> str:
    problem = f"clashes with {other}={number}" if other else "is not a port from 1024 to 65535"
    if key.startswith("scheduler-"):
        instance = key.split(".")[0].split("-")[1]
        return (
            f"scheduler {instance}'s health port (scheduler.health + {int(instance) - 1} = {number}) {problem}; "
            "choose another --port scheduler.health=NUMBER"
        )
    return f"--port {key}={number} {problem}; give each a different port"


def parse_port_overrides(values: Iterable[str]) -> dict[str, int]:
    """`--port api-server.http=18080` values, each checked for a known key and a usable number."""
    allowed = ", ".join(BOUND_PORTS)
    found: dict[str, int] = {}
    for value in values:
        key, sep, number = value.partition("=")
        if not sep or key not in BOUND_PORTS:
            raise LocalError(f"--port {value!r} is not KEY=NUMBER with KEY one of: {allowed}")
        if not number.isdigit() or int(number) not in PORT_RANGE:
            raise LocalError(f"--port {key}={number!r}: the port must be a number from 1024 to 65535")
        found[key] = int(number)
    return found


def _check_range(option: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise LocalError(f"{option}={value} is out of range; allowed: {allowed.start} to {allowed.stop - 1}")


def _check_seconds(option: str, value: float, allowed: tuple[float, float]) -> None:
    low, high = allowed
    if not low <= value <= high:
        raise LocalError(f"{option}={value:g} is out of range; allowed: {low:g} to {high:g} seconds")


def _check_state_dir(state_dir: Path) -> None:
    if state_dir.exists() and not state_dir.is_dir():
        raise LocalError(f"--state-dir={state_dir} exists and is not a directory; give a directory path")
    parent = next((p for p in (state_dir, *state_dir.parents) if p.exists()), None)
    if parent is None or not os.access(parent, os.W_OK | os.X_OK):
        raise LocalError(f"--state-dir={state_dir} cannot be created: {parent} is not writable")
    socket_path = state_dir / "run" / "pg" / ".s.PGSQL.65535"
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise LocalError(
            f"--state-dir={state_dir} is too long ({len(str(state_dir))} characters): the unix sockets inside it "
            f"must stay under {MAX_SOCKET_PATH} bytes; use a shorter path"
        )


def _check_dags_dir(dags_dir: Path) -> None:
    if not dags_dir.is_dir():
        raise LocalError(f"--dags-dir={dags_dir} is not an existing directory; give the folder that holds your DAGs")


def validate_up_options(
    workers: int | str,
    concurrency: int,
    state_dir: str | Path,
    dags_dir: str | Path,
    ports: Iterable[str] = (),
    health_timeout: int = DEFAULT_HEALTH_TIMEOUT,
    schedulers: int = 1,
    scale_in_cooldown: int = LOCAL_SCALE_IN_COOLDOWN,
    watchdog_interval: int = WATCHDOG_INTERVAL,
    task_retry_delay: int = DEFAULT_TASK_RETRY_DELAY_SECONDS,
    dag_source: DagSource | None = None,
    queues: Iterable[str] = (),
    failure_topic: str | None = None,
    sns_endpoint: str | None = None,
    scheduler_idle_sleep: float = SCHEDULER_IDLE_SLEEP_SECONDS,
    heartbeat_interval: int = MIN_HEARTBEAT_INTERVAL_SECONDS,
) -> UpOptions:
    """Every argument checked, in the order given, with the first problem raised as one clear error."""
    min_workers, workers = parse_workers(workers)
    _check_range("--workers", workers, WORKERS_RANGE)
    _check_range("--scale-in-cooldown", scale_in_cooldown, COOLDOWN_RANGE)
    _check_range("--concurrency", concurrency, CONCURRENCY_RANGE)
    _check_range("--health-timeout", health_timeout, HEALTH_TIMEOUT_RANGE)
    _check_range("--schedulers", schedulers, SCHEDULERS_RANGE)
    _check_range("--watchdog-interval", watchdog_interval, WATCHDOG_INTERVAL_OPTION_RANGE)
    _check_range("--task-retry-delay", task_retry_delay, TASK_RETRY_DELAY_OPTION_RANGE)
    _check_seconds("--scheduler-idle-sleep", scheduler_idle_sleep, SCHEDULER_IDLE_SLEEP_RANGE)
    _check_range("--heartbeat-interval", heartbeat_interval, HEARTBEAT_INTERVAL_OPTION_RANGE)
    state = Path(state_dir).expanduser().absolute()
    dags = Path(dags_dir).expanduser().absolute()
    _check_state_dir(state)
    if dag_source is None or not dag_source.versioned:
        _check_dags_dir(dags)
    overrides = parse_port_overrides(ports)
    extra = parse_queues(queues, concurrency)
    _check_notify(failure_topic, sns_endpoint)
    return UpOptions(
        workers,
        concurrency,
        state,
        dags,
        resolve_ports(overrides, schedulers),
        health_timeout,
        schedulers,
        min_workers,
        scale_in_cooldown,
        watchdog_interval,
        task_retry_delay,
        dag_source or DagSource(),
        extra,
        failure_topic,
        sns_endpoint,
        scheduler_idle_sleep,
        heartbeat_interval,
    )


def _check_notify(topic: str | None, endpoint: str | None) -> None:
    """--notify-sns and --notify-sns-endpoint go together: local mode has no AWS, only a stand-in such as moto."""
    if (topic is None) != (endpoint is None):
        raise LocalError(
            "--notify-sns TOPIC_ARN and --notify-sns-endpoint URL go together: the topic, on an SNS-compatible server "
            "such as moto's (.venv/bin/moto_server -H 127.0.0.1 -p 5000 and --notify-sns-endpoint http://127.0.0.1:5000)"
        )
    if topic is not None:
        try:
            region_of(topic)
        except ValueError as error:
            raise LocalError(f"--notify-sns: {error}") from None


def local_capacity(options: UpOptions) -> Capacity:
    """The local cluster's processes: one api-server with one uvicorn worker, the schedulers and workers asked for."""
    return Capacity(
        api_servers=1,
        api_workers=1,
        schedulers=options.schedulers,
        max_workers=options.workers,
        worker_concurrency=options.concurrency,
        extra_queues=tuple(QueueSlots(q.name, q.max_count, q.concurrency) for q in options.queues),
    )


def cluster_settings(
    options: UpOptions, airflow_home: Path, node_host: str, database_ca_file: Path | None = None
) -> EnvSettings:
    """The env contract's settings for a cluster whose every endpoint is on 127.0.0.1."""
    api_port = options.ports["api-server.http"]
    return EnvSettings(
        execution_api_url=f"http://127.0.0.1:{api_port}/execution/",
        dags_folder=str(options.dags_dir),
        airflow_home=str(airflow_home),
        base_log_folder=str(airflow_home / "logs"),
        bind_host="127.0.0.1",
        ports=dict(options.ports),
        serve_logs=False,
        wait_for_migrations=False,
        **{**capacity_settings(local_capacity(options)), "min_heartbeat_interval": options.heartbeat_interval},
        node_host=node_host,
        worker_min_count=options.initial_workers,
        worker_max_count=options.workers,
        scale_in_cooldown=options.scale_in_cooldown,
        watchdog_interval=options.watchdog_interval,
        default_task_retry_delay=options.task_retry_delay,
        scheduler_idle_sleep=options.scheduler_idle_sleep,
        database_ca_file=str(database_ca_file) if database_ca_file else None,
        # A cluster started before the receiver existed has no port for it (cluster.json): no metrics there.
        statsd_port=options.ports.get(METRICS_PORT_KEY),
        dag_source=options.dag_source,
        worker_queues=options.queues,
        dag_failure_topic_arn=options.failure_topic_arn,
        sns_endpoint_url=options.sns_endpoint_url,
    )
