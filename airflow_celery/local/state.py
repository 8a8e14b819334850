"""The state directory of a local cluster: where every file lives, the secrets and the recorded options.

Layout (all under one directory, default `.state/local`):

    secrets.json        generated secrets and the URLs composed from them (0600)
    cluster.json        the options `up` ran with (ports, workers, concurrency, dags folder); no secrets
    supervisord.conf    the supervisor configuration; environment values there are never secrets
    run/                supervisord's socket and pid file, postgres' socket directory
    logs/               one log file per program (postgres, redis, migrate, api-server, worker-1, ...)
    pgdata/             the PostgreSQL data directory (owned by the `embedded_postgres` user when root)
    pgconf/             PostgreSQL's self-signed TLS certificate and key (0600) and its pg_hba.conf
    airflow/            AIRFLOW_HOME, with Airflow's task logs in airflow/logs
    appendonlydir/      Redis' append-only file: tasks waiting in the broker survive a Redis restart
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_celery.cluster import BrokerEndpoint, DatabaseEndpoint, SecretName, compose_secrets, generate_secrets
from airflow_celery.cluster.dag_source import DagSource
from airflow_celery.cluster.limits import MIN_HEARTBEAT_INTERVAL_SECONDS, SCHEDULER_IDLE_SLEEP_SECONDS
from airflow_celery.cluster.queue_policy import LOCAL_SETTINGS
from airflow_celery.cluster.queues import parse_queues_scaling
from airflow_celery.cluster.reliability import DEFAULT_TASK_RETRY_DELAY_SECONDS, WATCHDOG_INTERVAL
from airflow_celery.cluster.secrets import DEFAULT_ADMIN_USERNAME, GENERATED
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import LOCAL_SCALE_IN_COOLDOWN, UpOptions
from airflow_celery.local.tls import CERT_NAME

ADMIN_USERNAME = DEFAULT_ADMIN_USERNAME


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def marker(self) -> Path:
        """Written by `up` when it creates the directory; `down --purge` deletes only a directory holding it."""
        return self.root / ".airflow-celery-state"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def cluster(self) -> Path:
        return self.root / "cluster.json"

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def supervisor_log(self) -> Path:
        return self.logs / "supervisord.log"

    @property
    def pg_socket_dir(self) -> Path:
        return self.run / "pg"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def pg_conf_dir(self) -> Path:
        """The server certificate, its key and pg_hba.conf, all written by `local up`."""
        return self.root / "pgconf"

    @property
    def database_ca_file(self) -> Path:
        """What clients verify the local PostgreSQL's certificate against: the self-signed certificate itself."""
        return self.pg_conf_dir / CERT_NAME

    @property
    def pg_hba_file(self) -> Path:
        return self.pg_conf_dir / "pg_hba.conf"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    def log_file(self, program: str) -> Path:
        return self.logs / f"{program}.log"


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def create_state_dir(paths: StatePaths) -> None:
    """The directories, private where possible.

    As root, postgres runs as the `embedded_postgres` user and must traverse the state dir to reach its
    data and socket directories: the state dir then gets 0711 (traverse, no listing) instead of 0700.
    """
    for directory in (paths.root, paths.run, paths.logs, paths.airflow_home):
        directory.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o711 if running_as_root() else 0o700)
    paths.run.chmod(0o711 if running_as_root() else 0o700)
    paths.logs.chmod(0o700)
    paths.marker.write_text("A state directory of `airflow-celery local`; `local down --purge` deletes it.\n")
    # The cluster policies (cluster/queue_policy.py) where Airflow looks for them, AIRFLOW_HOME/config, as in the image.
    (paths.airflow_home / "config").mkdir(exist_ok=True)
    (paths.airflow_home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)


def write_private_json(path: Path, data: Mapping[str, object]) -> None:
    """Write JSON readable by the owner only, never world-readable even for an instant."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    tmp.replace(path)


def load_generated_secrets(paths: StatePaths) -> dict[SecretName, str]:
    """The generated secrets of this state dir, generated and stored on the first call."""
    if paths.secrets.exists():
        try:
            stored = json.loads(paths.secrets.read_text())
        except ValueError as error:
            raise LocalError(
                f"{paths.secrets} is damaged ({type(error).__name__}: {error}); run "
                f"`airflow-celery local down --purge --state-dir {paths.root}` for a clean slate"
            ) from None
        # A secret added by a newer version (result-backend-password) is generated once and kept.
        fresh = generate_secrets()
        generated = {name: stored.get(name.value) or fresh[name] for name in GENERATED}
        if any(name.value not in stored for name in GENERATED):
            write_private_json(paths.secrets, {**stored, **{name.value: value for name, value in generated.items()}})
        return generated
    _refuse_new_secrets_over_old_data(paths)
    generated = generate_secrets()
    write_private_json(paths.secrets, {name.value: value for name, value in generated.items()})
    return generated


def _refuse_new_secrets_over_old_data(paths: StatePaths) -> None:
    """New secrets over an existing database would not match what it holds: the admin's password (FAB keeps an
    existing user as it is) and every connection and variable encrypted with the old fernet key."""
    if (paths.pgdata / "PG_VERSION").exists():
        raise LocalError(
            f"{paths.secrets} is missing but {paths.pgdata} holds a database made with the secrets it had: new "
            "secrets would leave the old admin password in it and make its encrypted connections and variables "
            f"unreadable. Put the old secrets.json back, or start from scratch with `airflow-celery local down "
            f"--purge --state-dir {paths.root}` (this deletes the database)"
        )


def all_secrets(paths: StatePaths, ports: Mapping[str, int]) -> dict[str, str]:
    """Generated and composed secrets for these ports, stored back so every program reads the same values."""
    generated = load_generated_secrets(paths)
    composed = compose_secrets(
        generated,
        # The local PostgreSQL requires TLS on TCP, like RDS, and clients verify it against its own certificate:
        # the same URL shapes in both places.
        DatabaseEndpoint(
            "127.0.0.1", ports["postgres.postgres"], sslmode="verify-full", sslrootcert=str(paths.database_ca_file)
        ),
        BrokerEndpoint("127.0.0.1", ports["redis.redis"]),
        ADMIN_USERNAME,
    )
    values = {name.value: value for name, value in {**generated, **composed}.items()}
    write_private_json(paths.secrets, values)
    return values


def read_secrets(paths: StatePaths) -> dict[str, str]:
    if not paths.secrets.exists():
        raise LocalError(f"no secrets in {paths.root}: is a cluster set up there? run `airflow-celery local up`")
    return json.loads(paths.secrets.read_text())


def save_options(paths: StatePaths, options: UpOptions, node_host: str) -> None:
    data = {
        "workers": options.workers,
        "concurrency": options.concurrency,
        "schedulers": options.schedulers,
        "dags_dir": str(options.dags_dir),
        "ports": dict(options.ports),
        "node_host": node_host,
        "min_workers": options.min_workers,
        "scale_in_cooldown": options.scale_in_cooldown,
        "watchdog_interval": options.watchdog_interval,
        "task_retry_delay": options.task_retry_delay,
        "scheduler_idle_sleep": options.scheduler_idle_sleep,
        "heartbeat_interval": options.heartbeat_interval,
        "dag_source": dataclasses.asdict(options.dag_source),
        "queues": [q.as_text() for q in options.queues],
        "failure_topic_arn": options.failure_topic_arn,
        "sns_endpoint_url": options.sns_endpoint_url,
    }
    paths.cluster.write_text(json.dumps(data, indent=2, sort_keys=True))


def load_options(paths: StatePaths) -> tuple[UpOptions, str]:
    """The options the last `up` used, and the host part of the worker node names."""
    if not paths.cluster.exists():
        raise LocalError(
            f"{paths.root} holds no local cluster (no cluster.json); start one with "
            f"`airflow-celery local up --state-dir {paths.root}`"
        )
    data = json.loads(paths.cluster.read_text())
    options = UpOptions(
        workers=data["workers"],
        concurrency=data["concurrency"],
        state_dir=paths.root,
        dags_dir=Path(data["dags_dir"]),
        ports=data["ports"],
        schedulers=data.get("schedulers", 1),
        min_workers=data.get("min_workers"),
        scale_in_cooldown=data.get("scale_in_cooldown", LOCAL_SCALE_IN_COOLDOWN),
        watchdog_interval=data.get("watchdog_interval", WATCHDOG_INTERVAL),
        task_retry_delay=data.get("task_retry_delay", DEFAULT_TASK_RETRY_DELAY_SECONDS),
        scheduler_idle_sleep=data.get("scheduler_idle_sleep", SCHEDULER_IDLE_SLEEP_SECONDS),
        heartbeat_interval=data.get("heartbeat_interval", MIN_HEARTBEAT_INTERVAL_SECONDS),
        dag_source=DagSource(**data.get("dag_source", {})),
        queues=parse_queues_scaling(",".join(data.get("queues", []))),
        failure_topic_arn=data.get("failure_topic_arn"),
        sns_endpoint_url=data.get("sns_endpoint_url"),
    )
    return options, data["node_host"]
