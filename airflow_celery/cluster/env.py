"""The env contract: every role's environment variables, from one function.

`role_environment` is the only place that decides an environment variable. The AWS renderer turns
its `plain` part into a container's `environment` and its `secrets` part into `secrets` entries
(`valueFrom` a Secrets Manager ARN); the local runner and docker-compose fill the secrets in from
their own store. Which secrets a role gets follows the network edges: a role that never talks to
Redis never sees the broker URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_celery.cluster.dag_source import FARGATE_BUNDLE_STORAGE, DagSource
from airflow_celery.cluster.failure_notifications import TOPIC_ARN_VAR as DAG_FAILURE_TOPIC_VAR
from airflow_celery.cluster.limits import SCHEDULER_IDLE_SLEEP_SECONDS
from airflow_celery.cluster.metrics import EMITTING_ROLES, statsd_environment
from airflow_celery.cluster.queues import (
    DEFAULT_QUEUE,
    QUEUES_SCALING_VAR,
    WORKER_QUEUE_VAR,
    WORKER_QUEUES_VAR,
    QueueScaling,
    node_name,
    queue_names,
    queues_scaling_text,
)
from airflow_celery.cluster.reliability import (
    DEFAULT_TASK_RETRIES,
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_HEARTBEAT_TIMEOUT,
    WATCHDOG_INTERVAL,
    max_failed_heartbeats,
    watchdog_stale_after,
)
from airflow_celery.cluster.roles import (
    API_SERVER,
    AUTOSCALER,
    DAG_PROCESSOR,
    FLOWER,
    MIGRATE,
    REDIS,
    SCHEDULER,
    TRIGGERER,
    WAIT_BUDGET,
    WATCHDOG,
    WATCHDOG_ALIVE_VAR,
    WORKER,
    WORKER_ALIVE_VAR,
    Kind,
    role,
)
from airflow_celery.cluster.scaling import DEFAULT_SCALE_IN_COOLDOWN, TASK_QUEUED_TIMEOUT
from airflow_celery.cluster.secrets import DEFAULT_ADMIN_USERNAME, SecretName
from airflow_celery.cluster.task_logs import LOGGING_CONFIG_PATH as TASK_LOGS_CONFIG_PATH

DATABASE_CA_VAR = "PGSSLROOTCERT"
FAB_AUTH_MANAGER = "airflow_celery.api_server.auth_manager.OffLoopFabAuthManager"
"""Airflow's FAB auth manager with its per-request token check off the api-server's event loop
(api_server/auth_manager.py: without it, a fully used connection pool stalls the api-server 30 s). Airflow tells
FAB apart by the substring "FabAuthManager" in this path (dag_processing/collection.py, utils/db_cleanup.py)."""
HOST_IP_CALLABLE = "airflow.utils.net.get_host_ip_address"

DEFAULT_QUEUE_VAR = "AIRFLOW__OPERATORS__DEFAULT_QUEUE"
# DEFAULT_QUEUE (cluster/queues.py): Airflow's `[operators] default_queue`, the queue the default pool consumes.

# Variables read by our entrypoint (airflow_celery/entrypoint/), not by Airflow.
NODE_NAME_VAR = "AIRFLOW_CELERY_NODE_NAME"
SERVE_LOGS_VAR = "AIRFLOW_CELERY_SERVE_LOGS"
WAIT_FOR_MIGRATIONS_VAR = "AIRFLOW_CELERY_WAIT_FOR_MIGRATIONS"
WAIT_TIMEOUT_VAR = "AIRFLOW_CELERY_WAIT_TIMEOUT"
ADMIN_USERNAME_VAR = "AIRFLOW_CELERY_ADMIN_USERNAME"
ADMIN_PASSWORD_VAR = "AIRFLOW_CELERY_ADMIN_PASSWORD"
STOP_FOR_MIGRATIONS_VAR = "AIRFLOW_CELERY_STOP_FOR_MIGRATIONS"
"""Set (true) by the ECS migrate step's first run: migrate exits EX_TEMPFAIL instead of migrating when the schema is
behind its Airflow, so that the services reading it are stopped first (aws/migration_runner.py)."""
# Read by the autoscaler (airflow_celery/autoscaler/) and the workers' scale-in protection.
WORKERS_MIN_VAR = "AIRFLOW_CELERY_WORKERS_MIN"
WORKERS_MAX_VAR = "AIRFLOW_CELERY_WORKERS_MAX"
SCALE_IN_COOLDOWN_VAR = "AIRFLOW_CELERY_SCALE_IN_COOLDOWN"
METRIC_NAMESPACE_VAR = "AIRFLOW_CELERY_METRIC_NAMESPACE"
CONCURRENCY_VAR = "AIRFLOW__CELERY__WORKER_CONCURRENCY"
CELERY_CONFIG_VAR = "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"
WORKER_CELERY_CONFIG = "airflow_celery.worker.config.CELERY_CONFIG"
"""Airflow's own Celery config, imported through our module so that importing it hooks the liveness file and the
scale-in protection into the worker (celery_executor_utils.get_celery_configuration reads [celery]
celery_config_options; airflow_celery/worker/config.py)."""
SCHEDULER_CELERY_CONFIG = "airflow_celery.scheduler.config.CELERY_CONFIG"
"""The schedulers' Celery config: Airflow's, imported through our module so that importing it keeps one pooled
result-backend engine (airflow_celery/scheduler/config.py)."""
RESULT_ENGINE_OPTIONS_VAR = "AIRFLOW__CELERY__RESULT_BACKEND_SQLALCHEMY_ENGINE_OPTIONS"
SCHEDULER_RESULT_ENGINE_OPTIONS = {"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True, "pool_recycle": 1800}
"""The scheduler's kept result-backend engine (airflow_celery/scheduler/result_sessions.py): one thread reads the
states, so one connection (the connection budget's line, cluster/limits.py), checked before each use (one more round
trip per read) and renewed every 30 minutes, so that a database failover or an idle timeout costs a failed ping,
not a failed read."""

VISIBILITY_TIMEOUT_VAR = "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"
VISIBILITY_TIMEOUT = 86400
"""Seconds a message a worker took may stay unacknowledged before Redis gives it to another worker (kombu's Redis
transport, `visibility_timeout`, checked by `restore_visible`). Airflow acknowledges late (`task_acks_late`): a
message stays unacknowledged for as long as its task runs, so any task longer than this is delivered a second time
while it runs (and, in the provider's own warning, the original is terminated). The short side buys nothing
here: a lost worker's running tasks are retried by the watchdog and the heartbeat check, its not-yet-started ones
by `task_queued_timeout`, long before any redelivery. So it is long: 24 h, the provider's own value, above any
task we expect, now set on purpose."""
WATCHDOG_STALE_VAR = "AIRFLOW_CELERY_WATCHDOG_STALE_AFTER"
WATCHDOG_INTERVAL_VAR = "AIRFLOW_CELERY_WATCHDOG_INTERVAL"
HEARTBEAT_TIMEOUT_VAR = "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"
SNS_ENDPOINT_VAR = "AWS_ENDPOINT_URL_SNS"
STAND_IN_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""The placeholder keys an AWS stand-in accepts (local mode's S3 connection uses the same, local/dag_source.py)."""

# The secrets every Airflow container must share: a mismatch breaks encrypted connections
# (fernet), fails every task with "Signature verification failed" (JWT) or 403s log fetches (secret key).
SHARED_SECRETS: dict[str, SecretName] = {
    "AIRFLOW__CORE__FERNET_KEY": SecretName.FERNET_KEY,
    "AIRFLOW__API_AUTH__JWT_SECRET": SecretName.JWT_SECRET,
    "AIRFLOW__API__SECRET_KEY": SecretName.API_SECRET_KEY,
}


@dataclass(frozen=True)
class EnvSettings:
    """Where things are and how the cluster is tuned; everything the env contract depends on."""

    execution_api_url: str
    """Internal URL of the api-server's Task Execution API, e.g. http://api-server.airflow.local:8080/execution/."""
    # Computed from the cluster's Capacity (limits.capacity_settings), so they have no default of their own.
    worker_concurrency: int
    api_workers: int
    parallelism: int
    """`[core] parallelism` and the default pool's slots: limits.executor_parallelism(), max workers x concurrency
    (plus limits.WAITING_TASKS_PER_SLOT waiting in the broker per slot: none)."""
    min_heartbeat_interval: int
    """How often the task supervisor heartbeats through the execution API: limits.MIN_HEARTBEAT_INTERVAL_SECONDS."""
    db_pool_size: int
    db_max_overflow: int
    public_base_url: str | None = None
    """The URL people open (the load balancer), or None to let Airflow derive it."""
    trusted_proxies: str = "127.0.0.1"
    """Comma-separated addresses or CIDRs whose X-Forwarded-For/-Proto headers the api-server believes
    (uvicorn's FORWARDED_ALLOW_IPS): on AWS the VPC's ranges, where the load balancer's nodes live."""
    dags_folder: str = "/opt/airflow/dags"
    airflow_home: str | None = None
    base_log_folder: str | None = None
    remote_log_folder: str | None = None
    """s3://bucket/prefix turns remote task logging on."""
    aws_region: str | None = None
    bind_host: str = "0.0.0.0"
    ports: Mapping[str, int] = field(default_factory=dict)
    """Port overrides, keyed "role.port" (e.g. "api-server.http"); the description's numbers otherwise."""
    serve_logs: bool = True
    """False when every role shares one filesystem (local mode): the log servers bind every interface."""
    wait_for_migrations: bool = True
    """Airflow roles wait for `airflow db check-migrations` before starting (off when a runner orders them)."""
    wait_timeout: int = WAIT_BUDGET
    """Seconds the entrypoint may wait in total, for dependencies and migrations (roles.py, start-up timing)."""
    jwt_issuer: str = "airflow-celery"
    """The `iss` claim of task tokens, checked on every execution API call: Airflow's config.yml asks for one
    unique per deployment (the component sets project/stack/name), so a token of one cluster fails on another."""
    flower_url_prefix: str = "/flower"
    task_heartbeat_timeout: int = TASK_HEARTBEAT_TIMEOUT
    """Seconds after a worker dies before its tasks are failed or retried; Airflow's default is 300."""
    default_task_retries: int = DEFAULT_TASK_RETRIES
    """`[core] default_task_retries`: tries a task gets beyond its first when it sets no `retries` itself."""
    default_task_retry_delay: int = DEFAULT_TASK_RETRY_DELAY_SECONDS
    """`[core] default_task_retry_delay`, seconds between tries of such a task."""
    admin_username: str = DEFAULT_ADMIN_USERNAME
    node_host: str = "%h"
    """Host part of local workers' Celery node names."""
    worker_min_count: int = 1
    worker_max_count: int = 1
    scale_in_cooldown: int = DEFAULT_SCALE_IN_COOLDOWN
    """Seconds a lower worker count must be wanted before workers stop (cluster/scaling.py)."""
    metric_namespace: str | None = None
    """CloudWatch namespace the autoscaler publishes to (ECS); None locally."""
    database_ca_file: str | None = None
    """The CA bundle the database's certificate is verified against (PGSSLROOTCERT): asyncpg reads it only from
    there (cluster/secrets.py); libpq also finds it in the URL."""
    scheduler_idle_sleep: float = SCHEDULER_IDLE_SLEEP_SECONDS
    """`[scheduler] scheduler_idle_sleep_time` (cluster/limits.py). Longer only for a test cluster that shares the
    machine with others (`local up --scheduler-idle-sleep`)."""
    watchdog_interval: int = WATCHDOG_INTERVAL
    """Seconds between the watchdog's rounds; a lost worker's tasks are failed within reliability.py's
    lost_task_retry_within(). Fewer only for a test cluster that waits on it (`local up --watchdog-interval`)."""
    statsd_port: int | None = None
    """Airflow's own metrics (cluster/metrics.py): the emitting roles send StatsD to 127.0.0.1 on this port (the
    metrics agent in their ECS task, the local receiver); None sends none."""
    dag_source: DagSource = field(default_factory=DagSource)
    """Where the DAGs come from (cluster/dag_source.py): the image's folder, or a versioned git bundle."""

    worker_queues: tuple[QueueScaling, ...] = ()
    """The worker queues beside the default one (cluster/queues.py); empty: one pool on the default queue."""
    dag_failure_topic_arn: str | None = None
    """The SNS topic a failed DAG run is announced on (cluster/failure_notifications.py), in the dag-processor's
    environment only: it runs DAG callbacks. None: no notification."""
    sns_endpoint_url: str | None = None
    """Where the dag-processor's boto3 reaches SNS (AWS_ENDPOINT_URL_SNS): a stand-in locally; None on AWS."""

    @property
    def dag_bundle_storage(self) -> str:
        """Where bundle checkouts live: under AIRFLOW_HOME locally, the container's ephemeral storage on Fargate."""
        return f"{self.airflow_home}/dag_bundles" if self.airflow_home else FARGATE_BUNDLE_STORAGE

    @property
    def autoscaling(self) -> bool:
        """The autoscaler runs: the default pool or any other queue's may vary."""
        return self.default_autoscaling or any(q.autoscaling for q in self.worker_queues)

    @property
    def default_autoscaling(self) -> bool:
        return self.worker_min_count < self.worker_max_count

    def worker_queue(self, name: str | None) -> QueueScaling | None:
        """An extra queue by name; None for the default queue (or None)."""
        return next((q for q in self.worker_queues if q.name == name), None)

    def port(self, role_name: str, port_name: str, instance: int | None = None) -> int:
        """A port's number: an override keyed "role.port" (or "role-N.port" for instance N of a role that runs
        several times on one host, like local schedulers), else the description's."""
        if instance is not None and f"{role_name}-{instance}.{port_name}" in self.ports:
            return int(self.ports[f"{role_name}-{instance}.{port_name}"])
        key = f"{role_name}.{port_name}"
        return int(self.ports.get(key, role(role_name).port(port_name).number))


@dataclass(frozen=True)
class RoleEnvironment:
    """A role's environment: plain values, and variables whose values are secrets (by name)."""

    plain: dict[str, str]
    secrets: dict[str, SecretName]

    def resolve(self, secret_values: Mapping[str, str]) -> dict[str, str]:
        """The full environment, with each secret's value filled in from `secret_values`."""
        return {**self.plain, **{var: secret_values[name] for var, name in self.secrets.items()}}


def _flag(value: bool) -> str:
    return "True" if value else "False"


def _airflow_common(settings: EnvSettings) -> dict[str, str]:
    env = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": settings.dags_folder,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": settings.execution_api_url,
        # ti.hostname must be an address the api-server can reach for live logs (Fargate task IPs).
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOST_IP_CALLABLE,
        "AIRFLOW__API_AUTH__JWT_ISSUER": settings.jwt_issuer,
        HEARTBEAT_TIMEOUT_VAR: str(settings.task_heartbeat_timeout),
        # The queue workers consume and the autoscaler counts; explicit, so both read the same value.
        DEFAULT_QUEUE_VAR: DEFAULT_QUEUE,
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(settings.min_heartbeat_interval),
        # Airflow's 3 kills a running task 12-90 s into an api-server outage (reliability.py).
        "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": str(max_failed_heartbeats(settings.min_heartbeat_interval)),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(TASK_QUEUED_TIMEOUT),
        # Explicit: the celery provider warns in every process when it falls back to its own (default_celery.py).
        VISIBILITY_TIMEOUT_VAR: str(VISIBILITY_TIMEOUT),
        # Read where DAGs are parsed (task SDK abstractoperator.py, DEFAULT_RETRIES); the serialized DAG carries
        # them to the scheduler as client_defaults: every Airflow role gets the same values.
        "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": str(settings.default_task_retries),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": str(settings.default_task_retry_delay),
        CONCURRENCY_VAR: str(settings.worker_concurrency),
        # Airflow's default parallelism (32) caps the cluster whatever the worker count; migrate sets the
        # default pool to the same number (it is read only when the pool is created).
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallelism),
        "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": str(settings.parallelism),
        # Explicit, so that the connection budget (cluster/limits.py) is what runs.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": str(settings.db_pool_size),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": str(settings.db_max_overflow),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.port(WORKER.name, "logs")),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.port(TRIGGERER.name, "logs")),
        SERVE_LOGS_VAR: _flag(settings.serve_logs),
        WAIT_FOR_MIGRATIONS_VAR: _flag(settings.wait_for_migrations),
        WAIT_TIMEOUT_VAR: str(settings.wait_timeout),
    }
    env.update(settings.dag_source.environment(settings.dag_bundle_storage))
    if settings.worker_queues:
        # The queue policy (cluster/queue_policy.py) refuses a task on a queue no worker consumes. It runs wherever a
        # DAG file is parsed: the dag-processor, and each task's runner on a worker (task_runner.py, BundleDagBag).
        env[WORKER_QUEUES_VAR] = ",".join(queue_names(settings.worker_queues))
    if settings.public_base_url:
        env["AIRFLOW__API__BASE_URL"] = settings.public_base_url
    if settings.database_ca_file:
        env[DATABASE_CA_VAR] = settings.database_ca_file
    if settings.airflow_home:
        env["AIRFLOW_HOME"] = settings.airflow_home
    if settings.base_log_folder:
        env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = settings.base_log_folder
    if settings.remote_log_folder:
        env["AIRFLOW__LOGGING__REMOTE_LOGGING"] = "True"
        env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] = settings.remote_log_folder
        env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"] = "aws_default"
        # No stored connection: boto3's default chain picks up the ECS task role.
        region = f"?region_name={settings.aws_region}" if settings.aws_region else ""
        env["AIRFLOW_CONN_AWS_DEFAULT"] = f"aws://{region}"
        # A task's log file is uploaded when it ends (the S3 task handler reads this key as delete_local_copy):
        # without it every log stays on the worker's disk too, until the disk is full.
        env["AIRFLOW__LOGGING__DELETE_LOCAL_LOGS"] = "True"
        if settings.remote_log_folder.startswith("cloudwatch://"):
            # Streams every 2 s instead of every 60 s (cluster/task_logs.py).
            env["AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS"] = TASK_LOGS_CONFIG_PATH
    return env


def _role_specific(
    role_name: str, settings: EnvSettings, instance: int | None, queue: str | None = None
) -> dict[str, str]:
    if role_name == API_SERVER.name:
        return {
            "AIRFLOW__API__HOST": settings.bind_host,
            "AIRFLOW__API__PORT": str(settings.port(API_SERVER.name, "http")),
            "AIRFLOW__API__WORKERS": str(settings.api_workers),
            **_behind_proxy(settings),
        }
    if role_name == SCHEDULER.name:
        return {
            # One kept result-backend engine instead of a new engine and connection per state read.
            CELERY_CONFIG_VAR: SCHEDULER_CELERY_CONFIG,
            RESULT_ENGINE_OPTIONS_VAR: json.dumps(SCHEDULER_RESULT_ENGINE_OPTIONS, separators=(",", ":")),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            # A freed slot is refilled one loop later: the idle loop's sleep bounds short tasks' throughput.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": str(settings.scheduler_idle_sleep),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": settings.bind_host,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(
                settings.port(SCHEDULER.name, "health", instance)
            ),
        }
    if role_name == WORKER.name:
        # The official image's dumb-init kills the whole process group on SIGTERM unless SETSID=0;
        # with it, Celery gets the signal alone and shuts down warm.
        env = {"DUMB_INIT_SETSID": "0", CELERY_CONFIG_VAR: WORKER_CELERY_CONFIG,
               **settings.dag_source.worker_environment()}  # fmt: skip
        extra = settings.worker_queue(queue)
        if extra is not None:
            # `airflow celery worker --queues <name>` (entrypoint.py), with the queue's own slots.
            env[WORKER_QUEUE_VAR] = extra.name
            env[CONCURRENCY_VAR] = str(extra.concurrency)
        if instance is not None:
            node = node_name(queue, instance, settings.node_host)
            env[NODE_NAME_VAR] = node
            # Several workers on one host (local mode): each its own liveness file.
            env[WORKER_ALIVE_VAR] = f"{settings.airflow_home or '/tmp'}/{node.partition('@')[0]}.alive"
        return env

    if role_name == FLOWER.name:
        return {
            "AIRFLOW__CELERY__FLOWER_HOST": settings.bind_host,
            "AIRFLOW__CELERY__FLOWER_PORT": str(settings.port(FLOWER.name, "http")),
            "AIRFLOW__CELERY__FLOWER_URL_PREFIX": settings.flower_url_prefix,
        }
    if role_name == MIGRATE.name:
        return {ADMIN_USERNAME_VAR: settings.admin_username}
    if role_name == DAG_PROCESSOR.name:
        return _dag_processor(settings)
    if role_name == AUTOSCALER.name:
        return _autoscaler(settings)
    if role_name == WATCHDOG.name:
        return _watchdog(settings)
    if role_name == REDIS.name:
        return {"REDIS_PORT": str(settings.port(REDIS.name, "redis")), "REDIS_BIND": settings.bind_host}
    return {}


def _dag_processor(settings: EnvSettings) -> dict[str, str]:
    """How a new bundle version is parsed and written (cluster/dag_source.py), and the failure notifications' topic
    (cluster/failure_notifications.py): the dag-processor runs DAG callbacks."""
    env = settings.dag_source.dag_processor_environment()
    if settings.dag_failure_topic_arn:
        env[DAG_FAILURE_TOPIC_VAR] = settings.dag_failure_topic_arn
        if settings.sns_endpoint_url:
            # botocore reads a service's endpoint from AWS_ENDPOINT_URL_<SERVICE ID> (configprovider.py), and a
            # stand-in (moto, LocalStack) takes placeholder keys; on AWS neither is set and the task role signs.
            env[SNS_ENDPOINT_VAR] = settings.sns_endpoint_url
            env.update(STAND_IN_KEYS)
    return env


def _autoscaler(settings: EnvSettings) -> dict[str, str]:
    """The decision's inputs (cluster/scaling.py) and, on ECS, where to publish it."""
    env = {
        **({QUEUES_SCALING_VAR: queues_scaling_text(settings.worker_queues)} if settings.worker_queues else {}),
        WORKERS_MIN_VAR: str(settings.worker_min_count),
        WORKERS_MAX_VAR: str(settings.worker_max_count),
        CONCURRENCY_VAR: str(settings.worker_concurrency),
        SCALE_IN_COOLDOWN_VAR: str(settings.scale_in_cooldown),
        WAIT_TIMEOUT_VAR: str(settings.wait_timeout),
        # The queue the workers consume (Airflow's default, the same in every role): only its tasks are counted.
        DEFAULT_QUEUE_VAR: DEFAULT_QUEUE,
    }
    if settings.metric_namespace:
        env[METRIC_NAMESPACE_VAR] = settings.metric_namespace
    if settings.aws_region:
        env["AWS_DEFAULT_REGION"] = settings.aws_region
    return env


def _watchdog(settings: EnvSettings) -> dict[str, str]:
    """When a running task's heartbeat counts as stale, and the timeout its heartbeat is aged by (reliability.py)."""
    env = {
        WATCHDOG_STALE_VAR: str(watchdog_stale_after(settings.min_heartbeat_interval, settings.watchdog_interval)),
        WATCHDOG_INTERVAL_VAR: str(settings.watchdog_interval),
        HEARTBEAT_TIMEOUT_VAR: str(settings.task_heartbeat_timeout),
        WAIT_TIMEOUT_VAR: str(settings.wait_timeout),
    }
    if settings.airflow_home:  # one host, maybe several clusters (local mode): a file of its own
        env[WATCHDOG_ALIVE_VAR] = f"{settings.airflow_home}/watchdog.alive"
    return env


def _behind_proxy(settings: EnvSettings) -> dict[str, str]:
    """TLS ends at the load balancer, so the api-server must learn the scheme from X-Forwarded-Proto.

    The api-server runs with `--proxy-headers` (its command in roles.py): uvicorn's ProxyHeadersMiddleware
    then sets the request scheme (and client address) from X-Forwarded-* sent by a FORWARDED_ALLOW_IPS
    address. FastAPI and FAB's Flask app (mounted through WSGIMiddleware, `wsgi.url_scheme` from the ASGI
    scheme) both see https, and FAB's login sets `_token` with Secure (`request.scheme == "https"`, in
    airflow/providers/fab/www/views.py `redirect`). Flask's `session` cookie follows SESSION_COOKIE_SECURE
    only, which FAB takes from [fab] cookie_secure: on when people use https (it must stay off on plain
    HTTP, or browsers drop the session and the login form's CSRF check fails). FAB's own ProxyFix
    ([fab] enable_proxy_fix) stays off: it believes X-Forwarded-Host and -Prefix from any client, which
    the load balancer passes through unchanged.
    """
    env = {"FORWARDED_ALLOW_IPS": settings.trusted_proxies}
    if (settings.public_base_url or "").startswith("https://"):
        env["AIRFLOW__FAB__COOKIE_SECURE"] = "True"
    return env


DATABASE_URL_VAR = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
RESULT_BACKEND_VAR = "AIRFLOW__CELERY__RESULT_BACKEND"

_FERNET = {"AIRFLOW__CORE__FERNET_KEY": SecretName.FERNET_KEY}
_JWT = {"AIRFLOW__API_AUTH__JWT_SECRET": SecretName.JWT_SECRET}
_API_SECRET_KEY = {"AIRFLOW__API__SECRET_KEY": SecretName.API_SECRET_KEY}
# Every process that sets up Airflow's ORM also builds the async engine (settings.configure_orm).
_METADATA_DB = {
    DATABASE_URL_VAR: SecretName.DATABASE_URL,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": SecretName.DATABASE_ASYNC_URL,
}
_CELERY = {"AIRFLOW__CELERY__BROKER_URL": SecretName.BROKER_URL, RESULT_BACKEND_VAR: SecretName.RESULT_BACKEND_URL}

ROLE_SECRETS: dict[str, dict[str, SecretName]] = {
    # Verifies task tokens (execution API) and signs UI tokens (JWT); sessions and the log-fetch tokens it
    # sends to the log servers ([api] secret_key); decrypts connections and variables it serves (fernet).
    API_SERVER.name: {**_FERNET, **_JWT, **_API_SECRET_KEY, **_METADATA_DB},
    # Signs every task's token (executors/workloads); sends to and reads states from Celery.
    SCHEDULER.name: {**_FERNET, **_JWT, **_METADATA_DB, **_CELERY},
    # Its in-process execution API skips token checks (execution_api/app.py, InProcessExecutionAPI registers
    # no JWTValidator), so no JWT secret; DAG code may read connections and variables: fernet.
    DAG_PROCESSOR.name: {**_FERNET, **_METADATA_DB},
    # Same in-process execution API; its log server checks the api-server's tokens ([api] secret_key).
    TRIGGERER.name: {**_FERNET, **_API_SECRET_KEY, **_METADATA_DB},
    # Airflow 3 workers never open the metadata DB (the Celery provider validates a DB session only before 3.0)
    # and get connections decrypted from the execution API: the broker, the result backend (its own database
    # role, limited to Celery's tables), and the log server's key.
    WORKER.name: {**_API_SECRET_KEY, **_CELERY},
    # Flower reads the broker only.
    FLOWER.name: {"AIRFLOW__CELERY__BROKER_URL": SecretName.BROKER_URL,
                  "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": SecretName.FLOWER_BASIC_AUTH},
    # Also creates the result backend's own database role, whose password it reads from that URL.
    MIGRATE.name: {**_FERNET, **_METADATA_DB, ADMIN_PASSWORD_VAR: SecretName.ADMIN_PASSWORD,
                   RESULT_BACKEND_VAR: SecretName.RESULT_BACKEND_URL},
    # Counts task instances with a plain SQLAlchemy engine: no Airflow, no async engine, no fernet.
    AUTOSCALER.name: {DATABASE_URL_VAR: SecretName.DATABASE_URL},
    # Reads and ages task_instance rows with a plain SQLAlchemy engine; asks the workers through the broker.
    WATCHDOG.name: {DATABASE_URL_VAR: SecretName.DATABASE_URL, "AIRFLOW__CELERY__BROKER_URL": SecretName.BROKER_URL},
    REDIS.name: {"REDIS_PASSWORD": SecretName.REDIS_PASSWORD},
}  # fmt: skip
"""Exactly the secrets each role reads, and nothing else: the AWS renderer injects these and lets each role's
execution role read only their ARNs; local mode and compose fill in the same set."""


def secrets_of(role_name: str) -> dict[str, SecretName]:
    """The secrets role `role_name` reads, keyed by the environment variable that carries each."""
    return dict(ROLE_SECRETS.get(role_name, {}))


def reads_metadata_db(role_name: str) -> bool:
    """Whether the role opens Airflow's metadata database (and so waits for its schema), not only Celery's tables."""
    return DATABASE_URL_VAR in ROLE_SECRETS.get(role_name, {})


def role_environment(
    role_name: str, settings: EnvSettings, instance: int | None = None, queue: str | None = None
) -> RoleEnvironment:
    """The environment of role `role_name`: plain variables and secret references.

    `instance` numbers the Celery workers and schedulers of one host (local mode): each worker gets its own node
    name, each scheduler its own health port. `queue` names a worker's queue (cluster/queues.py): an extra queue's
    workers consume it alone, with its own slots.
    """
    kind = role(role_name).kind
    plain = _airflow_common(settings) if kind in (Kind.AIRFLOW, Kind.JOB) else {}
    plain.update(_role_specific(role_name, settings, instance, queue))
    if settings.statsd_port is not None and role_name in EMITTING_ROLES:
        plain.update(statsd_environment(settings.statsd_port))
    return RoleEnvironment(plain=plain, secrets=secrets_of(role_name))


def secret_names_used() -> set[SecretName]:
    """Every secret that some role reads: the set a renderer must store."""
    from airflow_celery.cluster.roles import ROLES

    return {name for r in ROLES for name in secrets_of(r.name).values()}
